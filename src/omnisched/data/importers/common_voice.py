"""Common Voice: a TSV of ``path`` and ``sentence`` next to a ``clips/`` folder.

SRC is a Common Voice language folder (``cv-corpus-*/ar``) or one of its TSV files. Clips are
MP3 in real releases; anything soundfile reads is accepted (MP3 needs libsndfile 1.1 or newer),
and every clip is converted to 16 kHz mono FLAC.
"""

from __future__ import annotations

import csv
import io
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

SPEAKER_FIELDS = ("gender", "age", "accents", "accent", "variant")


def _tsv(src: Path, options: ImportOptions) -> Path:
    if src.is_file():
        return src
    name = options.source_split or options.split
    tsv = src / (name if name.endswith(".tsv") else f"{name}.tsv")
    if not tsv.is_file():
        found = ", ".join(sorted(p.name for p in src.glob("*.tsv"))) or "none"
        raise ConfigError(f"{tsv} not found (TSVs in {src}: {found}); name one with --source-split")
    return tsv


def _draft(row: dict, tsv: Path, line: int, raw: str, clips: Path) -> Draft:
    clip = text_field(row, "path")
    sentence = text_field(row, "sentence")
    meta = {"speaker": row["client_id"]} if row.get("client_id") else {}
    meta.update({key: row[key] for key in SPEAKER_FIELDS if row.get(key)})
    return Draft(
        str(tsv),
        line,
        raw,
        Path(clip).stem,
        "asr",
        sentence,
        audio=AudioRef(path=clips / clip),
        language=row.get("locale") or None,
        transcript=sentence,
        meta=meta,
    )


MAX_JOINED_LINES = 8  # physical lines one record may span (newlines inside a sentence)


def _cells(text: str, width: int) -> list[str] | None:
    """The fields of one record: split at TABs, or read as CSV when quoted fields hold TABs or
    newlines; None when neither gives ``width`` fields."""
    cells = text.split("\t")
    if len(cells) == width:
        return cells
    if '"' in text:
        parsed = list(csv.reader(io.StringIO(text), delimiter="\t", strict=False))
        if len(parsed) == 1 and len(parsed[0]) == width:
            return parsed[0]
    return None


def _records(lines: Iterator[str], width: int) -> Iterator[tuple[int, str, list[str] | None]]:
    """(first line, raw text, fields or None) of every record after the header. A record whose
    sentence holds a newline spans several lines; a TAB inside a sentence is read when the
    field is quoted. A short line that the next one does not complete is a record of its own
    (quarantined), and the next line is read afresh."""
    pending: tuple[int, str, int] | None = None  # (first line, text, lines joined)
    for number, line in enumerate(lines, start=2):
        text = line.rstrip("\r\n")
        if pending is not None:
            joined = f"{pending[1]}\n{text}"
            cells = _cells(joined, width)
            if cells is not None:
                yield pending[0], joined, cells
                pending = None
                continue
            if len(joined.split("\t")) < width and pending[2] < MAX_JOINED_LINES:
                pending = (pending[0], joined, pending[2] + 1)
                continue
            yield pending[0], pending[1], None
            pending = None
        if not text.strip():
            continue
        cells = _cells(text, width)
        if cells is not None:
            yield number, text, cells
        elif len(text.split("\t")) < width:
            pending = (number, text, 1)
        else:
            yield number, text, None
    if pending is not None:
        yield pending[0], pending[1], None


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every row of the TSV; ``line`` is the line in the TSV (the header is line 1)."""
    tsv = _tsv(src, options)
    clips = options.media_dir or tsv.parent / "clips"
    with tsv.open(encoding="utf-8", newline="") as lines:
        header = next(lines, "").rstrip("\r\n").split("\t")
        if "path" not in header or "sentence" not in header:
            raise ConfigError(f"{tsv}: the header must name 'path' and 'sentence' ({header})")
        if "locale" not in header and options.language is None:
            raise ConfigError(
                f"{tsv}: no 'locale' column (Common Voice releases before 2022 have none) and no "
                "--language; pass --language"
            )
        for line, raw, cells in _records(lines, len(header)):
            if cells is None:
                yield quarantined(
                    tsv,
                    line,
                    raw,
                    "<row>",
                    f"{len(raw.split(chr(9)))} TAB-separated fields, the header has "
                    f"{len(header)} (a TAB inside a field must be quoted)",
                )
                continue
            row = dict(zip(header, cells, strict=True))
            try:
                yield _draft(row, tsv, line, raw, clips)
            except RowProblem as problem:
                yield quarantined(tsv, line, raw, problem.field_name, problem.reason)


IMPORTER = Importer(
    name="commonvoice",
    read=read,
    tasks=("asr",),
    help="""\
commonvoice: a Common Voice language folder (TSV --source-split, default <split>.tsv:
  train.tsv, dev.tsv, test.tsv, validated.tsv ...) or one TSV, clips in clips/ (or
  --media-dir). Columns path, sentence; client_id → meta.speaker; gender, age, accents
  (accent in older releases), variant → meta. A sentence holding a newline spans lines; a TAB
  inside a sentence is read when the field is quoted, else the row is quarantined. Clips: MP3
  in real releases; whatever soundfile reads (MP3 needs libsndfile >= 1.1), converted to
  16 kHz mono FLAC. task: asr (target: sentence); language: the locale column (newer
  releases), else --language (required then, checked before any row is read).""",
)
