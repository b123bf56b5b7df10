"""What every importer shares: the draft of a source row, the options, and small text helpers.

An importer reads one public format and yields a :class:`Draft` per source row (or a
``QuarantinedRow`` when the row cannot be read at all); :func:`omnisched.data.importers.run.
import_corpus` turns drafts into Examples, brings their audio into the corpus and writes the
manifest. Nothing downstream of the manifest ever sees a source format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnisched.data.manifest import QuarantinedRow


@dataclass(frozen=True)
class AudioRef:
    """Where a row's audio is: a file or encoded bytes, optionally one slice or one channel.

    ``start`` and ``duration`` are seconds into the source (``duration`` None: to its end);
    ``channel`` picks one channel of a multi-channel source (None: all channels, downmixed).
    """

    path: Path | None = None
    data: bytes | None = None
    start: float = 0.0
    duration: float | None = None
    channel: int | None = None

    @property
    def name(self) -> str:
        """How notes and errors name the source."""
        return str(self.path) if self.path is not None else "<embedded bytes>"


@dataclass
class Draft:
    """One source row as its importer reads it: before options, label mapping and audio.

    ``key`` becomes the example id; ``language`` may be a locale (``ar-SA``); ``label`` is the
    source's own label, mapped onto the task's label set later; ``transcript`` is what is said
    (kept in meta, and the input of a text twin).
    """

    file: str
    line: int
    raw: str
    key: str
    task: str
    target: str
    audio: AudioRef | None = None
    input_text: str | None = None
    language: str | None = None
    label: str | None = None
    transcript: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose: where rows go, and what the source does not say itself.

    ``task`` and ``language`` override what an importer reads; ``label_map`` maps source
    labels onto the task's label set; ``media_dir`` is where relative audio paths of the
    source lie; ``source_split`` names the part of the source to read (a Common Voice TSV, a
    split of a saved DatasetDict).
    """

    split: str = "train"
    task: str | None = None
    language: str | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    media_dir: Path | None = None
    source_split: str | None = None
    id_prefix: str = ""
    text_twins: bool = False
    link: bool = False
    append: bool = False
    strict: bool = False


Read = Callable[[Path, ImportOptions], Iterator["Draft | QuarantinedRow"]]


@dataclass(frozen=True)
class Importer:
    """One format: how to read it, which tasks it yields (the first is the default), and the
    layout and mapping ``omnisched import --help`` states.

    ``task_required``: there is no default, ``--task`` must name one; ``infers_task``: without
    ``--task`` each row's task is read from the row; ``language_in_source``: rows may carry
    their language, otherwise ``--language`` is required.
    """

    name: str
    read: Read
    tasks: tuple[str, ...]
    help: str
    task_required: bool = False
    infers_task: bool = False
    language_in_source: bool = True


class RowProblem(Exception):
    """A row cannot become an Example: ``field`` names what is wrong, ``reason`` why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field_name, self.reason = field_name, reason


def quarantined(file: str, line: int, raw: str, field_name: str, reason: str) -> QuarantinedRow:
    """A source row that could not be read, with where it is and why."""
    return QuarantinedRow(str(file), line, field_name, reason, raw)


_ANNOTATION = re.compile(r"\[\s*([^\[\]:]+?)\s*:\s*([^\[\]]*?)\s*\]")


def annotated_entities(annotation: str) -> list[tuple[str, str]]:
    """``(type, filler)`` of every ``[type : filler]`` span of a SLURP / MASSIVE annotated
    utterance, in the order they are said."""
    return [(kind, filler) for kind, filler in _ANNOTATION.findall(annotation)]


def language_of(locale: str) -> str:
    """The language code of a locale: ``ar-SA`` → ``ar``, ``en_US`` → ``en``, ``ar`` → ``ar``."""
    return re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()


def text_field(row: dict, name: str) -> str:
    """The non-empty string in ``row[name]``; RowProblem naming the field otherwise."""
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        found = "missing" if value is None else f"{type(value).__name__} {value!r:.40}"
        raise RowProblem(name, f"a non-empty string is required ({found})")
    return value.strip()
