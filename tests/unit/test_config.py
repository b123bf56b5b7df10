"""Recipe loading: errors name the file, the field and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnisched.cli import main
from omnisched.config import load_recipe
from omnisched.errors import ConfigError
from omnisched.lab.foundation import shipped_card
from omnisched.lab.study.runner import load_study

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["demo.yaml", "demo-quick.yaml"])
def test_shipped_uniform_recipes_load(name: str):
    recipe = load_recipe(REPO / "recipes" / name)
    assert recipe.schedule.tasks == ["asr", "ssum", "dialect", "emotion"]
    assert recipe.model.freeze.audio_encoder and recipe.model.freeze.aligner
    assert recipe.model.lora is not None and (recipe.model.lora.r, recipe.model.lora.alpha) == (
        16,
        32,
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\nschedule: {tasks: [asr, translation]}\n", "field 'schedule.uniform.tasks'"),
        ("name: x\nschedule: {strategy: magic}\n", "'uniform'"),
        ("name: x\ntrain: {steps: -1}\n", "field 'train.steps'"),
        ("name: x\ntrain: {stepz: 10}\n", "field 'train.stepz'"),
        ("name: x\nmodel: {lora: {r: 0}}\n", "field 'model.lora.r'"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_recipes_name_the_field(tmp_path: Path, text: str, needle: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_recipe(path)
    assert str(path) in str(error.value)
    assert needle in str(error.value)


def test_yaml_is_read_safely(tmp_path: Path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(path)


@pytest.mark.parametrize(
    ("pretrain_corpus", "needle"),
    [
        ("{path: runs/corpus, seed: 1}", "is the fine-tuning corpus"),
        ("{path: runs/other, seed: 0}", "is the fine-tuning corpus' seed"),
    ],
)
def test_a_study_refuses_a_foundation_pre_trained_on_its_own_corpus(
    tmp_path: Path, pretrain_corpus: str, needle: str
):
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: s\nrecipes: [{REPO / 'recipes/demo.yaml'}]\n"
        f"corpus: {{path: runs/corpus, seed: 0}}\npretrain_corpus: {pretrain_corpus}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load_study(study)
    assert str(study) in str(error.value)
    assert needle in str(error.value)


def test_the_demo_refuses_one_seed_for_both_corpora(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--seed", "2", "--pretrain", "--pretrain-seed", "2"]
    assert main(args) == 2
    assert "seed 2 is the fine-tuning corpus' seed" in capsys.readouterr().err
    assert not out.exists()


def test_the_demo_refuses_the_shipped_foundations_own_corpus(tmp_path: Path, capsys):
    seed = shipped_card()["corpus_synth"]["seed"]
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--seed", str(seed)]) == 2
    assert f"seed {seed} is the fine-tuning corpus' seed" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "preview", "export"])
def test_a_command_line_override_is_validated_like_the_recipe(tmp_path: Path, capsys, command: str):
    recipe = write(tmp_path, "name: x\n")
    args = [command, "--recipe", str(recipe), "--steps", "0"]
    if command == "export":
        args += ["--format", "swift", "--out", str(tmp_path / "out.jsonl")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "command line: invalid recipe" in error
    assert "field 'train.steps': Input should be greater than 0" in error
    assert not (tmp_path / "out.jsonl").exists()


def test_pretraining_steps_from_the_command_line_are_validated(tmp_path: Path, capsys):
    args = ["pretrain", "--corpus", str(tmp_path), "--out", str(tmp_path / "f"), "--steps", "0"]
    assert main(args) == 2
    assert "field 'steps': Input should be greater than 0" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()
