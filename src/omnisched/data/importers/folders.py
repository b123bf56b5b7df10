"""One folder per label: ``SRC/<label>/**/*.wav`` (dialect corpora like ADI-17, emotion corpora).

The folder name is the source label; ``--label-map`` maps it onto the task's label set (a
folder whose name is not in the set and not mapped is quarantined file by file, never renamed).
Every non-hidden file under a label folder is a row; files soundfile cannot read are
quarantined.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from omnisched.data.importers.base import AudioRef, Draft, Importer, ImportOptions
from omnisched.data.manifest import QuarantinedRow
from omnisched.errors import ConfigError


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """A draft per file under each label folder of ``src``, in sorted order."""
    if not src.is_dir():
        raise ConfigError(f"{src}: a folder with one sub-folder per label is required")
    labels = sorted(p for p in src.iterdir() if p.is_dir() and _visible(p, src))
    if not labels:
        raise ConfigError(f"{src}: no label sub-folders")
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
