"""lhotse cut manifests (``cuts.jsonl.gz``), read as plain JSON: lhotse is not needed.

A MonoCut with one supervision becomes one example: the supervision's text is the target,
the recording's source file the audio. A cut that covers part of its recording (``start``,
``duration``) is cut out into its own file; one channel of a multi-channel source is taken
as it is, not mixed with the others.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnisched.data.importers.base import (
    AudioRef,
    Draft,
    Importer,
    ImportOptions,
    RowProblem,
    quarantined,
    text_field,
)
from omnisched.data.manifest import QuarantinedRow

EPSILON = 1e-3  # seconds: lhotse rounds times to milliseconds


def _lines(src: Path) -> Iterator[str]:
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as lines:
        yield from lines


def _channel(cut: dict) -> int:
    channel = cut.get("channel", 0)
    if isinstance(channel, list):
        if len(channel) != 1:
            raise RowProblem("channel", f"channels {channel}: one channel per cut expected")
        channel = channel[0]
    if not isinstance(channel, int):
        raise RowProblem("channel", f"not a channel index: {channel!r}")
    return channel


def _span(cut: dict, supervision: dict) -> tuple[float, float]:
    """(start into the recording, duration) of the supervised part of the cut: the whole cut,
    or the part its supervision covers (lhotse supervision times are relative to the cut)."""
    start, duration = float(cut.get("start", 0.0)), float(cut["duration"])
    offset = float(supervision.get("start", 0.0))
    length = float(supervision.get("duration", duration - offset))
    if offset < -EPSILON or offset + length > duration + EPSILON or length <= 0:
        raise RowProblem(
            "supervisions",
            f"the supervision {offset:.3f}+{length:.3f} s lies outside the {duration:.3f} s cut",
        )
    if abs(offset) <= EPSILON and abs(length - duration) <= EPSILON:
        return start, duration
    return start + offset, length


def _audio(cut: dict, base: Path, span: tuple[float, float]) -> AudioRef:
    recording = cut.get("recording")
    if not isinstance(recording, dict):
        raise RowProblem("recording", "the cut has no recording (feature-only cuts are skipped)")
    transforms = recording.get("transforms") or []
    for transform in transforms:
        name = transform.get("name") if isinstance(transform, dict) else None
        if name != "Resample":  # every clip is resampled to 16 kHz anyway
            raise RowProblem(
                "recording",
                f"recording transform {name or transform!r:.40} is not applied (only Resample, "
                "which import does itself, is read)",
            )
    channel = _channel(cut)
    source = next(
        (s for s in recording.get("sources", []) if channel in s.get("channels", [])), None
    )
    if source is None:
        raise RowProblem("recording", f"no source holds channel {channel}")
    if source.get("type") != "file":
        raise RowProblem("recording", f"source type '{source.get('type')}': only files are read")
    path = Path(source["source"])
    channels = source["channels"]
    return AudioRef(
        path=path if path.is_absolute() else base / path,
        start=span[0],
        duration=span[1],
        channel=channels.index(channel) if len(channels) > 1 else None,
    )


def _draft(cut: Any, src: Path, line: int, raw: str, options: ImportOptions) -> Draft:
    if not isinstance(cut, dict):
        raise RowProblem("<json>", "a cut must be a JSON object")
    if cut.get("type", "MonoCut") != "MonoCut":
        raise RowProblem("type", f"{cut.get('type')}: only MonoCut is imported")
    supervisions = cut.get("supervisions") or []
    if len(supervisions) != 1:
        raise RowProblem(
            "supervisions",
            f"{len(supervisions)} supervisions; one per cut expected "
            "(cuts.trim_to_supervisions() first)",
        )
    supervision = supervisions[0]
    text = supervision.get("text")
    transcript = text.strip() if isinstance(text, str) and text.strip() else None
    label = None
    if options.task == "asr":
        target = text_field(supervision, "text")
    else:
        custom = supervision.get("custom") or {}
        label = custom.get(options.task, custom.get("label"))
        if not isinstance(label, str) or not label:
            raise RowProblem(
                "supervisions", f"no custom.{options.task} (or custom.label) in the supervision"
            )
        target = label
    meta = {key: supervision[key] for key in ("speaker", "gender") if supervision.get(key)}
    meta["cut"] = cut.get("id")
    span = _span(cut, supervision)
    if span != (float(cut.get("start", 0.0)), float(cut["duration"])):
        meta["supervision"] = (
            f"the supervision covers {span[1]:.3f} s of the {float(cut['duration']):.3f} s cut; "
            "only that part is imported"
        )
    return Draft(
        str(src),
        line,
        raw,
        str(cut.get("id") or f"{src.name}-{line}"),
        options.task,
        target,
        audio=_audio(cut, options.media_dir or src.parent, span),
        language=supervision.get("language") or None,
        label=label,
        transcript=transcript,
        meta=meta,
    )


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every cut of a lhotse cut manifest (JSON Lines, gzipped or not)."""
    for line, raw in enumerate(_lines(src), start=1):
        raw = raw.rstrip("\n")
        if not raw.strip():
            continue
        try:
            yield _draft(json.loads(raw), src, line, raw, options)
        except json.JSONDecodeError as error:
            yield quarantined(src, line, raw, "<json>", f"malformed JSON: {error.msg}")
        except (RowProblem, KeyError, TypeError, ValueError) as problem:
            field_name, reason = (
                (problem.field_name, problem.reason)
                if isinstance(problem, RowProblem)
                else ("<cut>", f"malformed cut ({type(problem).__name__}: {problem})")
            )
            yield quarantined(src, line, raw, field_name, reason)


IMPORTER = Importer(
    name="lhotse",
    read=read,
    tasks=("asr", "dialect", "emotion"),
    help="""\
lhotse: a lhotse cut manifest (cuts.jsonl.gz or .jsonl), parsed as JSON (lhotse itself is not
  needed). One MonoCut with one supervision per example (others quarantined: trim to
  supervisions first). Audio: the recording's file source (relative paths under --media-dir,
  default the manifest's folder); a cut covering part of its recording is cut out into its own
  FLAC (noted in meta.audio_note), one channel of a multi-channel file is taken alone; a
  supervision covering part of its cut is cut out alone (meta.supervision), one reaching
  outside the cut is quarantined. Resample transforms (CutSet.resample()) are read (import
  resamples anyway); other transforms are quarantined.
  task: asr (target: supervision text), or dialect / emotion (label: supervision
  custom.<task> or custom.label, through --label-map); language: supervision language (codes,
  ISO 639-2/3 codes or English names: eng, English → en), else --language; speaker →
  meta.speaker.""",
)
