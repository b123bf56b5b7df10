"""SLURP: ``dataset/slurp/*.jsonl`` rows with their recordings in ``slurp_real/``.

Each row is one utterance (``sentence``, ``scenario``, ``action``, ``sentence_annotation`` with
``[type : filler]`` spans, ``entities``) and lists its ``recordings`` (``{"file": ...}``, headset
and far-field); every recording becomes one example. Entities are read from the annotated
sentence, as SLURP's own evaluation and SpeechBrain's recipe do; rows without it fall back to
``entities`` with ``filler``, or with ``span`` indices into ``tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from omnisched.data.importers.base import (
    AudioRef,
    Draft,
    Importer,
    ImportOptions,
    RowProblem,
    annotated_entities,
    quarantined,
    text_field,
)
from omnisched.data.manifest import QuarantinedRow
from omnisched.errors import ConfigError
from omnisched.tasks import slu_target


def _recordings_dir(src: Path, options: ImportOptions) -> Path:
    if options.media_dir is not None:
        return options.media_dir
    folder = "slurp_synth" if "synth" in src.stem else "slurp_real"
    candidates = [src.parent / folder, src.parent / "audio" / folder]
    candidates += [parent / "audio" / folder for parent in src.parents[:3]]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"{src}: no {folder}/ folder of recordings found near it; pass --media-dir")


def _entity(entity: object, tokens: list) -> tuple[str, str]:
    if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
        raise RowProblem("entities", f"an entity must be an object with a type: {entity!r:.60}")
    if isinstance(entity.get("filler"), str):
        return entity["type"], entity["filler"]
    span = entity.get("span")
    try:
        return entity["type"], " ".join(tokens[index]["surface"] for index in span)
    except (TypeError, IndexError, KeyError):
        raise RowProblem("entities", f"no filler and no span into tokens: {entity!r:.60}") from None


def _entities(row: dict) -> list[tuple[str, str]]:
    annotation = row.get("sentence_annotation")
    if isinstance(annotation, str):
        return annotated_entities(annotation, "sentence_annotation")
    entities = row.get("entities")
    if not isinstance(entities, list):
        raise RowProblem("entities", "neither sentence_annotation nor an entities list")
    return [_entity(entity, row.get("tokens") or []) for entity in entities]


def _drafts(row: dict, src: Path, line: int, raw: str, recordings: Path, task: str):
    sentence = text_field(row, "sentence")
    if task == "asr":
        target = sentence
    else:
        target = slu_target(text_field(row, "scenario"), text_field(row, "action"), _entities(row))
    files = row.get("recordings")
    if not isinstance(files, list) or not files:
        raise RowProblem("recordings", "no recordings listed")
    key = str(row.get("slurp_id", line))
    drafts = []
    for recording in files:
        if not isinstance(recording, dict) or not isinstance(recording.get("file"), str):
            raise RowProblem("recordings", f"a recording must name its file: {recording!r:.60}")
        file = recording["file"]
        drafts.append(
            Draft(
                str(src),
                line,
                raw,
                f"slurp-{key}-{Path(file).stem}",
                task,
                target,
                audio=AudioRef(path=recordings / file),
                language="en",
                transcript=sentence,
                meta={"slurp_id": key, "intent": row.get("intent"), "recording": file},
            )
        )
    return drafts


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """One draft per recording of every row of a SLURP jsonl file."""
    recordings = _recordings_dir(src, options)
    with src.open(encoding="utf-8") as lines:
        for line, raw in enumerate(lines, start=1):
            raw = raw.rstrip("\n")
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                if not isinstance(row, dict):
                    raise RowProblem("<json>", "a row must be a JSON object")
                yield from _drafts(row, src, line, raw, recordings, options.task)
            except json.JSONDecodeError as error:
                yield quarantined(src, line, raw, "<json>", f"malformed JSON: {error.msg}")
            except RowProblem as problem:
                yield quarantined(src, line, raw, problem.field_name, problem.reason)


IMPORTER = Importer(
    name="slurp",
    read=read,
    tasks=("slu", "asr"),
    help="""\
slurp: a SLURP jsonl (dataset/slurp/train.jsonl, devel.jsonl, test.jsonl ...); one example per
  entry of "recordings" ({"file": ...}), found in slurp_real/ (slurp_synth/ for
  train_synthetic) next to the file or in audio/ above it, or --media-dir.
  task: slu (target: one-line JSON {"scenario", "action", "entities": [{"type", "filler"}]}
  from scenario, action and the [type : filler] spans of sentence_annotation) or asr (target:
  sentence); language: en (--language overrides); sentence → meta.transcript.""",
)
