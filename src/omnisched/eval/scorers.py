"""How each kind of task is scored: a registry from a task's ``kind`` to its scorer.

A scorer turns a task's references and the model's raw outputs into its metrics; it names the
metrics a table may lead with (and whether higher is better) and the one it leads with unless
the task names another (``Task.headline``). Text is normalized per row, as the row's language
asks (``omnisched.eval.normalize``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omnisched.config import EvalSettings
from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.eval import metrics
from omnisched.eval.normalize import TextNormalizer, normalizer_for, normalizer_name
from omnisched.tasks import Task, TaskKind

Score = Callable[[Task, list[Example], list[str], list[TextNormalizer]], dict[str, Any]]


@dataclass(frozen=True)
class Scorer:
    """How one kind of task is scored: ``score(task, references, outputs, normalizers)`` (one
    normalizer per row), the metrics a table may lead with (name -> higher is better) and the
    one it leads with by default."""

    score: Score
    metrics: dict[str, bool]
    headline: str


def _transcribe(
    task: Task, references: list[Example], outputs: list[str], normalizers: list[TextNormalizer]
) -> dict:
    return metrics.wer_cer([e.target for e in references], outputs, normalizers).as_dict()


def _summarize(
    task: Task, references: list[Example], outputs: list[str], normalizers: list[TextNormalizer]
) -> dict:
    rouge = metrics.rouge([e.target for e in references], outputs, normalizers)
    return {
        "rouge1": rouge.rouge1,
        "rouge2": rouge.rouge2,
        "rougeL": rouge.rouge_l,
        "num_pairs": rouge.num_pairs,
        "normalizer": rouge.normalizer,
    }


def _classify(
    task: Task, references: list[Example], outputs: list[str], normalizers: list[TextNormalizer]
) -> dict:
    return metrics.classification([e.label for e in references], outputs, task.labels).as_dict()


def _slu(
    task: Task, references: list[Example], outputs: list[str], normalizers: list[TextNormalizer]
) -> dict:
    return metrics.slu([e.target for e in references], outputs, normalizers).as_dict()


def _answer(
    task: Task, references: list[Example], outputs: list[str], normalizers: list[TextNormalizer]
) -> dict:
    return metrics.exact_match([e.target for e in references], outputs, normalizers).as_dict()


SCORERS: dict[TaskKind, Scorer] = {
    "transcribe": Scorer(_transcribe, {"cer": False, "wer": False}, "cer"),
    "summarize": Scorer(_summarize, {"rouge1": True, "rouge2": True, "rougeL": True}, "rougeL"),
    "classify": Scorer(_classify, {"macro_f1": True, "accuracy": True}, "macro_f1"),
    "slu": Scorer(
        _slu,
        {
            "scenario_accuracy": True,
            "action_accuracy": True,
            "intent_accuracy": True,
            "word_f1": True,
            "char_f1": True,
            "slu_f1": True,
        },
        "slu_f1",
    ),
    "answer": Scorer(_answer, {"accuracy": True}, "accuracy"),
}


def headline(task: Task) -> tuple[str, bool]:
    """The metric ``task``'s tables lead with, and whether higher is better."""
    scorer = SCORERS[task.kind]
    metric = task.headline or scorer.headline
    if metric not in scorer.metrics:
        raise ConfigError(
            f"task '{task.name}': headline '{metric}' is not a metric of a {task.kind} task; "
            f"it has {', '.join(scorer.metrics)}"
        )
    return metric, scorer.metrics[metric]


def check_scorable(task: Task, languages: set[str]) -> None:
    """A ConfigError now, before any generation, if ``task`` names a headline or a normalizer
    (for one of ``languages``) that does not exist."""
    headline(task)
    for language in sorted(languages):
        normalizer_name(task, language)


def score_task(
    task: Task, references: list[Example], outputs: list[str], settings: EvalSettings
) -> dict[str, Any]:
    """The metrics of ``task`` for its examples and the model's raw outputs, and the name of
    its ``headline`` metric."""
    normalizers = [normalizer_for(task, example.language, settings) for example in references]
    scores = SCORERS[task.kind].score(task, references, outputs, normalizers)
    return {"headline": headline(task)[0], **scores}
