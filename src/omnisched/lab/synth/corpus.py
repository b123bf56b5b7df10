"""Renders the embedded corpus: scripts → eSpeak NG → 16 kHz FLAC, manifests, synth.json, card.

Each utterance is rendered, written and forgotten, its manifest rows appended to the split's
manifest as it comes; the card is then made in one pass over the manifests read back from disk,
so peak memory grows neither with the audio nor with the number of rows.

eSpeak NG carries state from one utterance to the next (glottal phase, pitch flutter, filter
memories, a time-seeded random generator) that no API resets. So scripts are rendered in fixed
blocks (consecutive indices of one task and split), each block by a forked copy of a worker
that has initialized eSpeak NG and never spoken, with the random generator seeded from every
script's coordinates: the audio depends on the corpus seed and size alone, never on the number
of workers or the order in which blocks finish (POSIX only, for ``os.fork``).
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import pickle
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import espeakng_loader
import numpy as np
from tqdm import tqdm

from omnisched.data.audio import SAMPLE_RATE, resample, to_float, write_audio
from omnisched.data.card import SYNTH_PARAMS, corpus_card
from omnisched.data.example import Example
from omnisched.data.manifest import SPLITS, example_line, iter_examples, manifest_path
from omnisched.errors import ConfigError, OmnischedError
from omnisched.lab.settings import CorpusSettings
from omnisched.lab.synth.espeak import Prosody, speaker
from omnisched.lab.synth.lexicon import CALIBRATION_SENTENCES
from omnisched.lab.synth.scripts import Script, corpus_scripts, split_sizes, task_count
from omnisched.lab.synth.speakers import BASE_VOLUME, SpeakerProfile
from omnisched.seeding import derive_rng
from omnisched.tasks import TASKS

R = TypeVar("R")

TARGET_RMS = 0.04  # level of a neutral utterance at 0 dB speaker level, full scale = 1
CARD_NAME = "CORPUS.md"
BLOCK_SIZE = 32  # scripts spoken in turn by one forked process; the audio depends on it


@cache
def _espeak_library() -> ctypes.CDLL:
    """The eSpeak NG library the speaker has loaded (same handle), for what ``espeak.py`` does
    not expose: seeding its random generator."""
    library = ctypes.CDLL(espeakng_loader.get_library_path())
    library.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    return library


def _speak(text: str, voice: str, prosody: Prosody, ssml: bool, seed: int) -> np.ndarray:
    """Float32 samples at 16 kHz of ``text``, with eSpeak NG's random generator at ``seed``."""
    engine = speaker()
    _espeak_library().espeak_ng_SetRandSeed(seed)
    samples = engine.synthesize(text, voice, prosody, ssml=ssml)
    return resample(to_float(samples), engine.sample_rate)


def _isolated(function: Callable[..., R], *args: Any) -> R:
    """``function(*args)`` run in a forked child of this process, so that the child's eSpeak NG
    state, whatever it speaks, never leaks into the next call; its result comes back pickled."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_fd)
            try:
                payload, status = (True, function(*args)), 0
            except Exception as error:
                payload = (False, f"{type(error).__name__}: {error}")
            with os.fdopen(write_fd, "wb") as pipe:
                pickle.dump(payload, pipe)
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data) if data else (False, "the rendering process died")
    if not ok:
        raise OmnischedError(value)
    return value


def _start_worker() -> None:
    """Initializes eSpeak NG once in a pool worker; its forked children inherit it unspoken."""
    speaker()


def _calibration_rms(voice: str, language: str) -> float:
    samples = _speak(CALIBRATION_SENTENCES[language], voice, Prosody(volume=BASE_VOLUME), False, 0)
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@cache
def _voice_rms(voice: str, language: str) -> float:
    """RMS of the calibration sentence spoken by ``voice`` at the base volume (cached per
    process)."""
    return _isolated(_calibration_rms, voice, language)


def speaker_gain(profile: SpeakerProfile) -> float:
    """Linear gain that brings the voice's neutral level to ``TARGET_RMS``, moved by the speaker's
    recording level; eSpeak NG variants differ by up to 12 dB, which would swamp the volume
    cues of emotion."""
    level = 10 ** (profile.level_db / 20)
    return TARGET_RMS * level / _voice_rms(profile.voice, profile.language)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` plus white Gaussian noise at ``snr_db`` relative to its mean power."""
    power = float(np.mean(audio.astype(np.float64) ** 2))
    scale = np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + scale * rng.standard_normal(audio.size)).astype(np.float32)


