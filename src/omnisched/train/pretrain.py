"""Pre-training of the tiny foundation: a corpus tokenizer, then ASR from scratch.

Two parts. The listener (audio tower and aligner) learns a character CTC on the aligner output
alone (``models.alignment``), which gets a from-scratch encoder hearing long before a decoder
would start to rely on it. Then the LLM learns ASR on the listener's output in length stages
(short utterances first, then longer, then all), each stage one run of the fine-tuning loop;
the listener stays frozen unless ``joint_last_stage``, which trains it in the last stage with
the CTC kept as an auxiliary loss.

This stands in for the pre-trained audio LM users fine-tune. Every train speech row, whatever
its task, serves as an ASR example of its transcript; the result is saved with
``save_pretrained`` (safetensors) and cached: the same corpus and settings reuse it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
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
    PretrainSettings,
    Recipe,
    TrainSettings,
)
from omnisched.data.dataset import ExampleDataset
from omnisched.data.example import Example
from omnisched.data.manifest import DataSettings, corpus_fingerprint, load_split
from omnisched.eval.evaluate import evaluate_examples
from omnisched.eval.metrics import wer_cer
from omnisched.eval.normalize import ArabicNormalizer
from omnisched.models.alignment import AlignerCTC
from omnisched.models.features import LogMel
from omnisched.models.loading import load_pretrained
from omnisched.models.tiny import build_tiny
from omnisched.models.tokenizer import train_tokenizer
from omnisched.schedule.plan import PhaseSpec, build_plan
from omnisched.schedule.recipes import PhasesSchedule, UniformSchedule
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.tasks import LANGUAGES, TASKS
from omnisched.train.loader import make_loader
from omnisched.train.loop import train

CARD = "foundation.json"


def as_asr(example: Example) -> Example:
    """The ASR view of a speech row: its transcript as the target."""
    transcript = example.meta.get("transcript") or example.target
    return example.model_copy(update={"task": "asr", "target": transcript, "label": None})


def _tokenizer_texts(examples: list[Example]) -> list[str]:
    texts = [task.prompt(lang) for task in TASKS.values() for lang in LANGUAGES]
    texts += [label for task in TASKS.values() for label in task.labels]
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
    # settings made foundations of test CER 0.087, 0.098 and 0.103 in three demo runs
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
    init = out / "init"
    model.save_pretrained(init)
    tokenizer.save_pretrained(init)

    continued = partial(_continued_ctc, tokenizer, alphabet, ctc.state_dict(), settings)
    stages = [(stage.max_seconds, stage.steps) for stage in settings.length_stages]
    weights = init
    for longest, steps in [*stages, (None, settings.steps)]:
        joint = longest is None and settings.joint_last_stage
        frozen = settings.freeze_listener and not joint
        recipe = _asr_recipe(corpus, weights, settings, steps, longest, frozen, data)
        run = out / ("run-all" if longest is None else f"run-at-most-{longest:g}s")
        auxiliary = None if frozen or settings.aligner_ctc_weight == 0 else continued
        weights = train(recipe, run, strict=strict, examples=speech, auxiliary=auxiliary)
    for file in weights.iterdir():
        shutil.copy2(file, out / file.name)

    card = {"key": key, "corpus": str(corpus), "settings": settings.model_dump(mode="json")}
    card["train_seconds"] = round(time.perf_counter() - started, 1)
    card["listener_test_cer"] = listener_cer
    card["asr_test"] = _asr_test_scores(out, test, corpus)
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    return card


def _asr_recipe(
    corpus: Path,
    weights: Path,
    settings: PretrainSettings,
    steps: int,
    longest: float | None,
    frozen_listener: bool,
    data: DataSettings,
) -> Recipe:
    """The recipe of one LLM stage: ASR on the speech of at most ``longest`` seconds (None:
    all), the LLM's full parameters, the listener trained too unless ``frozen_listener``.

    Each stage has its own warmup and cosine decay. One schedule over all stages, the
    optimizer carried over, was measured worse (test CER 0.276 against 0.136): the long clips
    arrived at a high learning rate and undid the alignment learned on short ones (loss 0.2 ->
    3.1 nats per token); a stage decayed to zero keeps more of it."""
    phase = PhaseSpec(name="asr", tasks=["asr"], composer="shuffle", max_duration_s=longest)
    return Recipe(
        name="pretrain",
        corpus=corpus,
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
        schedule=PhasesSchedule(
            strategy="phases",
            tasks=["asr"],
            modalities=["speech"],
            sort_window=settings.sort_window,
            plan=[phase],
        ),
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
    return wer_cer([e.target for e in test], hypotheses, ArabicNormalizer()).cer


def _asr_test_scores(foundation: Path, test: list[Example], corpus: Path) -> dict:
    """CER and WER of the foundation on the ``test`` rows (the test speakers' ASR rows)."""
    model, tokenizer = load_pretrained(foundation)
    return evaluate_examples(model, tokenizer, test, corpus, EvalSettings())["asr"]
