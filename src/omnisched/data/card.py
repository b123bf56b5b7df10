"""Corpus card: what a corpus holds, as markdown — for the embedded corpus and any user corpus.

The card reads the rows it is given and, when present, the ``synth.json`` parameters the
synthesizer leaves next to the manifests; rows without speaker meta or a corpus without
``synth.json`` are described with what is known, never refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass
class _SplitStats:
    """What the card shows of one split, gathered in one pass over its rows."""

    rows: int = 0
    speech: int = 0
    seconds: float = 0.0
    speakers: set[str] = field(default_factory=set)
    voices: set[str] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)  # (task, label, modality, language)
    asr_targets: list[str] = field(default_factory=list)  # train and test only


@dataclass
class _Stats:
    splits: dict[str, _SplitStats] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)  # speech rows, by task


def _collect(examples: Mapping[str, Iterable[Example]]) -> _Stats:
    """One pass over every split's rows (each iterable is read once, so rows can stream from
    disk)."""
    stats = _Stats()
    for split, rows in examples.items():
        split_stats = stats.splits.setdefault(split, _SplitStats())
        for row in rows:
            split_stats.rows += 1
            split_stats.counts[(row.task, row.label, row.modality, row.language)] += 1
            if row.task == "asr" and split in ("train", "test"):
                split_stats.asr_targets.append(" ".join(row.target.split()))
            if row.modality != "speech":
                continue
            split_stats.speech += 1
            split_stats.seconds += row.duration_s or 0.0
            stats.durations.setdefault(row.task, []).append(row.duration_s or 0.0)
            if "speaker" in row.meta:
                split_stats.speakers.add(str(row.meta["speaker"]))
            if "voice" in row.meta:
                split_stats.voices.add(str(row.meta["voice"]))
    return stats


def _overview(stats: _Stats) -> list[str]:
    rows = [
        (
            split,
            s.rows,
            s.speech,
            s.rows - s.speech,
            f"{s.seconds / 3600:.2f}",
            len(s.speakers) if s.speakers else "—",
            len(s.voices) if s.voices else "—",
        )
        for split, s in stats.splits.items()
    ]
    header = ("split", "rows", "speech", "text", "hours of audio", "speakers", "voices")
    return ["## Overview", "", *_table(header, rows)]


def _task_order(task: str) -> int:
    return list(TASKS).index(task) if task in TASKS else len(TASKS)


def _counts(stats: _Stats) -> list[str]:
    """Per split: rows per (task, label) × (modality, language)."""
    columns = sorted({key[2:] for s in stats.splits.values() for key in s.counts})
    lines = ["## Counts (task × label × modality/language)", ""]
    for split, s in stats.splits.items():
        keys = sorted(
            {key[:2] for key in s.counts},
            key=lambda key: (_task_order(key[0]), key[0], str(key[1])),
        )
        table = [
            (task, label or "—", *(s.counts[(task, label, *column)] for column in columns))
            for task, label in keys
        ]
        header = ("task", "label", *(f"{modality}/{language}" for modality, language in columns))
        lines += [f"### {split}", "", *_table(header, table)]
    return lines


def _durations(stats: _Stats) -> list[str]:
    """Per task: duration quantiles and the share of utterances in each length bin."""
    bins = [
        f"{low:g}–{high:g} s" if high != float("inf") else f"≥ {low:g} s"
        for low, high in pairwise(DURATION_BINS)
    ]
    table = []
    for task in sorted(stats.durations, key=lambda name: (_task_order(name), name)):
        seconds = np.array(stats.durations[task])
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


def _speakers(stats: _Stats) -> list[str]:
    """Per split: speakers, voices used, and speakers shared with train."""
    train = stats.splits["train"].speakers if "train" in stats.splits else set()
    lines = ["## Speakers and voices", ""]
    for split, s in stats.splits.items():
        if not s.speakers:
            lines += [f"- **{split}**: no speaker in the rows' meta", ""]
            continue
        shared = "" if split == "train" else f", {len(s.speakers & train)} also in train"
        voice_text = ", ".join(sorted(s.voices)) if s.voices else "unknown"
        lines += [f"- **{split}**: {len(s.speakers)} speakers{shared}; voices: {voice_text}"]
    return [*lines, ""]


def _asr_unseen(stats: _Stats) -> list[str]:
    """Share of ASR test sentences that never occur in train."""
    empty = _SplitStats()
    seen = set(stats.splits.get("train", empty).asr_targets)
    test = stats.splits.get("test", empty).asr_targets
    if not test:
        return ["## ASR test sentences unseen in train", "", "n/a (no ASR test rows)", ""]
    unseen = sum(sentence not in seen for sentence in test) / len(test)
    return ["## ASR test sentences unseen in train", "", f"{100 * unseen:.1f}%", ""]


def corpus_card(root: Path, examples: Mapping[str, Iterable[Example]]) -> str:
    """Markdown card of the corpus at ``root`` whose rows per split are ``examples``: source
    (seed and size when synthesized), counts per task × label × modality × language, hours,
    durations, speakers and voices, ASR test/train overlap and the corpus fingerprint. Each
    split's rows are read once, so they may stream from disk (``iter_examples``)."""
    root = Path(root)
    stats = _collect(examples)
    lines = [
        "# Corpus card",
        "",
        *_source(root),
        *_overview(stats),
        *_counts(stats),
        *_durations(stats),
        *_speakers(stats),
        *_asr_unseen(stats),
        "## Fingerprint",
        "",
        f"`{corpus_fingerprint(root)}` (SHA-256 over manifests and audio)",
        "",
    ]
    return "\n".join(lines)
