"""Generic pre-training tasks: answers computed by hand, rows of both modalities, and no
overlap with the fine-tuning tasks' prompts or labels."""

from __future__ import annotations

import pytest

from omnisched.config import EvalSettings
from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.eval.metrics import exact_match
from omnisched.eval.normalize import ArabicNormalizer
from omnisched.eval.scorers import score_task
from omnisched.lab.generic import generic_target, speech_examples, text_examples
from omnisched.tasks import GENERIC, TASKS, get_task

ARABIC = "ذهب الولد إلى المدرسة، صباحاً."
ENGLISH = "Set an alarm for seven."


@pytest.mark.parametrize(
    ("task", "sentence", "answer"),
    [
        ("repeat", ARABIC, "ذهب الولد إلى المدرسة صباحاً"),
        ("first_word", ARABIC, "ذهب"),
        ("last_word", ARABIC, "صباحاً"),
        ("word_count", ARABIC, "5"),
        ("reverse", ARABIC, "صباحاً المدرسة إلى الولد ذهب"),
        ("first_word", ENGLISH, "Set"),
        ("last_word", ENGLISH, "seven"),
        ("word_count", ENGLISH, "5"),
        ("reverse", ENGLISH, "seven for alarm an Set"),
    ],
)
def test_answers_come_from_the_words(task, sentence, answer):
    assert generic_target(task, sentence) == answer


def test_text_rows_cover_every_task_and_continue_splits_the_words():
    rows = text_examples([("s1", "ar", ARABIC), ("s2", "en", "Hello")])
    by_id = {row.id: row for row in rows}
    assert {row.task for row in rows if row.id.endswith("s1")} == {t.name for t in GENERIC}
    assert "continue-text-s2" not in by_id  # one word: nothing to continue
    cont = by_id["continue-text-s1"]
    assert (cont.input_text, cont.target) == ("ذهب الولد", "إلى المدرسة صباحاً")
    assert by_id["reverse-text-s2"].target == "Hello"


def test_speech_rows_keep_the_audio_and_answer_from_the_transcript():
    row = Example(
        id="asr-train-000001",
        task="asr",
        modality="speech",
        language="ar",
        audio="train/asr/a.flac",
        duration_s=2.0,
        target=ARABIC,
    )
    made = speech_examples([row], ["first_word", "continue", "word_count"])
    assert [(e.task, e.audio, e.target) for e in made] == [
        ("first_word", "train/asr/a.flac", "ذهب"),
        ("word_count", "train/asr/a.flac", "5"),
    ]


def test_exact_match_normalizes_before_comparing():
    scores = exact_match(["صباحاً", "5", "Set"], ["صباحا.", "٥", "sets"], ArabicNormalizer())
    assert (scores.accuracy, scores.num_correct, scores.num_pairs) == (2 / 3, 2, 3)
    reference = text_examples([("s", "en", ENGLISH)], ["last_word"])
    scores = score_task(get_task("last_word"), reference, ["Seven!"], EvalSettings())
    assert scores["accuracy"] == 1.0 and scores["normalizer"] == "plain"  # an English row


def test_generic_prompts_share_no_word_with_fine_tuning_prompts_or_labels():
    fine_tuning = [TASKS[name] for name in ("ssum", "dialect", "emotion", "slu")]
    labels = {label for task in fine_tuning for label in task.labels}
    for task in GENERIC:
        for prompt in task.prompts.values():
            assert not labels & set(prompt.lower().replace("?", " ").split())
            assert all(prompt not in other.prompts.values() for other in fine_tuning)


def test_a_prompt_in_a_language_the_task_lacks_is_an_error_not_arabic():
    with pytest.raises(
        ConfigError, match="task 'asr' has no prompt in language 'fr'; it has ar, en"
    ):
        TASKS["asr"].prompt("fr")
    assert TASKS["asr"].prompt("en") == "Transcribe the speech."
