"""Pre-training of the tiny foundation: text first, then speech aligned to it.

Four parts, each from scratch on the pre-training corpus:

1. a byte-level tokenizer of the corpus' text and every task's prompt;
2. the listener (audio tower and aligner) learns a character CTC on the aligner output alone
   (``models.alignment``), which gets a from-scratch encoder hearing long before a decoder
   would start to rely on it;
3. the LLM reads text: the generic tasks (``train.generic``: repeat, continue, first and last
   word, word count, reversed words) of every transcript, written, in its own language;
4. the LLM learns speech in length stages (short utterances first, then longer, then all),
   each stage one run of the fine-tuning loop: ASR, the generic tasks asked of the speech
   (answers from its transcript) and a replay of the text tasks. One generic task
   (``held_out``) never comes as speech: its score on speech over its score on text is the
   foundation's zero-shot text-to-speech transfer. The listener stays frozen unless
   ``joint_last_stage``, which trains it in the last stage with the CTC as an auxiliary loss.

None of the fine-tuning tasks (ssum, dialect, emotion, slu) is trained: every speech row,
whatever its task, serves by its transcript. The result stands in for the pre-trained audio LM
users fine-tune; it is saved with ``save_pretrained`` (safetensors), with a card of its
settings, corpus fingerprint, time and test scores, and cached: the same corpus and settings
reuse it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup, set_seed

from omnisched.config import (
    EvalSettings,
    FreezeSettings,
    ModelSettings,
    Recipe,
    TrainSettings,
)
from omnisched.data.card import SYNTH_PARAMS
from omnisched.data.dataset import ExampleDataset
from omnisched.data.example import Example
from omnisched.data.manifest import DataSettings, corpus_fingerprint, load_split
from omnisched.eval.evaluate import evaluate_examples
from omnisched.eval.scorers import score_task
from omnisched.lab.alignment import AlignerCTC
from omnisched.lab.generic import GENERIC_TASKS, TEXT_ONLY, speech_examples, text_examples
from omnisched.lab.settings import PretrainSettings
from omnisched.lab.tiny import build_tiny
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models.features import LogMel
from omnisched.models.loading import load_pretrained
from omnisched.schedule.mixture import Mixture
from omnisched.schedule.phases import PhaseSpec
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import PhasesSchedule, UniformSchedule
from omnisched.tasks import KNOWN_TASKS, LANGUAGES, get_task
from omnisched.train.loader import make_loader
from omnisched.train.loop import train

CARD = "foundation.json"


def as_asr(example: Example) -> Example:
    """The ASR view of a speech row: its transcript as the target."""
    transcript = example.meta.get("transcript") or example.target
    return example.model_copy(update={"task": "asr", "target": transcript, "label": None})


def _tokenizer_texts(examples: list[Example]) -> list[str]:
    texts = [task.prompt(lang) for task in KNOWN_TASKS.values() for lang in LANGUAGES]
    texts += [label for task in KNOWN_TASKS.values() for label in task.labels]
    for example in examples:
        texts.append(example.target)
        texts.append(example.input_text or example.meta.get("transcript", ""))
    return texts


def cache_key(corpus: Path, settings: PretrainSettings) -> str:
    """Identity of a foundation: the corpus content and the pre-training settings."""
    digest = hashlib.sha256(corpus_fingerprint(corpus).encode())
    digest.update(settings.model_dump_json().encode())
    return digest.hexdigest()[:16]


def cached_foundation(out: Path, key: str) -> dict | None:
    """The card of a foundation at ``out`` made with ``key``, if there is one."""
    card = Path(out) / CARD
    if card.is_file():
        data = json.loads(card.read_text(encoding="utf-8"))
        if data.get("key") == key and (Path(out) / "model.safetensors").is_file():
            return data
    return None


def pretrain(
    corpus: Path,
    out: Path,
    settings: PretrainSettings,
    strict: bool = False,
    force: bool = False,
    data: DataSettings | None = None,
) -> dict:
    """Trains (or reuses) the tiny foundation at ``out``; returns its card. ``data`` says how
    the corpus' manifests are read."""
    out = Path(out)
    data = data or DataSettings()
    key = cache_key(corpus, settings)
    if not force and (card := cached_foundation(out, key)) is not None:
        print(f"foundation at {out} is up to date (key {key}); reusing it")
        return card

    started = time.perf_counter()
    rows = load_split(
        corpus,
        "train",
        strict,
        quarantine=out / "quarantine.jsonl",
        settings=data,
        notes=out / "notes.jsonl",
    )
    speech = [as_asr(e) for e in rows if e.modality == "speech"]
    tokenizer = train_tokenizer(_tokenizer_texts(rows), settings.tokenizer_vocab)
    # the initial weights (thinker and CTC head) from the settings' seed: unseeded, the same
    # settings make foundations of noticeably different quality
    set_seed(settings.seed)
    model = build_tiny(tokenizer, settings.size)
    alphabet = {char for example in speech for char in example.target}
    ctc = AlignerCTC(model, tokenizer, alphabet, settings.aligner_ctc_weight)
    test = _asr_test_rows(corpus, strict, data)
    listener_cer = None
    if settings.listen_steps:
        listen_first(model, ctc, speech, corpus, settings)
        listener_cer = _listener_test_cer(model, ctc, test, corpus)
        print(f"listener: greedy CTC test CER {listener_cer:.3f}")
    weights = out / "init"
    model.save_pretrained(weights)
    tokenizer.save_pretrained(weights)

    text = text_examples(_sentences(speech))
    if settings.text_steps:
        recipe = _stage_recipe(
            corpus, weights, settings, settings.text_steps, None, True, data, out / "cache"
        )
        recipe = recipe.model_copy(
            update={
                "schedule": _text_schedule(),
                "train": recipe.train.model_copy(update={"batch_size": settings.text_batch_size}),
            }
        )
        weights = train(recipe, out / "run-text", strict=strict, examples=text)

    spoken = [task for task in GENERIC_TASKS if task not in TEXT_ONLY and task != settings.held_out]
    examples = [*speech, *speech_examples(speech, spoken), *text]
    continued = partial(_continued_ctc, tokenizer, alphabet, ctc.state_dict(), settings)
    stages = [(stage.max_seconds, stage.steps) for stage in settings.length_stages]
    for longest, steps in [*stages, (None, settings.steps)]:
        joint = longest is None and settings.joint_last_stage
        frozen = settings.freeze_listener and not joint
        recipe = _stage_recipe(
            corpus, weights, settings, steps, longest, frozen, data, out / "cache"
        )
        run = out / ("run-all" if longest is None else f"run-at-most-{longest:g}s")
        auxiliary = None if frozen or settings.aligner_ctc_weight == 0 else continued
        weights = train(recipe, run, strict=strict, examples=examples, auxiliary=auxiliary)
    for file in weights.iterdir():
        shutil.copy2(file, out / file.name)

    card = {
        "key": key,
        "command": " ".join(["omnisched", *sys.argv[1:]]),
        "corpus": str(corpus),
        "corpus_fingerprint": corpus_fingerprint(corpus),
        "corpus_synth": _synth_params(corpus),
        "settings": settings.model_dump(mode="json"),
        "train_seconds": round(time.perf_counter() - started, 1),
        "listener_test_cer": listener_cer,
        "asr_test": _asr_test_scores(out, test, corpus),
    }
    card |= _generic_test_scores(out, test, corpus, settings)
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    return card


