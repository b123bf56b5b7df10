"""Metrics against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import json

import jiwer
import pytest
from rouge_score import rouge_scorer

from omnisched.eval.metrics import (
    UnicodeTokenizer,
    classification,
    parse_label,
    parse_slu,
    rouge,
    slu,
    wer_cer,
)
from omnisched.eval.normalize import ArabicNormalizer, normalize_arabic
from omnisched.tasks import get_task

OAAL = ArabicNormalizer()
FOLD = ArabicNormalizer(fold_ta_marbuta_alef_maqsura=True)
REF = "ذهب الولد إلى المدرسة"
HYP = "ذهب الولد الى مدرسة"
EMOTIONS = get_task("emotion").labels  # ("neutral", "happy", "sad", "angry")


# --- WER / CER -------------------------------------------------------------------------------


def test_wer_cer_arabic_pair() -> None:
    # Normalized: ref "ذهب الولد الى المدرسة" (إ -> ا), hyp "ذهب الولد الى مدرسة".
    # Words: المدرسة -> مدرسة is 1 substitution of 4 reference words: WER = 1/4.
    # Chars: ref = 3 + 1 + 5 + 1 + 3 + 1 + 7 = 21 (spaces counted); hyp drops the "ال" of
    # المدرسة: 2 deletions, so CER = 2/21.
    scores = wer_cer([REF], [HYP], OAAL)
    assert scores.wer == pytest.approx(1 / 4)
    assert scores.cer == pytest.approx(2 / 21)
    assert (scores.word_edits, scores.reference_words) == (1, 4)
    assert (scores.char_edits, scores.reference_chars) == (2, 21)
    assert scores.num_pairs == 1
    assert scores.normalizer == "oaal"


def test_wer_cer_is_corpus_level_not_a_mean_of_pairs() -> None:
    # Pair 1: 4 words, 7 chars ("a b c d"), no edits. Pair 2: "x y" -> "x z", 1 edit of 2 words
    # and 1 edit of 3 chars. Corpus WER = 1/6 (a mean of pairs would be 1/4); CER = 1/10.
    scores = wer_cer(["a b c d", "x y"], ["a b c d", "x z"], OAAL)
    assert scores.wer == pytest.approx(1 / 6)
    assert scores.cer == pytest.approx(1 / 10)


def test_wer_cer_matches_jiwer_on_normalized_text() -> None:
    refs = [REF, "قالت البنت شكرا جزيلا", "the cat sat on the mat"]
    hyps = [HYP, "قالت بنت شكرا جدا جزيلا", "a cat sat on mat"]
    scores = wer_cer(refs, hyps, OAAL)
    normalized_refs = [OAAL(text) for text in refs]
    normalized_hyps = [OAAL(text) for text in hyps]
    assert scores.wer == pytest.approx(jiwer.wer(normalized_refs, normalized_hyps))
    assert scores.cer == pytest.approx(jiwer.cer(normalized_refs, normalized_hyps))


def test_wer_cer_ignores_diacritics_and_punctuation() -> None:
    scores = wer_cer(["ذَهَبَ الوَلَدُ، إلى المدرسةِ."], [REF], OAAL)
    assert (scores.wer, scores.cer) == (0.0, 0.0)


def test_empty_hypothesis_counts_as_all_deletions() -> None:
    # Pair 1 hyp is empty: 4 word and 21 char deletions. Pair 2 is exact (1 word, 4 chars).
    # WER = 4 / (4 + 1) = 0.8; CER = 21 / (21 + 4) = 0.84.
    scores = wer_cer([REF, "شكرا"], ["", "شكرا"], OAAL)
    assert scores.wer == pytest.approx(0.8)
    assert scores.cer == pytest.approx(0.84)


def test_hypothesis_empty_after_normalization_counts_as_all_deletions() -> None:
    # "ذهب الولد" has 2 words and 3 + 1 + 5 = 9 chars; "؟!" normalizes to "".
    scores = wer_cer(["ذهب الولد"], ["؟!"], OAAL)
    assert (scores.wer, scores.cer) == (1.0, 1.0)


def test_reference_empty_after_normalization_adds_insertions() -> None:
    # Pair 1: ref "؟!" normalizes to "", hyp "x" is 1 inserted word / 1 inserted char.
    # Pair 2 is exact: 2 words, 3 chars ("a b"). WER = 1/2, CER = 1/3.
    scores = wer_cer(["؟!", "a b"], ["x", "a b"], OAAL)
    assert scores.wer == pytest.approx(1 / 2)
    assert scores.cer == pytest.approx(1 / 3)


def test_all_references_empty() -> None:
    assert wer_cer(["،"], [""], OAAL).wer == 0.0
    assert wer_cer(["،"], ["x"], OAAL).wer == 1.0


def test_folding_changes_wer_and_the_reported_normalizer() -> None:
    # على/علي and المدرسة/المدرسه differ unless ة and ى are folded: 2/2 words vs 0/2.
    plain = wer_cer(["على المدرسة"], ["علي المدرسه"], OAAL)
    folded = wer_cer(["على المدرسة"], ["علي المدرسه"], FOLD)
    assert plain.wer == 1.0
    assert folded.wer == 0.0
    assert plain.normalizer != folded.normalizer


@pytest.mark.parametrize("metric", [wer_cer, rouge])
def test_text_metrics_reject_misaligned_or_empty_lists(metric) -> None:
    with pytest.raises(ValueError, match="1 references and 2 hypotheses"):
        metric(["a"], ["a", "b"], OAAL)
    with pytest.raises(ValueError, match="nothing to score"):
        metric([], [], OAAL)


# --- ROUGE -----------------------------------------------------------------------------------


def test_unicode_tokenizer_splits_arabic_words() -> None:
    tokenizer = UnicodeTokenizer()
    assert tokenizer.tokenize("ذهب الولد، إلى-المدرسة") == ["ذهب", "الولد", "إلى", "المدرسة"]
    assert tokenizer.tokenize("مَدْرَسَةٌ") == ["مَدْرَسَةٌ"]  # combining marks stay in the word
    assert tokenizer.tokenize("Hello, World") == ["hello", "world"]


def test_rouge_arabic_pair_where_the_default_tokenizer_scores_zero() -> None:
    # Tokens: ref [ذهب, الولد, الى, المدرسة], hyp [ذهب, الولد, الى, مدرسة].
    # ROUGE-1: 3 shared unigrams, P = R = 3/4, F = 0.75.
    # ROUGE-2: ref bigrams (ذهب الولد)(الولد الى)(الى المدرسة), hyp (ذهب الولد)(الولد الى)
    # (الى مدرسة): 2 shared of 3, F = 2/3. ROUGE-L: LCS "ذهب الولد الى" = 3, F = 0.75.
    scores = rouge([REF], [HYP], OAAL)
    assert scores.rouge1 == pytest.approx(0.75)
    assert scores.rouge2 == pytest.approx(2 / 3)
    assert scores.rouge_l == pytest.approx(0.75)
    assert scores.normalizer == "oaal"

    default = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    default_scores = default.score(normalize_arabic(REF), normalize_arabic(HYP))
    assert all(score.fmeasure == 0.0 for score in default_scores.values())


def test_rouge_is_the_mean_over_pairs() -> None:
    # English pair: ref "the cat sat on the mat" (6 tokens), hyp "the cat on the mat" (5).
    # ROUGE-1: overlap the x2, cat, on, mat = 5; P = 1, R = 5/6, F = 10/11.
    # ROUGE-2: ref has 5 bigrams, hyp 4 (the cat, cat on, on the, the mat); shared 3:
    # P = 3/4, R = 3/5, F = 2/3. ROUGE-L: LCS = 5 tokens, F = 10/11.
    # Averaged with the Arabic pair above (0.75, 2/3, 0.75).
    scores = rouge([REF, "The cat sat on the mat."], [HYP, "the cat on the mat"], OAAL)
    assert scores.rouge1 == pytest.approx((0.75 + 10 / 11) / 2)
    assert scores.rouge2 == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert scores.rouge_l == pytest.approx((0.75 + 10 / 11) / 2)
    assert scores.num_pairs == 2


def test_rouge_empty_hypothesis_scores_zero() -> None:
    scores = rouge([REF], [""], OAAL)
    assert (scores.rouge1, scores.rouge2, scores.rouge_l) == (0.0, 0.0, 0.0)


# --- classification --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("gulf", "gulf"),
        ("  Gulf. ", "gulf"),
        ("EGYPTIAN!", "egyptian"),
        ("The dialect is levantine.", "levantine"),
        ("label:maghrebi", "maghrebi"),  # punctuation becomes a space, not a join
        ("gulf, gulf", "gulf"),  # one distinct label
        ("msa or gulf", None),  # two labels: ambiguous
        ("gulfy", None),  # not a whole word
        ("مصري", None),
        ("", None),
    ],
)
def test_parse_label(output: str, expected: str | None) -> None:
    assert parse_label(output, get_task("dialect").labels) == expected


def test_classification_counts_unparsed_outputs_as_wrong() -> None:
    references = ["happy", "happy", "sad", "angry", "neutral"]
    outputs = ["Happy.", "I think sad", "sad", "???", "neutral"]
    # Parsed: happy, sad, sad, <unparsed>, neutral. Accuracy = 3/5 (dropping the unparsed
    # output would give 3/4).
    # neutral: TP 1, FP 0, FN 0 -> F1 = 1.
    # happy:   TP 1, FP 0, FN 1 -> P = 1, R = 1/2, F1 = 2/3.
    # sad:     TP 1, FP 1, FN 0 -> P = 1/2, R = 1, F1 = 2/3.
    # angry:   TP 0, FN 1 (the unparsed output) -> F1 = 0.
    # Macro-F1 = (1 + 2/3 + 2/3 + 0) / 4 = 7/12.
    scores = classification(references, outputs, EMOTIONS)
    assert scores.accuracy == pytest.approx(3 / 5)
    assert scores.macro_f1 == pytest.approx(7 / 12)
    assert scores.per_label_f1 == pytest.approx(
        {"neutral": 1.0, "happy": 2 / 3, "sad": 2 / 3, "angry": 0.0}
    )
    assert scores.num_unparsed == 1
    assert scores.num_pairs == 5


def test_classification_confusion_matrix_has_an_unparsed_column() -> None:
    references = ["happy", "happy", "sad", "angry", "neutral"]
    outputs = ["Happy.", "I think sad", "sad", "???", "neutral"]
    scores = classification(references, outputs, EMOTIONS)
    assert scores.confusion_labels == ("neutral", "happy", "sad", "angry", "unparsed")
    # Rows are references, columns predictions.
    assert scores.confusion == (
        (1, 0, 0, 0, 0),  # neutral -> neutral
        (0, 1, 1, 0, 0),  # happy -> happy, sad
        (0, 0, 1, 0, 0),  # sad -> sad
        (0, 0, 0, 0, 1),  # angry -> unparsed
        (0, 0, 0, 0, 0),  # references are never unparsed
    )


def test_classification_all_correct() -> None:
    scores = classification(["msa", "gulf"], ["msa", "Gulf"], get_task("dialect").labels)
    # Labels never seen in the references or predictions have F1 0 and still count in the macro
    # average: (1 + 0 + 1 + 0 + 0) / 5 = 0.4.
    assert scores.accuracy == 1.0
    assert scores.macro_f1 == pytest.approx(0.4)


def test_classification_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not in the label set"):
        classification(["joyful"], ["happy"], EMOTIONS)
    with pytest.raises(ValueError, match="2 references and 1 predictions"):
        classification(["happy", "sad"], ["happy"], EMOTIONS)
    with pytest.raises(ValueError, match="reserved"):
        classification(["a"], ["a"], ("a", "unparsed"))


# --- SLU -------------------------------------------------------------------------------------


def frame(scenario: str, action: str, *entities: tuple[str, str]) -> str:
    return json.dumps(
        {
            "scenario": scenario,
            "action": action,
            "entities": [{"type": kind, "filler": filler} for kind, filler in entities],
        },
        ensure_ascii=False,
    )


def test_parse_slu_reads_the_first_json_object() -> None:
    parsed = parse_slu(
        'Answer: {"scenario": "alarm", "action": "set", "entities": '
        '[{"type": "time", "filler": "seven am"}]} and then {"x": 1}'
    )
    assert parsed is not None
    assert (parsed.scenario, parsed.action, parsed.intent) == ("alarm", "set", "alarm_set")
    assert [(e.type, e.filler) for e in parsed.entities] == [("time", "seven am")]


@pytest.mark.parametrize(
    "output",
    [
        "no json here",
        '{"scenario": "alarm", "action": "set"',  # truncated
        '["alarm", "set", []]',  # an array, not an object
        '{"scenario": "alarm", "action": "set"}',  # no entities
        '{"scenario": "alarm", "action": 3, "entities": []}',
        '{"scenario": "alarm", "action": "set", "entities": {"type": "time"}}',
        '{"scenario": "alarm", "action": "set", "entities": ["seven am"]}',
        '{"scenario": "alarm", "action": "set", "entities": [{"type": "time"}]}',
        '{"scenario": "alarm", "action": "set", "entities": [{"type": "time", "filler": 7}]}',
    ],
)
def test_parse_slu_rejects_malformed_output(output: str) -> None:
    assert parse_slu(output) is None


def test_slu_exact_match_scores_one() -> None:
    reference = frame("weather", "query", ("place_name", "القاهرة"), ("date", "غدا"))
    scores = slu([reference], [reference], OAAL)
    assert scores.scenario_accuracy == scores.action_accuracy == scores.intent_accuracy == 1.0
    assert scores.word_f1 == scores.char_f1 == scores.slu_f1 == 1.0
    assert scores.num_unparsed == 0


def test_slu_one_wrong_character_in_a_filler() -> None:
    # Gold filler القاهرة, predicted القاهره (ة vs ه); 1 word, 7 chars, 1 char substituted.
    # Word distance = WER = 1/1 = 1: TP 1, FP 1, FN 1 -> P = R = 1/2, word-F1 = 1/2.
    # Char distance = 1/7: TP 1, FP = FN = 1/7 -> P = R = 1 / (8/7) = 7/8, char-F1 = 7/8.
    # SLU-F1 sums both: TP 2, FP = FN = 8/7 -> P = R = 2 / (22/7) = 7/11, SLU-F1 = 7/11.
    reference = frame("weather", "query", ("place_name", "القاهرة"))
    prediction = frame("weather", "query", ("place_name", "القاهره"))
    scores = slu([reference], [prediction], OAAL)
    assert scores.intent_accuracy == 1.0
    assert scores.word_f1 == pytest.approx(1 / 2)
    assert scores.char_f1 == pytest.approx(7 / 8)
    assert scores.slu_f1 == pytest.approx(7 / 11)
    # Folding ة into ه makes the fillers equal.
    assert slu([reference], [prediction], FOLD).slu_f1 == 1.0


def test_slu_partial_multiword_filler() -> None:
    # "seven am" vs "seven pm": word distance 1/2, char distance 1/8 (8 chars, 1 substitution).
    # word: TP 1, FP = FN = 1/2 -> P = R = 2/3. char: FP = FN = 1/8 -> P = R = 8/9.
    # SLU: TP 2, FP = FN = 5/8 -> P = R = 2 / (21/8) = 16/21.
    reference = frame("alarm", "set", ("time", "seven am"))
    prediction = frame("alarm", "set", ("time", "seven pm"))
    scores = slu([reference], [prediction], OAAL)
    assert scores.word_f1 == pytest.approx(2 / 3)
    assert scores.char_f1 == pytest.approx(8 / 9)
    assert scores.slu_f1 == pytest.approx(16 / 21)


def test_slu_char_distance_is_over_the_longer_filler() -> None:
    # "friday" (6 chars) vs "fridays" (7): 1 insertion, char distance 1/max(6, 7) = 1/7.
    # char: TP 1, FP = FN = 1/7 -> P = R = 7/8. Word distance 1 -> word-F1 1/2.
    reference = frame("calendar", "query", ("date", "friday"))
    prediction = frame("calendar", "query", ("date", "fridays"))
    scores = slu([reference], [prediction], OAAL)
    assert scores.char_f1 == pytest.approx(7 / 8)
    assert scores.word_f1 == pytest.approx(1 / 2)


def test_slu_word_distance_can_exceed_one() -> None:
    # "friday" vs "next friday at noon": WER = 3 insertions / 1 word = 3 (SLURP does not cap it).
    # word: TP 1, FP = FN = 3 -> P = R = 1/4. char: 13 insertions over max(6, 19) = 13/19 ->
    # P = R = 1 / (32/19) = 19/32. SLU: TP 2, FP = FN = 3 + 13/19 = 70/19 -> P = R = 38/108.
    reference = frame("calendar", "query", ("date", "friday"))
    prediction = frame("calendar", "query", ("date", "next friday at noon"))
    scores = slu([reference], [prediction], OAAL)
    assert scores.word_f1 == pytest.approx(1 / 4)
    assert scores.char_f1 == pytest.approx(19 / 32)
    assert scores.slu_f1 == pytest.approx(38 / 108)


def test_slu_matches_the_closest_gold_entity_of_the_type() -> None:
    # Two gold "time" entities; the prediction "friday" is paired with the gold "friday"
    # (distance 0), not the first one. TP 1, FP 0, FN 1 (the unmatched "seven am"):
    # P = 1, R = 1/2, F1 = 2/3 for word, char and SLU alike.
    reference = frame("alarm", "set", ("time", "seven am"), ("time", "friday"))
    prediction = frame("alarm", "set", ("time", "friday"))
    scores = slu([reference], [prediction], OAAL)
    assert scores.word_f1 == pytest.approx(2 / 3)
    assert scores.char_f1 == pytest.approx(2 / 3)
    assert scores.slu_f1 == pytest.approx(2 / 3)


def test_slu_wrong_entity_type_is_a_false_positive_and_a_false_negative() -> None:
    reference = frame("alarm", "set", ("time", "seven am"))
    prediction = frame("alarm", "set", ("date", "seven am"))
    assert slu([reference], [prediction], OAAL).slu_f1 == 0.0


def test_slu_accuracies_and_intent() -> None:
    references = [frame("alarm", "set"), frame("alarm", "set"), frame("alarm", "set")]
    predictions = [frame("alarm", "query"), frame("weather", "set"), frame("alarm", "set")]
    # scenario right in 1 and 3, action right in 2 and 3, intent (both) only in 3.
    scores = slu(references, predictions, OAAL)
    assert scores.scenario_accuracy == pytest.approx(2 / 3)
    assert scores.action_accuracy == pytest.approx(2 / 3)
    assert scores.intent_accuracy == pytest.approx(1 / 3)


def test_slu_unparsed_prediction_is_wrong_and_misses_every_entity() -> None:
    # Pair 1 exact (1 entity, TP 1). Pair 2 unparsed: its 2 gold entities are FN.
    # TP 1, FP 0, FN 2 -> P = 1, R = 1/3, F1 = 1/2 for word and char; SLU: TP 2, FN 4 -> 1/2.
    first = frame("alarm", "set", ("time", "seven am"))
    second = frame("weather", "query", ("place_name", "القاهرة"), ("date", "غدا"))
    scores = slu([first, second], [first, "sorry, I cannot help"], OAAL)
    assert scores.scenario_accuracy == scores.intent_accuracy == pytest.approx(1 / 2)
    assert scores.word_f1 == pytest.approx(1 / 2)
    assert scores.char_f1 == pytest.approx(1 / 2)
    assert scores.slu_f1 == pytest.approx(1 / 2)
    assert scores.num_unparsed == 1


def test_slu_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="reference 0 is not a valid SLU frame"):
        slu(["not json"], [frame("alarm", "set")], OAAL)
    with pytest.raises(ValueError, match="1 references and 0 predictions"):
        slu([frame("alarm", "set")], [], OAAL)


def test_as_dict_is_json_ready() -> None:
    reference = frame("alarm", "set", ("time", "seven am"))
    text = wer_cer([REF], [HYP], OAAL).as_dict()
    labels = classification(["happy"], ["happy"], EMOTIONS).as_dict()
    frames = slu([reference], [reference], OAAL).as_dict()
    assert json.loads(json.dumps(text))["wer"] == 0.25
    assert json.loads(json.dumps(rouge([REF], [HYP], OAAL).as_dict()))["rouge1"] == 0.75
    assert json.loads(json.dumps(labels))["per_label_f1"]["happy"] == 1.0
    assert json.loads(json.dumps(labels))["confusion_labels"][-1] == "unparsed"
    assert json.loads(json.dumps(frames))["normalizer"] == "oaal"
