"""``omnisched export``: the training file holds the sampler's global batches in order, as chat
rows ms-swift and LLaMA-Factory read, and reads back through our own importer unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from omnisched.cli import main
from omnisched.config import load_recipe
from omnisched.data.manifest import load_split
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples
from omnisched.tasks import TASKS

BATCH, STEPS = 8, 6
PHASES = {
    "strategy": "phases",
    "tasks": ["asr", "ssum", "dialect", "emotion", "slu"],
    "modalities": ["speech", "text"],
    "plan": [
        {"name": "listen", "tasks": ["asr"], "modalities": ["speech"], "steps": 2},
        {
            "name": "mixed",
            "tasks": ["asr", "ssum", "dialect", "emotion", "slu"],
            "modalities": ["speech", "text"],
            "composer": "shuffle",
        },
    ],
}


def _recipe(tmp_path: Path, corpus: Path, schedule: dict) -> Path:
    recipe = {
        "name": "exported",
        "corpus": str(corpus),
        "model": {"path": str(tmp_path / "unused-model")},
        "schedule": schedule,
        "train": {"steps": STEPS, "batch_size": BATCH, "seed": 7},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def _trainer_stream(recipe_path: Path):
    """The examples and global batches as ``train`` builds them (sampler with feedback on)."""
    recipe = load_recipe(recipe_path)
    examples = select_examples(recipe.schedule, load_split(recipe.corpus, "train"))
    settings = recipe.train
    plan = build_plan(
        recipe.schedule.phases(), examples, settings.batch_size, settings.steps, settings.seed
    )
    sampler = ScheduledBatchSampler(plan, seed=settings.seed, feedback=True)
    return [examples[i] for batch in sampler for i in batch]


@pytest.fixture
def exported(tmp_path, small_corpus, capsys):
    recipe = _recipe(tmp_path, small_corpus, PHASES)
    out = tmp_path / "export" / "schedule.jsonl"
    assert main(["export", "--recipe", str(recipe), "--format", "swift", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    printed = capsys.readouterr().out
    assert f"{STEPS * BATCH} rows = {STEPS} global batches of {BATCH}" in printed
    assert "--dataset_shuffle false --train_dataloader_shuffle false" in printed
    return recipe, out, rows


def test_rows_follow_the_sampler_batch_order(exported, small_corpus):
    recipe, out, rows = exported
    expected = _trainer_stream(recipe)
    assert len(rows) == len(expected) == STEPS * BATCH
    order = [json.loads(line) for line in (out.parent / "schedule.jsonl.order.jsonl").open()]
    assert [record["id"] for record in order] == [example.id for example in expected]
    assert [record["step"] for record in order] == [row // BATCH for row in range(len(rows))]
    assert {record["phase"] for record in order[: 2 * BATCH]} == {"listen"}
    assert {record["phase"] for record in order[2 * BATCH :]} == {"mixed"}
    assert {e.modality for e in expected[2 * BATCH :]} == {"speech", "text"}
    for row, example in zip(rows, expected, strict=True):
        user, answer = row["messages"]
        prompt = TASKS[example.task].prompts[example.language]
        assert (user["role"], answer["role"], answer["content"]) == (
            "user",
            "assistant",
            example.target,
        )
        if example.modality == "speech":
            assert user["content"] == f"<audio>{prompt}"
            assert row["audios"] == [str((small_corpus / example.audio).resolve())]
        else:
            assert user["content"] == f"{example.input_text}\n{prompt}"
            assert row["audios"] == []


def test_llamafactory_file_and_dataset_info_entry(exported, tmp_path):
    recipe, _, swift_rows = exported
    out = tmp_path / "lf" / "schedule.json"
    info = out.parent / "dataset_info.json"
    info.parent.mkdir()
    info.write_text(json.dumps({"mine": {"file_name": "mine.json"}}))
    argv = ["export", "--recipe", str(recipe), "--format", "llamafactory", "--out", str(out)]
    assert main([*argv, "--name", "omni_schedule"]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == swift_rows
    entries = json.loads(info.read_text(encoding="utf-8"))
    assert entries["mine"] == {"file_name": "mine.json"}
    assert entries["omni_schedule"] == {
        "file_name": "schedule.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "audios": "audios"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


def test_export_reads_back_through_the_swift_importer(exported, small_corpus, tmp_path):
    recipe, out, _ = exported
    expected = _trainer_stream(recipe)
    corpus = tmp_path / "round-trip"
    assert main(["import", "swift", str(out), "--out", str(corpus)]) == 0
    imported = load_split(corpus, "train", strict=True)
    assert len(imported) == len(expected)
    fields = ("task", "modality", "language", "target", "label", "input_text", "duration_s")
    for back, original in zip(imported, expected, strict=True):
        assert [getattr(back, f) for f in fields] == [getattr(original, f) for f in fields]
        if original.audio is not None:
            copied = (corpus / back.audio).read_bytes()
            assert copied == (small_corpus / original.audio).read_bytes()


def test_plateau_phases_are_exported_at_their_latest_end_with_a_note(
    tmp_path, small_corpus, capsys
):
    schedule = {
        "strategy": "phases",
        "tasks": ["asr", "emotion"],
        "plan": [
            {"name": "asr", "tasks": ["asr"], "until_plateau": {"max_fraction": 0.5}},
            {"name": "both", "tasks": ["asr", "emotion"]},
        ],
    }
    recipe = _recipe(tmp_path, small_corpus, schedule)
    out = tmp_path / "plateau.jsonl"
    assert main(["export", "--recipe", str(recipe), "--format", "swift", "--out", str(out)]) == 0
    assert "note: phase 'asr' ends on a loss plateau in training" in capsys.readouterr().out
    order = [json.loads(line) for line in out.with_name("plateau.jsonl.order.jsonl").open()]
    assert [r["phase"] for r in order[::BATCH]] == ["asr"] * 3 + ["both"] * 3