def _synth_params(corpus: Path) -> dict | None:
    """The size and seed a synthesized corpus was made with (None for other corpora)."""
    params = Path(corpus) / SYNTH_PARAMS
    return json.loads(params.read_text(encoding="utf-8")) if params.is_file() else None


def _sentences(speech: list[Example]) -> list[tuple[str, str, str]]:
    """``(id, language, transcript)`` of every speech row, each transcript once."""
    seen: set[str] = set()
    sentences = []
    for example in speech:
        if example.target not in seen:
            seen.add(example.target)
            sentences.append((example.id, example.language, example.target))
    return sentences


def _text_schedule() -> PhasesSchedule:
    """The text stage: the generic tasks as text, every task equally often."""
    mixture = Mixture(kind="balanced", group_by=["task"])
    phase = PhaseSpec(name="text", tasks=list(GENERIC_TASKS), modalities=["text"], mixture=mixture)
    return PhasesSchedule(
        strategy="phases", tasks=list(GENERIC_TASKS), modalities=["text"], plan=[phase]
    )


def _speech_schedule(settings: PretrainSettings, longest: float | None) -> PhasesSchedule:
    """A speech stage: ASR, the generic tasks asked of speech but the held-out one, and the
    generic tasks as text, in the settings' shares (each task's share split evenly)."""
    spoken = [t for t in GENERIC_TASKS if t not in TEXT_ONLY and t != settings.held_out]
    replay = settings.text_replay
    weights = {"asr/speech": 1 - settings.generic_speech_share - replay}
    weights |= {f"{t}/speech": settings.generic_speech_share / len(spoken) for t in spoken}
    weights |= {f"{t}/text": replay / len(GENERIC_TASKS) for t in GENERIC_TASKS}
    weights = {name: weight for name, weight in weights.items() if weight > 0}
    tasks = sorted({name.split("/")[0] for name in weights})
    modalities = sorted({name.split("/")[1] for name in weights})
    mixture = Mixture(kind="explicit", group_by=["task", "modality"], weights=weights)
    phase = PhaseSpec(
        name="speech",
        tasks=tasks,
        modalities=modalities,
        mixture=mixture,
        max_duration_s=longest,
        sort_window=settings.sort_window,
    )
    return PhasesSchedule(strategy="phases", tasks=tasks, modalities=modalities, plan=[phase])


