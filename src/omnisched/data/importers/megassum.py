"""Mega-SSum-style parquet: ``transcription``, ``summary`` and an audio column.

The audio column holds what a Hugging Face ``datasets`` Audio feature stores in parquet: a
struct ``{"bytes", "path"}``; the bytes are used when present, otherwise the path (relative
paths under ``--media-dir``, default the parquet file's folder). SRC is a parquet file or a
folder of them (read in sorted order).
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
    quarantined,
    text_field,
)
from omnisched.data.manifest import QuarantinedRow
from omnisched.errors import ConfigError

AUDIO_COLUMN = "audio"
LANGUAGE_COLUMNS = ("language", "locale")


def _parquet_files(src: Path) -> list[Path]:
    files = sorted(src.rglob("*.parquet")) if src.is_dir() else [src]
    if not files:
        raise ConfigError(f"{src}: no *.parquet file")
    return files


def _raw(row: dict) -> str:
    """The row as JSON for the quarantine, audio bytes replaced by their size."""
    shown = dict(row)
    audio = shown.get(AUDIO_COLUMN)
    if isinstance(audio, dict) and isinstance(audio.get("bytes"), bytes):
        shown[AUDIO_COLUMN] = {**audio, "bytes": f"<{len(audio['bytes'])} bytes>"}
    return json.dumps(shown, ensure_ascii=False, default=str)


def _audio(row: dict, base: Path) -> AudioRef:
    audio = row.get(AUDIO_COLUMN)
    if not isinstance(audio, dict):
        raise RowProblem(AUDIO_COLUMN, "a {bytes, path} struct is required")
    if audio.get("bytes"):
        return AudioRef(data=audio["bytes"])
    if audio.get("path"):
        return AudioRef(path=base / audio["path"])
    raise RowProblem(AUDIO_COLUMN, "neither bytes nor a path")


def _draft(row: dict, file: Path, line: int, options: ImportOptions) -> Draft:
    transcription = row.get("transcription")
    if options.task == "asr":
        target = text_field(row, "transcription")
    else:
        target = text_field(row, "summary")
    language = next((row[c] for c in LANGUAGE_COLUMNS if isinstance(row.get(c), str)), None)
    key = str(row["id"]) if row.get("id") is not None else f"{file.stem}-{line}"
    return Draft(
        str(file),
        line,
        _raw(row),
        key,
        options.task,
        target,
        audio=_audio(row, options.media_dir or file.parent),
        language=language,
        transcript=transcription.strip() if isinstance(transcription, str) else None,
    )


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every row of the parquet file(s) at ``src``; ``line`` is the row number."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("megassum needs pyarrow: pip install 'omnisched[formats]'") from None

    for file in _parquet_files(src):
        line = 0
        for batch in pq.ParquetFile(file).iter_batches(batch_size=64):
            for row in batch.to_pylist():
                line += 1
                try:
                    yield _draft(row, file, line, options)
                except RowProblem as problem:
                    yield quarantined(file, line, _raw(row), problem.field_name, problem.reason)


IMPORTER = Importer(
    name="megassum",
    read=read,
    tasks=("ssum", "asr"),
    help="""\
megassum: Mega-SSum-style parquet (a file, or a folder of *.parquet) with columns
  transcription, summary, audio ({bytes, path} as a datasets Audio feature stores it; bytes
  first, else the path under --media-dir, default the file's folder), optional id, language.
  task: ssum (target: summary) or asr (target: transcription); language: the language or
  locale column, else --language; the transcription is kept in meta.transcript (the input of
  --text-twins).""",
)