def _write_utterance(script: Script, out: Path, noise_snr_db: float | None, gain: float) -> int:
    """Speaks ``script`` at ``gain``, adds noise, writes the FLAC; returns its sample count."""

    def stream(name: str) -> np.random.Generator:
        return derive_rng(script.seed, script.task, script.split, script.index, name)

    spoken = script.markup if script.markup is not None else script.text
    seed = int(stream("espeak").integers(2**31))
    audio = _speak(spoken, script.speaker.voice, script.prosody, script.markup is not None, seed)
    audio = audio * np.float32(gain)
    if noise_snr_db is not None:
        audio = add_noise(audio, noise_snr_db, stream("noise"))
    write_audio(out / script.audio_path, audio)
    return int(audio.size)


def _write_block(
    scripts: list[Script], out: Path, noise_snr_db: float | None, gains: list[float]
) -> list[int]:
    return [
        _write_utterance(script, out, noise_snr_db, gain)
        for script, gain in zip(scripts, gains, strict=True)
    ]


def render_block(scripts: list[Script], out: Path, noise_snr_db: float | None = None) -> list[int]:
    """Speaks ``scripts`` in order and writes each as 16 kHz mono FLAC at
    ``out/script.audio_path``; returns their sample counts. Byte-identical for the same block,
    in any process that has not spoken."""
    gains = [speaker_gain(script.speaker) for script in scripts]
    return _isolated(_write_block, scripts, out, noise_snr_db, gains)


def _blocks(scripts: Iterator[Script]) -> Iterator[list[Script]]:
    """Consecutive scripts of one (split, task), ``BLOCK_SIZE`` at most; the same blocks for the
    same corpus whatever renders them."""
    block: list[Script] = []
    for script in scripts:
        same_pool = block and (block[0].split, block[0].task) == (script.split, script.task)
        if block and (len(block) == BLOCK_SIZE or not same_pool):
            yield block
            block = []
        block.append(script)
    if block:
        yield block


def _rendered(
    scripts: Iterator[Script], render: Callable[[list[Script]], list[int]], workers: int
) -> Iterator[tuple[Script, int]]:
    """(script, sample count) in script order, blocks rendered by ``workers`` processes with a
    bounded number in flight."""
    context = multiprocessing.get_context("spawn")  # light workers, nothing inherited
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        pending: deque[tuple[list[Script], Future[list[int]]]] = deque()
        for block in _blocks(scripts):
            pending.append((block, pool.submit(render, block)))
            if len(pending) >= 4 * workers:
                done, counts = pending.popleft()
                yield from zip(done, counts.result(), strict=True)
        for done, counts in pending:
            yield from zip(done, counts.result(), strict=True)


def _rows(script: Script, n_samples: int) -> tuple[Example, Example]:
    """The speech row of a rendered script and its text twin."""
    text_id = f"{script.id}-text"
    speech = Example(
        id=script.id,
        task=script.task,
        modality="speech",
        language=script.language,
        audio=script.audio_path,
        duration_s=n_samples / SAMPLE_RATE,
        target=script.target,
        label=script.label,
        meta={
            "speaker": script.speaker.id,
            "voice": script.speaker.voice,
            "transcript": script.text,
            "twin": text_id,
            "prosody": dict(vars(script.prosody)),
        },
    )
    text = Example(
        id=text_id,
        task=script.task,
        modality="text",
        language=script.language,
        input_text=script.text,
        target=script.target,
        label=script.label,
        meta={"twin": script.id},
    )
    return speech, text


def _prepare(out: Path) -> None:
    """Empties what a previous synthesis left in ``out``; refuses a non-empty directory that is
    not a synthesized corpus, so nothing of the user's is overwritten."""
    if not out.exists():
        out.mkdir(parents=True)
        return
    if not (out / SYNTH_PARAMS).is_file():
        if any(out.iterdir()):
            raise ConfigError(
                f"{out} is not empty and holds no {SYNTH_PARAMS}; synthesize into a new or "
                "empty directory"
            )
        return
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    (out / CARD_NAME).unlink(missing_ok=True)


