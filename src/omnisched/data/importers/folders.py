"""One folder per label: ``SRC/<label>/**/*.wav`` (dialect corpora like ADI-17, emotion corpora).

The folder name is the source label; ``--label-map`` maps it onto the task's label set (a
folder whose name is not in the set and not mapped is quarantined file by file, never renamed).
Every non-hidden file under a label folder is a row; files soundfile cannot read are
quarantined. ADI-17's dev and test sets ship flat instead: ``dev_segments/<id>.wav`` and a
label file ``adi17_official_dev_label.txt`` of ``<id> <label>`` lines; SRC is then that file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from omnisched.data.importers.base import AudioRef, Draft, Importer, ImportOptions, quarantined
from omnisched.data.manifest import QuarantinedRow
from omnisched.errors import ConfigError


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _label_file_dir(labels: Path, options: ImportOptions) -> Path:
    """Where the segments of an ADI-17 label file lie: --media-dir, else ``<part>_segments``
    next to it (``adi17_official_dev_label.txt`` → ``dev_segments``), else the one
    ``*_segments`` folder there."""
    if options.media_dir is not None:
        return options.media_dir
    parts = [part for part in re.split(r"[_.\-]", labels.stem) if part]
    for part in parts:
        if (labels.parent / f"{part}_segments").is_dir():
            return labels.parent / f"{part}_segments"
    found = sorted(p for p in labels.parent.glob("*_segments") if p.is_dir())
    if len(found) == 1:
        return found[0]
    raise ConfigError(
        f"{labels}: no <part>_segments/ folder of audio next to it "
        f"({', '.join(p.name for p in found) or 'none'}); pass --media-dir"
    )


def _label_file(labels: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """A draft per line ``<utterance id> <label>`` of an ADI-17 dev / test label file; a
    segment without a line, or a line that is not two fields, is quarantined."""
    audio = _label_file_dir(labels, options)
    files = {p.stem: p for p in sorted(audio.iterdir()) if p.is_file() and _visible(p, audio)}
    listed: set[str] = set()
    with labels.open(encoding="utf-8") as lines:
        for line, raw in enumerate(lines, start=1):
            raw = raw.rstrip("\r\n")
            fields = raw.replace(",", " ").split()
            if not fields:
                continue
            if len(fields) != 2:
                yield quarantined(
                    labels, line, raw, "<row>", f"{len(fields)} fields: '<id> <label>' expected"
                )
                continue
            key, label = fields
            if line == 1 and key.lower() in {"id", "utt", "utterance", "segment"}:
                continue  # a header
            listed.add(key)
            yield Draft(
                str(labels),
                line,
                raw,
                key,
                options.task,
                label,
                audio=AudioRef(path=files.get(key, audio / f"{key}.wav")),
                label=label,
                meta={"segment": key},
            )
    for key, file in files.items():
        if key not in listed:
            yield quarantined(file, 0, str(file), "label", f"no line for '{key}' in {labels.name}")


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """A draft per file under each label folder of ``src``, in sorted order, or per line of an
    ADI-17-style label file (SRC, or the one ``*label*.txt`` in a folder without label
    folders)."""
    if src.is_file() and src.suffix == ".txt":
        yield from _label_file(src, options)
        return
    if not src.is_dir():
        raise ConfigError(
            f"{src}: a folder with one sub-folder per label, or a label file "
            "(<id> <label> per line), is required"
        )
    labels = sorted(
        p
        for p in src.iterdir()
        if p.is_dir() and _visible(p, src) and not p.name.endswith("_segments")
    )
    label_files = sorted(src.glob("*label*.txt"))
    if not labels and len(label_files) == 1:
        yield from _label_file(label_files[0], options)
        return
    if not labels:
        raise ConfigError(
            f"{src}: no label sub-folders (and {len(label_files)} *label*.txt files; pass the "
            "label file as SRC)"
        )
    for folder in labels:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p, src))
        for file in files:
            name = file.relative_to(folder).with_suffix("").as_posix().replace("/", "_")
            yield Draft(
                str(file),
                0,
                str(file.relative_to(src)),
                f"{folder.name}-{name}",
                options.task,
                folder.name,
                audio=AudioRef(path=file),
                label=folder.name,
            )


IMPORTER = Importer(
    name="folders",
    read=read,
    tasks=("dialect", "emotion"),
    task_required=True,
    language_in_source=False,
    help="""\
folders: one sub-folder per label, SRC/<label>/**/<file> (ADI-17-style dialect corpora,
  emotion corpora); every non-hidden file under a label folder is a row, any format soundfile
  reads, converted to 16 kHz mono FLAC when needed. task: --task dialect or emotion
  (required); label: the folder name through --label-map (e.g. EGY=egyptian,KSA=gulf), a
  label outside the task's set is quarantined; language: --language (required).""",
)