def _stage_recipe(
    corpus: Path,
    weights: Path,
    settings: PretrainSettings,
    steps: int,
    longest: float | None,
    frozen_listener: bool,
    data: DataSettings,
    cache: Path,
) -> Recipe:
    """The recipe of one LLM speech stage: speech of at most ``longest`` seconds (None: all),
    the LLM's full parameters, the listener trained too unless ``frozen_listener``.

    Each stage has its own warmup and cosine decay: under one schedule over all stages, the
    optimizer carried over, the long clips arrive at a high learning rate and undo the
    alignment learned on short ones (results/foundation.md); a stage decayed to zero keeps
    more of it."""
    return Recipe(
        name="pretrain",
        corpus=corpus,
        cache=cache,
        data=data,
        model=ModelSettings(
            path=weights,
            lora=None,
            freeze=FreezeSettings(
                audio_encoder=frozen_listener,
                aligner=frozen_listener,
                llm=False,
            ),
        ),
        schedule=_speech_schedule(settings, longest),
        train=TrainSettings(
            steps=steps,
            batch_size=settings.batch_size,
            lr=settings.lr,
            warmup_steps=min(settings.warmup_steps, steps // 2),
            max_grad_norm=settings.max_grad_norm,
            weight_decay=0.01,
            checkpoint_every=max(steps // 4, 1),
            seed=settings.seed,
        ),
        eval=EvalSettings(),
    )


def _continued_ctc(tokenizer, alphabet, state: dict, settings: PretrainSettings, model):
    """The CTC of the listening stage, re-attached to the thinker the loop has loaded."""
    ctc = AlignerCTC(model, tokenizer, alphabet, settings.aligner_ctc_weight)
    ctc.load_state_dict(state)
    return ctc


def listen_first(
    model: torch.nn.Module,
    ctc: AlignerCTC,
    speech: list[Example],
    corpus: Path,
    settings: PretrainSettings,
) -> None:
    """Encoder-only stage: the audio tower and aligner learn the character CTC alone.

    Without the LLM a step costs about half, and the CTC leaves its all-blank plateau before
    the decoder starts to rely on the audio."""
    tower = model.model.audio_tower
    features = LogMel()
    parameters = [*tower.parameters(), *ctc.head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=settings.listen_lr, weight_decay=0.01)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, settings.warmup_steps, settings.listen_steps
    )
    tasks = sorted({example.task for example in speech})
    schedule = UniformSchedule(strategy="uniform", tasks=tasks, sort_window=settings.sort_window)
    plan = build_plan(
        schedule.phases(), speech, settings.listen_batch_size, settings.listen_steps, settings.seed
    )
    loader = make_loader(speech, corpus, ScheduledBatchSampler(plan, settings.seed), list)
    ctc.weight, weight = 1.0, ctc.weight
    model.train()
    # a bar of its own, not one wrapping the loader: tqdm.auto opens an iterator of the
    # iterable it wraps, whose workers draw batches from the stateful sampler and lose them
    progress = tqdm(total=settings.listen_steps, desc="pretrain: listen (encoder CTC)")
    for items in loader:
        mel, mask = features([item.waveform for item in items])
        hidden = model.get_audio_features(mel, mask).last_hidden_state
        loss = ctc.loss(hidden, mask.sum(-1), [item.example.target for item in items])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        progress.update()
        progress.set_postfix(ctc=f"{loss.item():.3f}")
    progress.close()
    ctc.weight = weight


def _asr_test_rows(corpus: Path, strict: bool, data: DataSettings) -> list[Example]:
    """The speech rows of the ``asr`` task in the test split (held-out speakers)."""
    rows = load_split(corpus, "test", strict, settings=data)
    return [e for e in rows if e.task == "asr" and e.modality == "speech"]


@torch.no_grad()
def _listener_test_cer(
    model: torch.nn.Module, ctc: AlignerCTC, test: list[Example], corpus: Path
) -> float:
    """CER of the listener's own greedy CTC transcripts on the ``test`` rows: what the audio
    tower hears before any decoder reads it."""
    features, dataset, hypotheses = LogMel(), ExampleDataset(test, corpus), []
    model.eval()
    for start in range(0, len(test), 32):
        waveforms = [dataset[i].waveform for i in range(start, min(start + 32, len(test)))]
        mel, mask = features(waveforms)
        hidden = model.get_audio_features(mel, mask).last_hidden_state
        hypotheses += ctc.greedy(hidden, mask.sum(-1))
    model.train()
    return score_task(get_task("asr"), test, hypotheses, EvalSettings())["cer"]


def _asr_test_scores(foundation: Path, test: list[Example], corpus: Path) -> dict:
    """CER and WER of the foundation on the ``test`` rows (the test speakers' ASR rows)."""
    model, tokenizer = load_pretrained(foundation)
    return evaluate_examples(model, tokenizer, test, corpus, EvalSettings())["asr"]


def _generic_test_scores(
    foundation: Path, test: list[Example], corpus: Path, settings: PretrainSettings
) -> dict:
    """Exact-match accuracy of every generic task on the first test transcripts, written and
    spoken, and the held-out task's transfer ratio (speech over text)."""
    rows = test[: settings.generic_test_rows]
    spoken = [task for task in GENERIC_TASKS if task not in TEXT_ONLY]
    model, tokenizer = load_pretrained(foundation)
    scores: dict[str, dict[str, float]] = {}
    for modality, examples in (
        ("text", text_examples(_sentences(rows), spoken)),
        ("speech", speech_examples(rows, spoken)),
    ):
        for task, result in evaluate_examples(
            model, tokenizer, examples, corpus, EvalSettings()
        ).items():
            scores.setdefault(task, {})[modality] = round(result["accuracy"], 4)
    held = scores[settings.held_out]
    ratio = held["speech"] / held["text"] if held["text"] else None
    return {"generic_test": scores, "held_out": settings.held_out, "transfer_ratio": ratio}