def synthesize_corpus(
    out: Path,
    size: int,
    seed: int,
    noise_snr_db: float | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> dict[str, int]:
    """Synthesizes the embedded corpus into ``out`` and returns its row count per split.

    ``size`` speech examples per task in train, ``max(size // 5, 10)`` in dev and test
    (classification tasks rounded up so labels balance exactly), each with a text twin. Audio
    lies at ``out/<split>/audio/<task>/<id>.flac``; manifests at ``out/<split>/manifest.jsonl``;
    the parameters in ``out/synth.json``; the corpus card in ``out/CORPUS.md``. The same
    ``seed`` gives byte-identical manifests and audio. ``workers`` processes render in parallel
    (default: up to 2).
    """
    if size < 1:
        raise ConfigError(f"size: must be at least 1, got {size}")
    if seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed}")
    if not hasattr(os, "fork"):
        raise OmnischedError("synthesizing the corpus needs os.fork (Linux or macOS)")
    workers = workers or min(2, os.cpu_count() or 1)
    out = Path(out)
    _prepare(out)
    sizes = split_sizes(size)
    counts = {split: {task: task_count(task, n) for task in TASKS} for split, n in sizes.items()}
    params = {"seed": seed, "size": size, "noise_snr_db": noise_snr_db, "speech_rows": counts}
    (out / SYNTH_PARAMS).write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    rows = dict.fromkeys(SPLITS, 0)
    render = partial(render_block, out=out, noise_snr_db=noise_snr_db)
    total = sum(n for split in counts.values() for n in split.values())
    with (
        ExitStack() as files,
        tqdm(total=total, desc="synthesizing", unit="utt", disable=not progress) as bar,
    ):
        manifests = {}
        for split in SPLITS:
            manifest_path(out, split).parent.mkdir(parents=True, exist_ok=True)
            manifests[split] = files.enter_context(
                manifest_path(out, split).open("w", encoding="utf-8")
            )
        for script, n_samples in _rendered(corpus_scripts(size, seed), render, workers):
            for row in _rows(script, n_samples):
                manifests[script.split].write(example_line(row))
                rows[script.split] += 1
            bar.update()
    streamed = {split: iter_examples(manifest_path(out, split)) for split in SPLITS}
    (out / CARD_NAME).write_text(corpus_card(out, streamed), encoding="utf-8")
    return rows


PRETRAIN_CORPUS = CorpusSettings(path=Path("runs/pretrain-corpus"), size=1600, seed=1)


def corpus_is_ready(corpus: Path, size: int, seed: int) -> bool:
    """Whether ``corpus`` holds a finished synthesis of this size and seed."""
    params = corpus / SYNTH_PARAMS
    if not (params.is_file() and (corpus / CARD_NAME).is_file()):
        return False
    saved = json.loads(params.read_text(encoding="utf-8"))
    return saved.get("size") == size and saved.get("seed") == seed


def ensure_corpus(settings: CorpusSettings, progress: bool = True) -> bool:
    """Synthesizes the corpus ``settings`` describe unless it is already there; True when it
    did."""
    if corpus_is_ready(settings.path, settings.size, settings.seed):
        return False
    synthesize_corpus(settings.path, settings.size, settings.seed, progress=progress)
    return True


def check_disjoint(corpus: CorpusSettings, pretrain_corpus: CorpusSettings) -> None:
    """Refuses a foundation pre-trained on the fine-tuning corpus itself.

    The foundation stands in for a model pre-trained elsewhere: fine-tuning rows it has already
    learned leave fine-tuning nothing to gain on ASR and make every schedule look harmful."""
    if Path(corpus.path).resolve() == Path(pretrain_corpus.path).resolve():
        raise ValueError(
            f"pretrain_corpus: path {pretrain_corpus.path} is the fine-tuning corpus; "
            "the foundation must be pre-trained on another corpus"
        )
    if corpus.seed == pretrain_corpus.seed:
        raise ValueError(
            f"pretrain_corpus: seed {pretrain_corpus.seed} is the fine-tuning corpus' seed, so "
            "it would hold the same rows; pick another seed"
        )
