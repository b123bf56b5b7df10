"""Text normalization for scoring: OAAL's for Arabic, a plain one for other languages.

References and hypotheses are normalized the same way before any text metric, so that spelling
variants a listener cannot hear (diacritics, hamza seats, digit scripts, punctuation) are not
counted as errors. Each row is normalized as its language asks (:func:`normalizer_for`): ``oaal``
for Arabic, ``plain`` for any other language, unless its task names another (a task's
``normalizers``). Every normalizer has a name in :data:`NORMALIZERS`.

The Arabic normalizer follows the Open Universal Arabic ASR Leaderboard (OAAL): its steps are
those of ``normalize_arabic_text`` in the leaderboard's ``eval.py``
(github.com/Natural-Language-Processing-Elm/open_universal_arabic_asr_leaderboard, Wang et al.
2024, arXiv:2412.13788), in its order, with these additions so that it also suits dialectal
Arabic and Latin words within it:

* Unicode NFC first, so a decomposed hamza (ا + U+0654) is the same letter as a precomposed أ;
* punctuation is every Unicode ``P*`` character (Arabic ، ؛ ؟ « » included) plus the ASCII
  symbols OAAL removes (``string.punctuation``) and tatweel ـ (U+0640, a letter-stretching
  mark, category ``Lm``);
* diacritics are U+064B–U+0652 as in OAAL, plus U+0670 superscript (dagger) alef, which writes
  the long ā of e.g. هٰذا, spelled هذا in ordinary text;
* Persian digits ۰-۹ are mapped to 0-9 along with the Eastern Arabic ٠-٩;
* optional folding of ة→ه and ى→ي, the two most common spelling variants in dialectal text
  (off by default: OAAL keeps them apart);
* Latin is lowercased and runs of whitespace collapse to one space.

Each step is a small function of ``str -> str``; :func:`normalize_arabic` composes them and
:class:`ArabicNormalizer` carries the options and a ``name`` to state in every report. The plain
normalizer (:func:`normalize_plain`) keeps the steps that suit any script: NFC, punctuation,
lowercase, whitespace; on text without Arabic letters, digits or marks both give the same.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from omnisched.errors import ConfigError

if TYPE_CHECKING:
    from omnisched.config import EvalSettings
    from omnisched.tasks import Task

_DIACRITICS = {code: None for code in range(0x064B, 0x0653)} | {0x0670: None}
_HAMZA = str.maketrans({"آ": "ا", "أ": "ا", "إ": "ا", "ؤ": "و", "ئ": "ي", "ء": None})
_FOREIGN_LETTERS = str.maketrans({"پ": "ب", "ڤ": "ف"})
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_FOLD = str.maketrans({"ة": "ه", "ى": "ي"})
_TATWEEL = "\u0640"


class TextNormalizer(Protocol):
    """What the metrics accept: a text-to-text callable with a name for reports."""

    @property
    def name(self) -> str: ...

    def __call__(self, text: str) -> str: ...


def _is_punctuation(char: str) -> bool:
    return (
        char in string.punctuation or char == _TATWEEL or unicodedata.category(char).startswith("P")
    )


def remove_punctuation(text: str, replacement: str = "") -> str:
    """Replace punctuation and tatweel by ``replacement`` (deleted, as in OAAL, by default)."""
    return "".join(replacement if _is_punctuation(char) else char for char in text)


def remove_diacritics(text: str) -> str:
    """Drop the harakat, tanwin, shadda and sukun (U+064B–U+0652) and superscript alef U+0670."""
    return text.translate(_DIACRITICS)


def normalize_hamza(text: str) -> str:
    """Map آ أ إ to bare alef ا, ؤ to و, ئ to ي, and drop a standalone hamza ء."""
    return text.translate(_HAMZA)


def normalize_foreign_letters(text: str) -> str:
    """Map the Persian letters پ and ڤ, used for loanwords, to the Arabic ب and ف (as OAAL)."""
    return text.translate(_FOREIGN_LETTERS)


def to_western_digits(text: str) -> str:
    """Write Eastern Arabic (٠-٩) and Persian (۰-۹) digits as 0-9."""
    return text.translate(_DIGITS)


def fold_ha_ya(text: str) -> str:
    """Fold ta marbuta ة into ha ه and alef maqsura ى into ya ي."""
    return text.translate(_FOLD)


def collapse_whitespace(text: str) -> str:
    """Turn every run of whitespace into one space and strip both ends."""
    return " ".join(text.split())


def normalize_arabic(text: str, fold_ta_marbuta_alef_maqsura: bool = False) -> str:
    """Normalize ``text`` for scoring (see the module docstring for the steps and their source)."""
    text = unicodedata.normalize("NFC", text)
    text = remove_punctuation(text)
    text = remove_diacritics(text)
    text = normalize_foreign_letters(text)
    text = normalize_hamza(text)
    text = to_western_digits(text)
    if fold_ta_marbuta_alef_maqsura:
        text = fold_ha_ya(text)
    return collapse_whitespace(text.lower())


@dataclass(frozen=True)
class ArabicNormalizer:
    """:func:`normalize_arabic` with its options fixed, and a ``name`` that states them."""

    fold_ta_marbuta_alef_maqsura: bool = False

    @property
    def name(self) -> str:
        """``oaal``, or ``oaal+fold-ة/ى`` when ta marbuta and alef maqsura are folded."""
        return "oaal+fold-ة/ى" if self.fold_ta_marbuta_alef_maqsura else "oaal"

    def __call__(self, text: str) -> str:
        return normalize_arabic(text, self.fold_ta_marbuta_alef_maqsura)


def normalize_plain(text: str) -> str:
    """NFC, punctuation removed, lowercased, whitespace collapsed: for text of any script."""
    return collapse_whitespace(remove_punctuation(unicodedata.normalize("NFC", text)).lower())


@dataclass(frozen=True)
class PlainNormalizer:
    """:func:`normalize_plain`, named ``plain`` in reports."""

    name: str = "plain"

    def __call__(self, text: str) -> str:
        return normalize_plain(text)


# every normalizer a task may name, built from the evaluation settings (their options)
NORMALIZERS: dict[str, Callable[[EvalSettings], TextNormalizer]] = {
    "oaal": lambda settings: ArabicNormalizer(settings.fold_ta_marbuta_alef_maqsura),
    "plain": lambda settings: PlainNormalizer(),
}
# the normalizer of a language its task names none for; ``plain`` for languages not listed
BY_LANGUAGE: dict[str, str] = {"ar": "oaal"}


def normalizer_name(task: Task, language: str) -> str:
    """The name of the normalizer of ``task``'s rows in ``language``; ConfigError if unknown."""
    name = task.normalizers.get(language, BY_LANGUAGE.get(language, "plain"))
    if name not in NORMALIZERS:
        raise ConfigError(
            f"task '{task.name}': unknown normalizer '{name}' for language '{language}'; "
            f"known: {', '.join(NORMALIZERS)}"
        )
    return name


def normalizer_for(task: Task, language: str, settings: EvalSettings) -> TextNormalizer:
    """The normalizer of ``task``'s rows in ``language``, with the settings' options."""
    return NORMALIZERS[normalizer_name(task, language)](settings)
