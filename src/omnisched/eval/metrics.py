"""The metrics each kind of task is scored with, computed with jiwer, rouge-score and
scikit-learn.

* ``transcribe``: corpus WER and CER (:func:`wer_cer`);
* ``summarize``: ROUGE-1/2/L F-measure (:func:`rouge`);
* ``classify``: accuracy and macro-F1 over the task's labels (:func:`classification`);
* ``slu``: scenario, action and intent accuracy and SLURP's SLU-F1 (:func:`slu`);
* ``answer``: exact match (:func:`exact_match`).

Every function takes plain, aligned lists (reference first), raises ValueError when they differ
in length or are empty, and returns a frozen dataclass with ``as_dict()``. Text metrics take the
normalizer explicitly, one for every pair or one per pair (rows of several languages), and
record its ``name``, so a report always says how text was normalized. Rates and scores are
fractions in [0, 1] (WER and CER can exceed 1 with insertions).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jiwer
from rouge_score import rouge_scorer, tokenizers
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from omnisched.eval.normalize import TextNormalizer, collapse_whitespace, remove_punctuation
from omnisched.tasks import UNPARSED

Normalization = TextNormalizer | Sequence[TextNormalizer]
"""One normalizer for every pair, or one per pair."""


class _AsDict:
    def as_dict(self) -> dict[str, Any]:
        """The fields as plain dicts, lists/tuples and numbers, ready for JSON."""
        return dataclasses.asdict(self)


def _check_pairs(references: Sequence[str], predictions: Sequence[str], what: str) -> None:
    if len(references) != len(predictions):
        raise ValueError(
            f"references and {what} must be aligned: got {len(references)} references and "
            f"{len(predictions)} {what}"
        )
    if not references:
        raise ValueError(f"nothing to score: references and {what} are empty")


def _per_pair(normalizer: Normalization, count: int) -> list[TextNormalizer]:
    """The normalizer of each of ``count`` pairs."""
    if not isinstance(normalizer, Sequence):
        return [normalizer] * count
    if len(normalizer) != count:
        raise ValueError(f"{len(normalizer)} normalizers for {count} pairs")
    return list(normalizer)


def _names(normalizers: Sequence[TextNormalizer]) -> str:
    """The normalizers' names, each once, in order of first use: ``oaal`` or ``oaal, plain``."""
    return ", ".join(dict.fromkeys(normalizer.name for normalizer in normalizers))


def _rate(errors: float, total: float) -> float:
    """``errors / total``; with nothing to compare against, 0.0 if no errors and 1.0 otherwise."""
    if total == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / total


def _edits(
    references: Sequence[str], hypotheses: Sequence[str], level: Literal["word", "char"]
) -> tuple[int, int]:
    """Total Levenshtein edits (S + D + I) and total reference units, at word or char level.

    Units are whitespace-separated words or characters (spaces included, as jiwer's CER counts
    them) of already-normalized text. jiwer aligns the pairs where both sides are non-empty; a
    pair with an empty side is all insertions or all deletions, counted here, because some jiwer
    versions reject empty strings.
    """
    size = (lambda text: len(text.split())) if level == "word" else len
    process = jiwer.process_words if level == "word" else jiwer.process_characters
    edits = reference_units = 0
    aligned_references: list[str] = []
    aligned_hypotheses: list[str] = []
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        reference_size, hypothesis_size = size(reference), size(hypothesis)
        reference_units += reference_size
        if reference_size and hypothesis_size:
            aligned_references.append(reference)
            aligned_hypotheses.append(hypothesis)
        else:
            edits += reference_size + hypothesis_size
    if aligned_references:
        output = process(aligned_references, aligned_hypotheses)
        edits += output.substitutions + output.deletions + output.insertions
    return edits, reference_units


@dataclass(frozen=True)
class TextScores(_AsDict):
    """Corpus WER and CER: total edits over total reference words or characters."""

    wer: float
    cer: float
    word_edits: int
    reference_words: int
    char_edits: int
    reference_chars: int
    num_pairs: int
    normalizer: str


