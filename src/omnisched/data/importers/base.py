"""What every importer shares: the draft of a source row, the options, and small text helpers.

An importer reads one public format and yields a :class:`Draft` per source row (or a
``QuarantinedRow`` when the row cannot be read at all); :func:`omnisched.data.importers.run.
import_corpus` turns drafts into Examples, brings their audio into the corpus and writes the
manifest. Nothing downstream of the manifest ever sees a source format.
"""

from __future__ import annotations

import re
import unicodedata
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
    unvalidated: bool = False  # Speech-MASSIVE: also rows whose is_validated is false


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


_SPAN_HEAD = re.compile(r"\s*([^\[\]:]*?)\s*:")


def annotated_entities(annotation: str, field_name: str = "annotation") -> list[tuple[str, str]]:
    """``(type, filler)`` of every ``[type : filler]`` span of a SLURP / MASSIVE annotated
    utterance, in the order the spans open.

    A span nested in another (``[time : five am [date : on friday]]``) is an entity of its own,
    and its filler is part of the outer one (``five am on friday``). An unclosed ``[``, a stray
    ``]``, a span without ``type :`` or with an empty filler is a RowProblem naming
    ``field_name``: a malformed annotation is never read as fewer entities.
    """
    found: list[tuple[int, str, str]] = []
    stack: list[tuple[int, str, list[str]]] = []  # (order, type, filler pieces)
    text: list[str] = []  # pieces outside any span
    position, order = 0, 0
    while position < len(annotation):
        char = annotation[position]
        if char == "[":
            head = _SPAN_HEAD.match(annotation, position + 1)
            if head is None or not head.group(1):
                raise RowProblem(
                    field_name,
                    f"'[' at character {position + 1} opens no '[type : filler]' span: "
                    f"{annotation!r:.80}",
                )
            stack.append((order, head.group(1), []))
            order += 1
            position = head.end()
            continue
        if char == "]":
            if not stack:
                raise RowProblem(
                    field_name,
                    f"']' at character {position + 1} closes no span: {annotation!r:.80}",
                )
            index, kind, pieces = stack.pop()
            filler = " ".join("".join(pieces).split())
            if not filler:
                raise RowProblem(field_name, f"the '{kind}' span has no filler: {annotation!r:.80}")
            found.append((index, kind, filler))
            (stack[-1][2] if stack else text).append(filler)
        else:
            (stack[-1][2] if stack else text).append(char)
        position += 1
    if stack:
        raise RowProblem(
            field_name, f"the '{stack[-1][1]}' span is never closed (no ']'): {annotation!r:.80}"
        )
    return [(kind, filler) for _, kind, filler in sorted(found)]


# ISO 639-2/3 codes and English names of languages, as lhotse recipes and corpora write them,
# onto the two-letter code omnisched uses. A three-letter code without a two-letter one is kept.
LANGUAGE_NAMES: dict[str, str] = {
    "arabic": "ar",
    "ara": "ar",
    "arb": "ar",
    "ary": "ar",
    "arz": "ar",
    "apc": "ar",
    "afb": "ar",
    "english": "en",
    "eng": "en",
    "french": "fr",
    "fra": "fr",
    "fre": "fr",
    "german": "de",
    "deu": "de",
    "ger": "de",
    "spanish": "es",
    "spa": "es",
    "italian": "it",
    "ita": "it",
    "portuguese": "pt",
    "por": "pt",
    "dutch": "nl",
    "nld": "nl",
    "dut": "nl",
    "russian": "ru",
    "rus": "ru",
    "chinese": "zh",
    "mandarin": "zh",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "japanese": "ja",
    "jpn": "ja",
    "korean": "ko",
    "kor": "ko",
    "turkish": "tr",
    "tur": "tr",
    "persian": "fa",
    "farsi": "fa",
    "fas": "fa",
    "per": "fa",
    "hindi": "hi",
    "hin": "hi",
    "urdu": "ur",
    "urd": "ur",
    "hebrew": "he",
    "heb": "he",
    "polish": "pl",
    "pol": "pl",
    "swedish": "sv",
    "swe": "sv",
    "indonesian": "id",
    "ind": "id",
    "vietnamese": "vi",
    "vie": "vi",
    "thai": "th",
    "tha": "th",
    "greek": "el",
    "ell": "el",
    "gre": "el",
    "ukrainian": "uk",
    "ukr": "uk",
    "bengali": "bn",
    "ben": "bn",
    "swahili": "sw",
    "swa": "sw",
    "kurdish": "ku",
    "kur": "ku",
}
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def language_of(locale: str) -> str:
    """The language code of a locale, a three-letter code or an English language name:
    ``ar-SA`` → ``ar``, ``en_US`` → ``en``, ``eng`` → ``en``, ``Arabic`` → ``ar``; a value
    that is none of these is returned lower-cased as it is (the caller rejects it)."""
    value = locale.strip().lower()
    if value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    code = re.split(r"[-_]", value, maxsplit=1)[0]
    return LANGUAGE_NAMES.get(code, code) if _LANGUAGE_CODE.fullmatch(code) else value


# Invisible marks that change CER but not what is said: bidi marks and embeddings, the Arabic
# letter mark, zero-width space, BOM, and tatweel (kashida). ZWJ / ZWNJ are kept (they spell).
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff\u0640]")


def normalized_text(text: str) -> str:
    """``text`` in Unicode NFC, without invisible marks and tatweel, whitespace runs collapsed
    to one space (what import does to every target and transcript)."""
    return " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", text)).split())


def text_field(row: dict, name: str) -> str:
    """The non-empty string in ``row[name]``; RowProblem naming the field otherwise."""
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        found = "missing" if value is None else f"{type(value).__name__} {value!r:.40}"
        raise RowProblem(name, f"a non-empty string is required ({found})")
    return value.strip()
