"""Common Voice: a TSV of ``path`` and ``sentence`` next to a ``clips/`` folder.

SRC is a Common Voice language folder (``cv-corpus-*/ar``) or one of its TSV files. Clips are
MP3 in real releases; anything soundfile reads is accepted (MP3 needs libsndfile 1.1 or newer),
and every clip is converted to 16 kHz mono FLAC.
"""

from __future__ import annotations

import csv
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

SPEAKER_FIELDS = ("gender", "age", "accents", "variant")


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


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every row of the TSV; ``line`` is the line in the TSV (the header is line 1)."""
    tsv = _tsv(src, options)
    clips = options.media_dir or tsv.parent / "clips"
    with tsv.open(encoding="utf-8", newline="") as lines:
        rows = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None or "path" not in header or "sentence" not in header:
            raise ConfigError(f"{tsv}: the header must name 'path' and 'sentence' ({header})")
        for line, cells in enumerate(rows, start=2):
            raw = "\t".join(cells)
            if len(cells) != len(header):
                yield quarantined(
                    tsv, line, raw, "<row>", f"{len(cells)} fields, the header has {len(header)}"
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
  --media-dir). Columns path, sentence; client_id → meta.speaker; gender, age, accents,
  variant → meta. Clips: MP3 in real releases; whatever soundfile reads (MP3 needs libsndfile
  >= 1.1), converted to 16 kHz mono FLAC. task: asr (target: sentence); language: the locale
  column (newer releases), else --language.""",
)
