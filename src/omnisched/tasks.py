"""Task registry: what each task asks, what its target looks like, its labels and its metrics.

A task is the unit a schedule balances over. Generative tasks (``asr``, ``ssum``) are scored on
text; classification tasks (``dialect``, ``emotion``) have a closed label set and are scored by
macro-F1; ``slu`` targets a one-line JSON ``{"scenario", "action", "entities"}``.

The generic tasks (``GENERIC``: repeat, continue, first and last word, word count, reversed
words) are what the foundation learns before any fine-tuning task: each can be asked
of any sentence, spoken or written, and is scored by exact match after normalization. None of
them shares a prompt or an answer word with the fine-tuning tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from omnisched.errors import ConfigError

TaskKind = Literal["transcribe", "summarize", "classify", "slu", "answer"]


@dataclass(frozen=True)
class Task:
    """One task: its kind, closed label set (classification only) and instruction per language."""

    name: str
    kind: TaskKind
    prompts: dict[str, str]
    labels: tuple[str, ...] = ()

    @property
    def is_classification(self) -> bool:
        return self.kind == "classify"

    def prompt(self, language: str) -> str:
        """The instruction in ``language``; a ConfigError names the languages it has."""
        if language not in self.prompts:
            raise ConfigError(
                f"task '{self.name}' has no prompt in language '{language}'; it has "
                f"{', '.join(sorted(self.prompts))}"
            )
        return self.prompts[language]


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="asr",
            kind="transcribe",
            prompts={"ar": "حوّل الكلام إلى نص.", "en": "Transcribe the speech."},
        ),
        Task(
            name="ssum",
            kind="summarize",
            prompts={
                "ar": "لخّص الكلام في عنوان قصير.",
                "en": "Summarize the speech as a short headline.",
            },
        ),
        Task(
            name="dialect",
            kind="classify",
            prompts={
                "ar": "ما لهجة المتكلم؟ أجب بواحدة من: msa, egyptian, gulf, levantine, maghrebi.",
                "en": "Which dialect is spoken? Answer one of: msa, egyptian, gulf, levantine, "
                "maghrebi.",
            },
            labels=("msa", "egyptian", "gulf", "levantine", "maghrebi"),
        ),
        Task(
            name="emotion",
            kind="classify",
            prompts={
                "ar": "ما عاطفة المتكلم؟ أجب بواحدة من: neutral, happy, sad, angry.",
                "en": "Which emotion does the speaker express? Answer one of: neutral, happy, "
                "sad, angry.",
            },
            labels=("neutral", "happy", "sad", "angry"),
        ),
        Task(
            name="slu",
            kind="slu",
            prompts={
                "ar": 'حلّل الطلب وأجب بسطر JSON فيه "scenario" و"action" و"entities".',
                "en": 'Parse the request; answer with one line of JSON with "scenario", '
                '"action" and "entities".',
            },
        ),
    )
}

GENERIC: tuple[Task, ...] = (
    Task(
        name="repeat",
        kind="answer",
        prompts={"ar": "أعد النص كما هو.", "en": "Repeat the text exactly."},
    ),
    Task(
        name="continue",
        kind="answer",
        prompts={"ar": "أكمل النص.", "en": "Continue the text."},
    ),
    Task(
        name="first_word",
        kind="answer",
        prompts={"ar": "ما الكلمة الأولى؟", "en": "What is the first word?"},
    ),
    Task(
        name="last_word",
        kind="answer",
        prompts={"ar": "ما الكلمة الأخيرة؟", "en": "What is the last word?"},
    ),
    Task(
        name="word_count",
        kind="answer",
        prompts={
            "ar": "كم كلمة فيه؟ أجب برقم.",
            "en": "How many words are there? Answer a number.",
        },
    ),
    Task(
        name="reverse",
        kind="answer",
        prompts={"ar": "اكتب الكلمات بترتيب معكوس.", "en": "Write the words in reverse order."},
    ),
)
# every task a row or a schedule may name: the fine-tuning tasks (``TASKS``, what corpora
# hold) and the generic ones of pre-training
KNOWN_TASKS: dict[str, Task] = {**TASKS, **{task.name: task for task in GENERIC}}

LANGUAGES: tuple[str, ...] = ("ar", "en")


def get_task(name: str) -> Task:
    """The registered task called ``name``; a ConfigError lists the known ones otherwise."""
    try:
        return KNOWN_TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task '{name}'; known tasks: {', '.join(KNOWN_TASKS)}") from None


def slu_target(scenario: str, action: str, entities: Iterable[tuple[str, str]]) -> str:
    """The one-line JSON target of ``slu``: ``{"scenario", "action", "entities": [{"type",
    "filler"}]}``, entities in the order they are said, non-ASCII kept as is."""
    frame = {
        "scenario": scenario,
        "action": action,
        "entities": [{"type": kind, "filler": filler} for kind, filler in entities],
    }
    return json.dumps(frame, ensure_ascii=False)
