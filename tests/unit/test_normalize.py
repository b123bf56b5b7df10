"""Arabic normalization: each rule on its own, then the composed normalizer and its name."""

from __future__ import annotations

import dataclasses

import pytest

from omnisched.eval.normalize import (
    ArabicNormalizer,
    collapse_whitespace,
    fold_ha_ya,
    normalize_arabic,
    normalize_foreign_letters,
    normalize_hamza,
    remove_diacritics,
    remove_punctuation,
    to_western_digits,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("مرحبا، كيف حالك؟", "مرحبا كيف حالك"),  # Arabic comma and question mark
        ("قال: «نعم»؛ ثم ذهب.", "قال نعم ثم ذهب"),  # guillemets, Arabic semicolon, Latin
        ("hello, world! (yes) - no_way", "hello world yes  noway"),  # ASCII P* and "_"
        ("price $5 + 3 = 8", "price 5  3  8"),  # ASCII symbols OAAL removes (S* in Unicode)
        ("جمـــيل", "جميل"),  # tatweel
        ("“quoted” — dash…", "quoted  dash"),  # typographic quotes, em dash, ellipsis
    ],
)
def test_remove_punctuation(text: str, expected: str) -> None:
    assert remove_punctuation(text) == expected


def test_remove_punctuation_can_replace_with_space() -> None:
    assert remove_punctuation("a,b", replacement=" ") == "a b"


def test_remove_diacritics_all_harakat_and_superscript_alef() -> None:
    # fathatan..sukun are U+064B..U+0652; U+0653 (maddah above) is outside the range and stays.
    marks = "".join(chr(code) for code in range(0x064B, 0x0653))
    assert remove_diacritics("ب" + marks + "ت") == "بت"
    assert remove_diacritics("مَدْرَسَةٌ") == "مدرسة"
    assert remove_diacritics("هٰذا") == "هذا"  # U+0670 superscript alef
    assert remove_diacritics("ب\u0653") == "ب\u0653"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("آمن", "امن"), ("أحمد", "احمد"), ("إسلام", "اسلام"), ("مؤمن", "مومن"), ("سائل", "سايل")],
)
def test_normalize_hamza_seats(text: str, expected: str) -> None:
    assert normalize_hamza(text) == expected


def test_normalize_hamza_drops_standalone_hamza() -> None:
    assert normalize_hamza("سماء") == "سما"
    assert normalize_hamza("شيء") == "شي"


def test_normalize_foreign_letters() -> None:
    assert normalize_foreign_letters("ڤيديو پاريس") == "فيديو باريس"


def test_to_western_digits_eastern_and_persian() -> None:
    assert to_western_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert to_western_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert to_western_digits("عام ٢٠٢٤") == "عام 2024"


def test_fold_ha_ya() -> None:
    assert fold_ha_ya("مدرسة على") == "مدرسه علي"


def test_collapse_whitespace() -> None:
    assert collapse_whitespace("  a \t b\n\nc  ") == "a b c"


def test_normalize_arabic_composes_every_rule() -> None:
    text = "  قَالَ أحمدُ: «سأذهبُ إلى المدرسةِ الساعة ٧»…  "
    assert normalize_arabic(text) == "قال احمد ساذهب الى المدرسة الساعة 7"


def test_normalize_arabic_composes_decomposed_hamza() -> None:
    # alef + combining hamza above (U+0654) is NFC-composed to أ, then mapped to ا.
    assert normalize_arabic("\u0627\u0654حمد") == "احمد"


def test_normalize_arabic_folding_is_optional() -> None:
    text = "المدرسة على"
    assert normalize_arabic(text) == "المدرسة على"
    assert normalize_arabic(text, fold_ta_marbuta_alef_maqsura=True) == "المدرسه علي"


def test_normalize_arabic_on_english() -> None:
    assert normalize_arabic("  Wake me up at SEVEN, please! ") == "wake me up at seven please"


def test_arabic_normalizer_options_and_names() -> None:
    plain, folding = ArabicNormalizer(), ArabicNormalizer(fold_ta_marbuta_alef_maqsura=True)
    assert plain("على المدرسة") == "على المدرسة"
    assert folding("على المدرسة") == "علي المدرسه"
    assert plain.name == "oaal"
    assert folding.name == "oaal+fold-ة/ى"
    assert plain.name != folding.name


def test_arabic_normalizer_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ArabicNormalizer().fold_ta_marbuta_alef_maqsura = True  # type: ignore[misc]


def test_normalize_arabic_is_idempotent() -> None:
    text = "قَالَ: «إنّ ٣ كُتُبٍ على الطاولةِ»"
    once = normalize_arabic(text, fold_ta_marbuta_alef_maqsura=True)
    assert normalize_arabic(once, fold_ta_marbuta_alef_maqsura=True) == once
