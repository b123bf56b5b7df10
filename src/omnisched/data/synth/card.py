"""Corpus card: what a corpus holds, as markdown — for the embedded corpus and any user corpus.

The card reads the rows it is given and, when present, the ``synth.json`` parameters the
synthesizer leaves next to the manifests; rows without speaker meta or a corpus without
``synth.json`` are described with what is known, never refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np

from omnisched.data.example import Example
from omnisched.data.manifest import corpus_fingerprint
from omnisched.tasks import TASKS

SYNTH_PARAMS = "synth.json"
DURATION_BINS: tuple[float, ...] = (0.0, 1.5, 3.0, 5.0, 7.0, 10.0, float("inf"))


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _synth_params(root: Path) -> dict | None:
    """The synthesis parameters in ``root/synth.json``; None when absent or unreadable."""
    try:
        params = json.loads((root / SYNTH_PARAMS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return params if isinstance(params, dict) else None


def _source(root: Path) -> list[str]:
    params = _synth_params(root)
    if params is None:
        return [f"No {SYNTH_PARAMS}: seed and size unknown (not synthesized by omnisched).", ""]
    noise = params.get("noise_snr_db")
    noise_text = "none" if noise is None else f"white noise at {noise} dB SNR"
    return [
        f"Synthesized by omnisched with eSpeak NG: seed **{params.get('seed')}**, size "
        f"**{params.get('size')}** (train speech examples per task), noise: {noise_text}.",
        "",
    ]


def _speech(rows: Iterable[Example]) -> list[Example]:
    return [row for row in rows if row.modality == "speech"]


def _hours(rows: Iterable[Example]) -> float:
    return sum(row.duration_s or 0.0 for row in _speech(rows)) / 3600


def _meta_values(rows: Iterable[Example], key: str) -> set[str]:
    return {str(row.meta[key]) for row in _speech(rows) if key in row.meta}


def _overview(examples: dict[str, list[Example]]) -> list[str]:
    rows = []
    for split, split_rows in examples.items():
        speech = _speech(split_rows)
        speakers = _meta_values(split_rows, "speaker")
        voices = _meta_values(split_rows, "voice")
        rows.append(
            (
                split,
                len(split_rows),
                len(speech),
                len(split_rows) - len(speech),
                f"{_hours(split_rows):.2f}",
                len(speakers) if speakers else "—",
                len(voices) if voices else "—",
            )
        )
    header = ("split", "rows", "speech", "text", "hours of audio", "speakers", "voices")
    return ["## Overview", "", *_table(header, rows)]


def _task_order(task: str) -> int:
    return list(TASKS).index(task) if task in TASKS else len(TASKS)


def _counts(examples: dict[str, list[Example]]) -> list[str]:
    """Per split: rows per (task, label) × (modality, language)."""
    columns = sorted({(row.modality, row.language) for rows in examples.values() for row in rows})
    lines = ["## Counts (task × label × modality/language)", ""]
    for split, rows in examples.items():
        counts = Counter((row.task, row.label, row.modality, row.language) for row in rows)
        keys = sorted(
            {(row.task, row.label) for row in rows},
            key=lambda key: (_task_order(key[0]), key[0], str(key[1])),
        )
        table = [
            (task, label or "—", *(counts[(task, label, *column)] for column in columns))
            for task, label in keys
        ]
        header = ("task", "label", *(f"{modality}/{language}" for modality, language in columns))
        lines += [f"### {split}", "", *_table(header, table)]
    return lines


def _durations(examples: dict[str, list[Example]]) -> list[str]:
    """Per task: duration quantiles and the share of utterances in each length bin."""
    by_task: dict[str, list[float]] = {}
    for rows in examples.values():
        for row in _speech(rows):
            by_task.setdefault(row.task, []).append(row.duration_s or 0.0)
    bins = [
        f"{low:g}–{high:g} s" if high != float("inf") else f"≥ {low:g} s"
        for low, high in pairwise(DURATION_BINS)
    ]
    table = []
    for task in sorted(by_task, key=lambda name: (_task_order(name), name)):
        seconds = np.array(by_task[task])
        quantiles = np.percentile(seconds, [0, 5, 50, 95, 100])
        shares = np.histogram(seconds, bins=DURATION_BINS)[0] / seconds.size
        table.append(
            (
                task,
                seconds.size,
                *(f"{q:.2f}" for q in quantiles),
                *(f"{100 * share:.0f}%" for share in shares),
            )
        )
    header = ("task", "n", "min s", "p5 s", "median s", "p95 s", "max s", *bins)
    return ["## Utterance durations (speech rows, all splits)", "", *_table(header, table)]


def _speakers(examples: dict[str, list[Example]]) -> list[str]:
    """Per split: speakers, voices used, and speakers shared with train."""
    train = _meta_values(examples.get("train", []), "speaker")
    lines = ["## Speakers and voices", ""]
    for split, rows in examples.items():
        speakers = _meta_values(rows, "speaker")
        voices = sorted(_meta_values(rows, "voice"))
        if not speakers:
            lines += [f"- **{split}**: no speaker in the rows' meta", ""]
            continue
        shared = "" if split == "train" else f", {len(speakers & train)} also in train"
        voice_text = ", ".join(voices) if voices else "unknown"
        lines += [f"- **{split}**: {len(speakers)} speakers{shared}; voices: {voice_text}"]
    return [*lines, ""]


def _asr_unseen(examples: dict[str, list[Example]]) -> list[str]:
    """Share of ASR test sentences that never occur in train."""
    seen = {" ".join(row.target.split()) for row in examples.get("train", []) if row.task == "asr"}
    test = [" ".join(row.target.split()) for row in examples.get("test", []) if row.task == "asr"]
    if not test:
        return ["## ASR test sentences unseen in train", "", "n/a (no ASR test rows)", ""]
    unseen = sum(sentence not in seen for sentence in test) / len(test)
    return ["## ASR test sentences unseen in train", "", f"{100 * unseen:.1f}%", ""]


def corpus_card(root: Path, examples: dict[str, list[Example]]) -> str:
    """Markdown card of the corpus at ``root`` whose rows per split are ``examples``: source
    (seed and size when synthesized), counts per task × label × modality × language, hours,
    durations, speakers and voices, ASR test/train overlap and the corpus fingerprint."""
    root = Path(root)
    lines = [
        "# Corpus card",
        "",
        *_source(root),
        *_overview(examples),
        *_counts(examples),
        *_durations(examples),
        *_speakers(examples),
        *_asr_unseen(examples),
        "## Fingerprint",
        "",
        f"`{corpus_fingerprint(root)}` (SHA-256 over manifests and audio)",
        "",
    ]
    return "\n".join(lines)
