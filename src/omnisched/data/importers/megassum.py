"""Mega-SSum-style parquet: ``transcription``, ``summary`` and an audio column.

The audio column holds what a Hugging Face ``datasets`` Audio feature stores in parquet: a
struct ``{"bytes", "path"}``; the bytes are used when present, otherwise the path (relative
paths under ``--media-dir``, default the parquet file's folder). SRC is a parquet file or a
folder of them (read in sorted order); in a folder laid out as the Hub ships Mega-SSum
(``data/core-00000-of-00010.parquet`` ..., or ``core/0000.parquet``) one split is read: core,
duc2003, validation or test.
"""

from __future__ import annotations

import json
import re
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


# Mega-SSum's published splits, and the omnisched split each is read into by default
SPLIT_DEFAULTS = {"train": "core", "dev": "validation", "test": "test"}
_SHARD = re.compile(r"(?P<split>[A-Za-z0-9_]+)-\d+-of-\d+")


def _split_of(file: Path, src: Path) -> str | None:
    """The split a parquet file holds in a Hugging Face layout: ``data/<split>-00000-of-00002
    .parquet`` (the dataset repository) or ``<split>/0000.parquet`` (refs/convert/parquet)."""
    shard = _SHARD.fullmatch(file.stem)
    if shard:
        return shard["split"]
    if file.stem.isdigit() and file.parent != src:
        return file.parent.name
    return None


def _parquet_files(src: Path, options: ImportOptions) -> list[Path]:
    """The parquet files to read: SRC itself, or those of one split of a folder laid out as
    the Hub ships it (--source-split; default core / validation / test for train / dev /
    test), or every file of a folder without splits."""
    if not src.is_dir():
        return [src]
    files = sorted(src.rglob("*.parquet"))
    if not files:
        raise ConfigError(f"{src}: no *.parquet file")
    splits = {file: _split_of(file, src) for file in files}
    found = sorted({split for split in splits.values() if split is not None})
    if not found:
        if options.source_split is not None:
            raise ConfigError(
                f"{src}: --source-split {options.source_split}, but the parquet files are not "
                "named by split (<split>-00000-of-00001.parquet or <split>/0000.parquet)"
            )
        return files
    name = options.source_split or SPLIT_DEFAULTS.get(options.split, options.split)
    chosen = [file for file, split in splits.items() if split == name]
    if not chosen:
        raise ConfigError(
            f"{src}: no split '{name}' (splits: {', '.join(found)}); name one with --source-split"
        )
    return chosen


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

    files = _parquet_files(src, options)
    if options.language is None:
        for file in files:
            names = pq.ParquetFile(file).schema_arrow.names
            if not any(column in names for column in LANGUAGE_COLUMNS):
                raise ConfigError(
                    f"{file}: no {' or '.join(LANGUAGE_COLUMNS)} column and no --language; "
                    "pass --language"
                )
    for file in files:
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
megassum: Mega-SSum-style parquet (a file, or a folder of *.parquet: as the Hub ships it,
  data/<split>-00000-of-0000N.parquet, the split --source-split, default core for train,
  validation for dev, test for test; duc2003 by name) with columns
  transcription, summary, audio ({bytes, path} as a datasets Audio feature stores it; bytes
  first, else the path under --media-dir, default the file's folder), optional id, language.
  task: ssum (target: summary) or asr (target: transcription); language: the language or
  locale column, else --language; the transcription is kept in meta.transcript (the input of
  --text-twins).""",
)
