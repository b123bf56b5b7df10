"""Generic tasks made from any sentence: what the foundation learns before fine-tuning.

Every answer is computed from the sentence's words (punctuation removed), so the same task can
be asked of a written sentence and of a spoken one with its transcript: ``text_examples`` makes
text rows, ``speech_examples`` speech rows of the same tasks. ``continue`` is the language
modelling of pre-training in the chat format: the first half of the words in, the rest out; it
needs the words as text, so it has no speech rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from omnisched.data.example import Example
from omnisched.eval.normalize import collapse_whitespace, remove_punctuation
from omnisched.tasks import GENERIC

GENERIC_TASKS: tuple[str, ...] = tuple(task.name for task in GENERIC)
TEXT_ONLY: frozenset[str] = frozenset({"continue"})


def words(sentence: str) -> list[str]:
    """The sentence's words without punctuation."""
    return collapse_whitespace(remove_punctuation(sentence, " ")).split()


def generic_target(task: str, sentence: str) -> str:
    """The answer of generic ``task`` (other than ``continue``) about ``sentence``."""
    found = words(sentence)
    if not found:
        raise ValueError(f"no words in {sentence!r}")
    answers = {
        "repeat": lambda: " ".join(found),
        "first_word": lambda: found[0],
        "last_word": lambda: found[-1],
        "word_count": lambda: str(len(found)),
        "reverse": lambda: " ".join(reversed(found)),
    }
    if task not in answers:
        raise ValueError(f"'{task}' is not a generic task with an answer about a sentence")
    return answers[task]()


def text_examples(
    sentences: Iterable[tuple[str, str, str]], tasks: Sequence[str] = GENERIC_TASKS
) -> list[Example]:
    """Text rows of ``tasks`` for every ``(id, language, sentence)``; ``continue`` only for
    sentences of two words or more."""
    rows = []
    for source, language, sentence in sentences:
        found = words(sentence)
        for task in tasks:
            if task == "continue":
                if len(found) < 2:
                    continue
                half = len(found) // 2
                text, target = " ".join(found[:half]), " ".join(found[half:])
            else:
                text, target = " ".join(found), generic_target(task, sentence)
            rows.append(
                Example(
                    id=f"{task}-text-{source}",
                    task=task,
                    modality="text",
                    language=language,
                    input_text=text,
                    target=target,
                )
            )
    return rows


def speech_examples(rows: Iterable[Example], tasks: Sequence[str] = GENERIC_TASKS) -> list[Example]:
    """Speech rows of ``tasks`` (text-only ones skipped) for every transcribed speech row:
    the same audio, the answer computed from its transcript."""
    made = []
    for row in rows:
        transcript = row.meta.get("transcript") or row.target
        for task in tasks:
            if task in TEXT_ONLY:
                continue
            made.append(
                row.model_copy(
                    update={
                        "id": f"{task}-{row.id}",
                        "task": task,
                        "target": generic_target(task, transcript),
                        "label": None,
                        "meta": {**row.meta, "transcript": transcript},
                    }
                )
            )
    return made