def wer_cer(references: list[str], hypotheses: list[str], normalizer: Normalization) -> TextScores:
    """Corpus-level WER and CER of ``hypotheses`` after normalizing both sides.

    This is what ``jiwer.wer``/``jiwer.cer`` compute on lists. An empty hypothesis counts as
    deleting every reference unit; a reference that is empty after normalization adds its
    hypothesis' units as insertions. If all references are empty, the rate is 0.0 when all
    hypotheses are empty too and 1.0 otherwise.
    """
    _check_pairs(references, hypotheses, "hypotheses")
    normalizers = _per_pair(normalizer, len(references))
    refs = [norm(text) for norm, text in zip(normalizers, references, strict=True)]
    hyps = [norm(text) for norm, text in zip(normalizers, hypotheses, strict=True)]
    word_edits, reference_words = _edits(refs, hyps, "word")
    char_edits, reference_chars = _edits(refs, hyps, "char")
    return TextScores(
        wer=_rate(word_edits, reference_words),
        cer=_rate(char_edits, reference_chars),
        word_edits=word_edits,
        reference_words=reference_words,
        char_edits=char_edits,
        reference_chars=reference_chars,
        num_pairs=len(refs),
        normalizer=_names(normalizers),
    )


class UnicodeTokenizer(tokenizers.Tokenizer):
    """Words of any script for rouge-score, whose default tokenizer keeps only ``[a-z0-9]``.

    The default tokenizer turns Arabic text into no tokens at all, so every Arabic pair scores 0.
    A token is a run of Unicode word characters (``\\w``); Arabic combining marks, which are not
    ``\\w``, stay inside their word.
    """

    _WORD = re.compile(r"[\w\u0610-\u061a\u064b-\u065f\u0670]+")

    def tokenize(self, text: str) -> list[str]:
        return self._WORD.findall(text.lower())


