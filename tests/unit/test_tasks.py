"""Tasks are data: declared in YAML like the built-in ones, checked when declared, scored by
their kind's scorer, their text normalized as each row's language asks."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from omnisched.cli import main
from omnisched.config import EvalSettings, load_recipe
from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.eval.metrics import rouge, wer_cer
from omnisched.eval.normalize import ArabicNormalizer, PlainNormalizer, normalize_arabic
from omnisched.eval.scorers import SCORERS, check_scorable, score_task
from omnisched.tasks import GENERIC, KNOWN_TASKS, TASKS, Task, declare_tasks, get_task, parse_tasks

INTENT = {
    "name": "intent",
    "kind": "classify",
    "labels": ["alarm_set", "weather_query", "play_music"],
    "prompts": {"en": "Which intent? Answer one of: alarm_set, weather_query, play_music."},
    "headline": "accuracy",
}


def test_the_built_in_tasks_are_declared_as_a_user_declares_tasks():
    shipped = yaml.safe_load(files("omnisched").joinpath("tasks.yaml").read_text("utf-8"))
    assert parse_tasks(shipped["tasks"], "tasks.yaml") == list(TASKS.values())
    assert parse_tasks(shipped["generic"], "tasks.yaml") == list(GENERIC)
    assert {task.kind for task in KNOWN_TASKS.values()} <= set(SCORERS)


def test_a_recipe_declares_its_own_task_and_schedules_it(tmp_path: Path, restore_known_tasks):
    path = tmp_path / "intent.yaml"
    path.write_text(
        yaml.safe_dump({"name": "intent", "tasks": [INTENT], "schedule": {"tasks": ["intent"]}}),
        encoding="utf-8",
    )
    recipe = load_recipe(path)
    assert recipe.schedule.tasks == ["intent"]
    assert get_task("intent") == recipe.tasks[0] == Task.model_validate(INTENT)
    assert load_recipe(path) == recipe  # declaring it again as it is changes nothing
    row = Example(
        id="i1", task="intent", modality="text", language="en", input_text="wake me at 7",
        target="alarm_set", label="alarm_set",
    )  # fmt: skip
    with pytest.raises(ValueError, match="'alarm' is not in the label set of 'intent'"):
        Example.model_validate(row.model_dump() | {"label": "alarm"})


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"labels": []}, "a classify task needs two or more distinct labels"),
        ({"labels": ["a", "a"]}, "two or more distinct labels"),
        ({"labels": ["a", "unparsed"]}, "cannot be labels"),
        ({"kind": "translate"}, "field 'tasks.0.kind'"),
        ({"name": "in/tent"}, "field 'tasks.0.name'"),
        ({"prompts": {}}, "field 'tasks.0.prompts'"),
        ({"prompts": {"en": " "}}, "empty prompt in en"),
        ({"kind": "transcribe"}, "a transcribe task takes no labels"),
    ],
)
def test_a_bad_declaration_names_the_field(change: dict, needle: str):
    with pytest.raises(ConfigError, match=r"my\.yaml: invalid task declarations") as error:
        parse_tasks([INTENT | change], "my.yaml")
    assert needle in str(error.value)


def test_a_known_name_cannot_be_declared_otherwise(tmp_path: Path, restore_known_tasks):
    other = Task.model_validate(INTENT | {"name": "emotion"})
    with pytest.raises(ConfigError, match="task 'emotion' is already declared otherwise"):
        declare_tasks([other])
    declare_tasks([get_task("emotion")])
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "tasks": [INTENT | {"name": "asr"}]}), "utf-8")
    with pytest.raises(ConfigError, match=r"field 'tasks': .*'asr' is already declared otherwise"):
        load_recipe(path)


def test_a_headline_or_normalizer_that_does_not_exist_is_refused_before_generation():
    with pytest.raises(ConfigError, match="headline 'cer' is not a metric of a classify task"):
        check_scorable(Task.model_validate(INTENT | {"headline": "cer"}), {"en"})
    odd = Task.model_validate(INTENT | {"normalizers": {"en": "porter"}})
    with pytest.raises(ConfigError, match="unknown normalizer 'porter' for language 'en'"):
        check_scorable(odd, {"en"})
    check_scorable(odd, {"ar"})  # its Arabic rows use the default


def _asr(language: str, target: str) -> Example:
    return Example(
        id=f"{language}-{len(target)}", task="asr", modality="text", language=language,
        input_text="-", target=target,
    )  # fmt: skip


def test_each_row_is_normalized_as_its_language_asks():
    arabic = [_asr("ar", "ذهب الولد إلى المدرسة"), _asr("ar", "قالت البنت: شكراً")]
    english = [_asr("en", "Set an ALARM, please!")]
    outputs = ["ذهب الولد الى مدرسة", "قالت البنت شكرا", "set an alarm please"]
    settings = EvalSettings()
    scores = score_task(get_task("asr"), arabic + english, outputs, settings)
    assert scores["normalizer"] == "oaal, plain"
    # the Arabic rows score exactly as under the Arabic normalizer alone
    only_arabic = score_task(get_task("asr"), arabic, outputs[:2], settings)
    expected = wer_cer([e.target for e in arabic], outputs[:2], ArabicNormalizer())
    assert only_arabic == {"headline": "cer", **expected.as_dict()}
    folded = EvalSettings(fold_ta_marbuta_alef_maqsura=True)
    assert score_task(get_task("asr"), arabic, outputs[:2], folded)["normalizer"] == "oaal+fold-ة/ى"
    # the plain normalizer is the Arabic one on text without Arabic letters, digits or marks
    for text in ["Set an ALARM, please!", "  it's 7 o'clock…  ", "Ünïcode — “quoted”"]:
        assert PlainNormalizer()(text) == normalize_arabic(text)
    assert PlainNormalizer()("إلى") == "إلى" != normalize_arabic("إلى")


def test_a_task_may_name_the_normalizer_of_a_language(restore_known_tasks):
    summary = Task(
        name="headline_en", kind="summarize", prompts={"en": "Headline?"},
        normalizers={"en": "oaal"},
    )  # fmt: skip
    declare_tasks([summary])
    row = Example(
        id="s", task="headline_en", modality="text", language="en", input_text="-",
        target="Storm hits coast",
    )  # fmt: skip
    scores = score_task(summary, [row], ["storm hits the coast"], EvalSettings())
    expected = rouge([row.target], ["storm hits the coast"], ArabicNormalizer())
    assert (scores["normalizer"], scores["rougeL"]) == ("oaal", expected.rouge_l)


def test_validate_knows_the_tasks_of_a_tasks_file(tmp_path: Path, capsys, restore_known_tasks):
    row = {
        "id": "t1", "task": "intent", "modality": "text", "language": "en",
        "input_text": "wake me at seven", "target": "alarm_set", "label": "alarm_set",
    }  # fmt: skip
    manifest = tmp_path / "corpus" / "train" / "manifest.jsonl"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert main(["validate", str(tmp_path / "corpus")]) == 0
    assert "1 row(s) quarantined" in capsys.readouterr().out
    declarations = tmp_path / "tasks.yaml"
    declarations.write_text(yaml.safe_dump({"tasks": [INTENT]}), encoding="utf-8")
    assert main(["validate", str(tmp_path / "corpus"), "--tasks-file", str(declarations)]) == 0
    assert "0 row(s) quarantined" in capsys.readouterr().out
