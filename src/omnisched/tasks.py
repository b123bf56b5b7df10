"""Tasks: what each asks, what its target looks like, its labels and how it is scored.

A task is the unit a schedule balances over. It is a record, :class:`Task`, declared in YAML:
the built-in ones in ``tasks.yaml`` beside this module, a user's own in a recipe's ``tasks:``
list (or a file with one, for the commands that read no recipe). Every task a row or a schedule
may name is in :data:`KNOWN_TASKS`; :func:`declare_tasks` adds to it.

A task's ``kind`` says how it is scored (``omnisched.eval.scorers``): ``transcribe`` and
``summarize`` on text, ``classify`` over a closed label set, ``slu`` on a one-line JSON frame
``{"scenario", "action", "entities"}``, ``answer`` by exact match. Text is normalized per
language before it is scored: OAAL's Arabic normalizer for ``ar``, a plain one otherwise,
unless the task names another (``normalizers``).

The generic tasks (``GENERIC``: repeat, continue, first and last word, word count, reversed
words) are what the foundation learns before any fine-tuning task: each can be asked
of any sentence, spoken or written, and is scored by exact match after normalization. None of
them shares a prompt or an answer word with the fine-tuning tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from omnisched.errors import ConfigError

TaskKind = Literal["transcribe", "summarize", "classify", "slu", "answer"]
UNPARSED = "unparsed"
"""What evaluation counts a classification output naming no single label as: never a label."""


class Task(BaseModel):
    """One task: its kind, its instruction per language, its closed label set (classification
    only), the metric its tables lead with (None: its kind's) and the normalizer of each
    language that needs another than the default (names in ``omnisched.eval.normalize``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    kind: TaskKind
    prompts: dict[str, str] = Field(min_length=1)
    labels: tuple[str, ...] = ()
    headline: str | None = None
    normalizers: dict[str, str] = {}

    @model_validator(mode="after")
    def _labels_fit_the_kind(self) -> Task:
        empty = [language for language, prompt in self.prompts.items() if not prompt.strip()]
        if empty:
            raise ValueError(f"prompts: empty prompt in {', '.join(empty)}")
        if self.kind != "classify":
            if self.labels:
                raise ValueError(f"labels: a {self.kind} task takes no labels")
            return self
        if len(set(self.labels)) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: a classify task needs two or more distinct labels")
        wrong = [label for label in self.labels if not label.strip() or label == UNPARSED]
        if wrong:
            raise ValueError(f"labels: {wrong} cannot be labels (empty or reserved)")
        return self

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


KNOWN_TASKS: dict[str, Task] = {}
"""Every task a row or a schedule may name: the built-in ones and those declared since."""


def declare_tasks(tasks: Iterable[Task]) -> None:
    """Makes ``tasks`` known. Declaring a task again as it is does nothing; declaring another
    task under a known name is a ConfigError."""
    for task in tasks:
        known = KNOWN_TASKS.get(task.name)
        if known is not None and known != task:
            raise ConfigError(
                f"task '{task.name}' is already declared otherwise; give yours another name"
            )
        KNOWN_TASKS[task.name] = task


_DECLARATIONS = TypeAdapter(list[Task])


def parse_tasks(declarations: object, source: str) -> list[Task]:
    """The tasks of a ``tasks:`` list read from ``source``; a ConfigError names each bad
    field."""
    try:
        return _DECLARATIONS.validate_python(declarations)
    except ValidationError as error:
        lines = [f"{source}: invalid task declarations"]
        for problem in error.errors():
            where = ".".join(["tasks", *(str(part) for part in problem["loc"])])
            lines.append(f"  field '{where}': {problem['msg']}")
        raise ConfigError("\n".join(lines)) from None


def _builtin(section: str) -> list[Task]:
    text = files("omnisched").joinpath("tasks.yaml").read_text(encoding="utf-8")
    return parse_tasks(yaml.safe_load(text)[section], f"omnisched/tasks.yaml: {section}")


TASKS: dict[str, Task] = {task.name: task for task in _builtin("tasks")}
"""The built-in fine-tuning tasks, in their declared order: what the embedded corpus holds."""
GENERIC: tuple[Task, ...] = tuple(_builtin("generic"))
declare_tasks([*TASKS.values(), *GENERIC])

LANGUAGES: tuple[str, ...] = ("ar", "en")  # every built-in task has a prompt in each


def get_task(name: str) -> Task:
    """The known task called ``name``; a ConfigError lists the known ones otherwise."""
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