@dataclass(frozen=True)
class RougeScores(_AsDict):
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures in [0, 1], each the mean over pairs."""

    rouge1: float
    rouge2: float
    rouge_l: float
    num_pairs: int
    normalizer: str


def rouge(references: list[str], hypotheses: list[str], normalizer: Normalization) -> RougeScores:
    """Mean ROUGE F-measures over pairs, on normalized text split by :class:`UnicodeTokenizer`.

    No stemming (rouge-score's stemmer is English-only). A pair with an empty side scores 0.
    """
    _check_pairs(references, hypotheses, "hypotheses")
    normalizers = _per_pair(normalizer, len(references))
    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL"], use_stemmer=False, tokenizer=UnicodeTokenizer()
    )
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for norm, reference, hypothesis in zip(normalizers, references, hypotheses, strict=True):
        scores = scorer.score(norm(reference), norm(hypothesis))
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = len(references)
    return RougeScores(
        rouge1=totals["rouge1"] / n,
        rouge2=totals["rouge2"] / n,
        rouge_l=totals["rougeL"] / n,
        num_pairs=n,
        normalizer=_names(normalizers),
    )


def parse_label(output: str, labels: Sequence[str]) -> str | None:
    """The label a classifier's free-text ``output`` names, or None if it names no single one.

    The output is lowercased and its punctuation turned into spaces; it is then either exactly
    a label, or contains exactly one distinct label as a whole word ("The dialect is Gulf.").
    """
    text = collapse_whitespace(remove_punctuation(output.lower(), replacement=" "))
    for label in labels:
        if text == label.lower():
            return label
    found = [
        label
        for label in labels
        if re.search(rf"(?<!\w){re.escape(label.lower())}(?!\w)", text) is not None
    ]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class ClassificationScores(_AsDict):
    """Accuracy and F1 over a closed label set; outputs naming no label count as wrong.

    ``confusion[i][j]`` counts references ``confusion_labels[i]`` predicted as
    ``confusion_labels[j]``; the last label is ``"unparsed"`` (its row is always zero).
    """

    accuracy: float
    macro_f1: float
    per_label_f1: dict[str, float]
    confusion: tuple[tuple[int, ...], ...]
    confusion_labels: tuple[str, ...]
    num_unparsed: int
    num_pairs: int


def classification(
    references: list[str], predictions: list[str], labels: tuple[str, ...]
) -> ClassificationScores:
    """Score raw model outputs ``predictions`` against reference labels.

    Each output is read with :func:`parse_label`; one that names no single label becomes
    ``"unparsed"``, which is wrong for every reference and is never dropped. Macro-F1 averages
    the F1 of every label in ``labels`` (sklearn, ``zero_division=0``), so a label never
    predicted correctly contributes 0.
    """
    _check_pairs(references, predictions, "predictions")
    if UNPARSED in labels:
        raise ValueError(f"'{UNPARSED}' is reserved for unparsed outputs and cannot be a label")
    unknown = sorted(set(references) - set(labels))
    if unknown:
        raise ValueError(f"references {unknown} are not in the label set {list(labels)}")
    parsed = [parse_label(output, labels) or UNPARSED for output in predictions]
    label_list = list(labels)
    per_label = f1_score(references, parsed, labels=label_list, average=None, zero_division=0)
    matrix = confusion_matrix(references, parsed, labels=[*label_list, UNPARSED])
    return ClassificationScores(
        accuracy=float(accuracy_score(references, parsed)),
        macro_f1=float(
            f1_score(references, parsed, labels=label_list, average="macro", zero_division=0)
        ),
        per_label_f1={label: float(f1) for label, f1 in zip(labels, per_label, strict=True)},
        confusion=tuple(tuple(int(count) for count in row) for row in matrix),
        confusion_labels=(*labels, UNPARSED),
        num_unparsed=parsed.count(UNPARSED),
        num_pairs=len(parsed),
    )


@dataclass(frozen=True)
class MatchScores(_AsDict):
    """Share of outputs equal to their reference after normalization."""

    accuracy: float
    num_correct: int
    num_pairs: int
    normalizer: str


def exact_match(
    references: list[str], predictions: list[str], normalizer: Normalization
) -> MatchScores:
    """Exact match of normalized outputs (punctuation, case and spacing do not count)."""
    _check_pairs(references, predictions, "predictions")
    normalizers = _per_pair(normalizer, len(references))
    correct = sum(
        norm(reference) == norm(prediction)
        for norm, reference, prediction in zip(normalizers, references, predictions, strict=True)
    )
    return MatchScores(correct / len(references), correct, len(references), _names(normalizers))


@dataclass(frozen=True)
class SluEntity:
    """One slot: its type and the words that fill it."""

    type: str
    filler: str


@dataclass(frozen=True)
class SluFrame:
    """A parsed SLU target: scenario, action and entities."""

    scenario: str
    action: str
    entities: tuple[SluEntity, ...]

    @property
    def intent(self) -> str:
        """SLURP's intent, ``scenario_action``."""
        return f"{self.scenario}_{self.action}"


def parse_slu(output: str) -> SluFrame | None:
    """The frame in the first JSON object of ``output``; None if there is none or it is malformed.

    Decoding starts at the first ``{`` and stops at the end of that object, so text after it is
    ignored. ``scenario`` and ``action`` must be strings and ``entities`` a list of objects with
    string ``type`` and ``filler``; other keys are ignored.
    """
    start = output.find("{")
    if start < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(output, start)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    scenario, action, entities = data.get("scenario"), data.get("action"), data.get("entities")
    if not (isinstance(scenario, str) and isinstance(action, str) and isinstance(entities, list)):
        return None
    slots = []
    for entity in entities:
        if not isinstance(entity, dict):
            return None
        kind, filler = entity.get("type"), entity.get("filler")
        if not (isinstance(kind, str) and isinstance(filler, str)):
            return None
        slots.append(SluEntity(kind, filler))
    return SluFrame(scenario, action, tuple(slots))


def _word_distance(gold: str, predicted: str) -> float:
    """SLURP's word distance: the WER of the predicted filler against the gold one."""
    edits, reference_words = _edits([gold], [predicted], "word")
    return _rate(edits, reference_words)


def _char_distance(gold: str, predicted: str) -> float:
    """SLURP's char distance: Levenshtein distance over the longer filler's length."""
    edits, _ = _edits([gold], [predicted], "char")
    return _rate(edits, max(len(gold), len(predicted)))


@dataclass
class _SoftCounts:
    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0

    def f1(self) -> float:
        """SLURP's ``compute_metrics``: precision or recall is 0 when its denominator is."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _accumulate_span_distance(
    counts: _SoftCounts,
    gold: Sequence[SluEntity],
    predicted: Sequence[SluEntity],
    distance: Callable[[str, str], float],
) -> None:
    """SLURP's ``SpanDistanceFMeasure`` for one utterance, added into ``counts``.

    Each predicted entity whose type is still among the unmatched gold entities is paired with
    the first of them at the lowest filler distance d: it adds 1 TP, d FP and d FN, and that gold
    entity is used up. A predicted entity of no unmatched gold type is 1 FP; each gold entity
    left unmatched is 1 FN.
    """
    remaining = list(gold)
    for entity in predicted:
        candidates = [i for i, slot in enumerate(remaining) if slot.type == entity.type]
        if not candidates:
            counts.fp += 1
            continue
        distances = {i: distance(remaining[i].filler, entity.filler) for i in candidates}
        best = min(candidates, key=distances.__getitem__)
        counts.tp += 1
        counts.fp += distances[best]
        counts.fn += distances[best]
        remaining.pop(best)
    counts.fn += len(remaining)


@dataclass(frozen=True)
class SluScores(_AsDict):
    """Scenario, action and intent accuracy, and SLURP's word-F1, char-F1 and SLU-F1."""

    scenario_accuracy: float
    action_accuracy: float
    intent_accuracy: float
    word_f1: float
    char_f1: float
    slu_f1: float
    num_unparsed: int
    num_pairs: int
    normalizer: str


def slu(references: list[str], predictions: list[str], normalizer: Normalization) -> SluScores:
    """Score SLU outputs (one-line JSON) against reference frames, as SLURP's evaluation does.

    SLU-F1 is defined in Bastianelli et al. 2020, "SLURP: A Spoken Language Understanding
    Resource Package" (EMNLP), and implemented in SLURP's ``scripts/evaluation`` (``metrics.py``:
    ``SpanDistanceFMeasure``, ``SLUF1``; ``distance.py``: ``WordDistance``, ``CharDistance``),
    re-implemented here. Entities are matched by type (see :func:`_accumulate_span_distance`) and
    a match adds 1 TP and the filler distance d to both FP and FN. With the word distance d is
    the WER of the predicted filler against the gold one (it can exceed 1); with the char
    distance d is their Levenshtein distance divided by the longer filler's length. Word-F1 and
    char-F1 are the micro F1 of their summed soft counts over the corpus; SLU-F1 is the micro F1
    of the word and char counts added together. If no entity is predicted or expected anywhere,
    the F1 scores are 0, as in SLURP.

    Fillers are normalized with ``normalizer`` before the distances (SLURP lowercases gold
    fillers); scenario, action and entity types are compared exactly. An output that
    :func:`parse_slu` cannot read gets scenario, action and intent wrong and leaves all its gold
    entities as false negatives; a reference it cannot read raises ValueError.
    """
    _check_pairs(references, predictions, "predictions")
    normalizers = _per_pair(normalizer, len(references))
    word, char = _SoftCounts(), _SoftCounts()
    scenario_hits = action_hits = intent_hits = unparsed = 0
    pairs = zip(normalizers, references, predictions, strict=True)
    for index, (norm, reference, prediction) in enumerate(pairs):
        gold = parse_slu(reference)
        if gold is None:
            raise ValueError(f"reference {index} is not a valid SLU frame: {reference!r}")
        predicted = parse_slu(prediction)
        if predicted is None:
            unparsed += 1
        else:
            scenario_hits += predicted.scenario == gold.scenario
            action_hits += predicted.action == gold.action
            intent_hits += predicted.intent == gold.intent
        gold_entities = [SluEntity(e.type, norm(e.filler)) for e in gold.entities]
        predicted_entities = [
            SluEntity(e.type, norm(e.filler))
            for e in (predicted.entities if predicted is not None else ())
        ]
        _accumulate_span_distance(word, gold_entities, predicted_entities, _word_distance)
        _accumulate_span_distance(char, gold_entities, predicted_entities, _char_distance)
    n = len(references)
    combined = _SoftCounts(word.tp + char.tp, word.fp + char.fp, word.fn + char.fn)
    return SluScores(
        scenario_accuracy=scenario_hits / n,
        action_accuracy=action_hits / n,
        intent_accuracy=intent_hits / n,
        word_f1=word.f1(),
        char_f1=char.f1(),
        slu_f1=combined.f1(),
        num_unparsed=unparsed,
        num_pairs=n,
        normalizer=_names(normalizers),
    )
