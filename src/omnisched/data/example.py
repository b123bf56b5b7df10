"""The Example: one row of a corpus, the only shape anything downstream reads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnisched.tasks import KNOWN_TASKS

Modality = Literal["speech", "text"]


class Example(BaseModel):
    """One training or evaluation example.

    ``audio`` is a path relative to the corpus root for speech rows and ``None`` for text rows;
    ``offset_s`` marks a clip of a longer file, starting there and lasting ``duration_s`` (rows
    cut from long audio have it). ``input_text`` is the transcript given as text, for text rows
    only. ``label`` is set for classification tasks and must belong to the task's label set.
    ``meta`` carries what schedules and reports may want (speaker, voice, transcript of speech
    rows, twin id) but never reads.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    task: str
    modality: Modality
    language: str = Field(min_length=2)
    audio: str | None = None
    duration_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    offset_s: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, exclude_if=lambda value: value is None
    )
    input_text: str | None = None
    target: str
    label: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> Example:
        task = KNOWN_TASKS.get(self.task)
        if task is None:
            raise ValueError(f"task: unknown task '{self.task}'; known: {', '.join(KNOWN_TASKS)}")
        if not self.target.strip():
            raise ValueError("target: empty target")
        if self.modality == "speech":
            if not self.audio:
                raise ValueError("audio: speech row without audio")
            if self.duration_s is None:
                raise ValueError("duration_s: speech row without duration")
        else:
            if self.audio:
                raise ValueError("audio: text row carries audio")
            if self.offset_s is not None:
                raise ValueError("offset_s: text row carries an audio offset")
            if not (self.input_text or "").strip():
                raise ValueError("input_text: text row without input_text")
        if task.is_classification:
            if self.label not in task.labels:
                raise ValueError(
                    f"label: '{self.label}' is not in the label set of '{self.task}' "
                    f"({', '.join(task.labels)})"
                )
        elif self.label is not None:
            raise ValueError(f"label: task '{self.task}' takes no label")
        return self

    @property
    def pool(self) -> tuple[str, str, str]:
        """The pool key: examples sharing (task, modality, language) form one pool."""
        return (self.task, self.modality, self.language)
