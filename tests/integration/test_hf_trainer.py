"""ScheduledTrainer: transformers.Trainer on a recipe's schedule, with the tiny thinker.

The Trainer trains on exactly our sampler's stream, logs per-task losses, resumes from its own
checkpoint on the same stream, and with gradient accumulation takes the same steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import TrainerCallback

from omnisched.config import Recipe
from omnisched.data.manifest import load_split
from omnisched.integrations.hf_trainer import (
    SAMPLER_FILE,
    ScheduledTrainer,
    training_arguments,
)
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples

TASKS = ["asr", "dialect", "emotion"]


def _recipe(corpus: Path, foundation: Path, tmp_path: Path) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "hf",
            "corpus": str(corpus),
            "model": {
                "path": str(foundation),
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj"]},
            },
            "schedule": {"strategy": "uniform", "tasks": TASKS},
            "train": {
                "steps": 4,
                "batch_size": 4,
                "lr": 1e-3,
                "warmup_steps": 0,
                "log_every": 1,
                "checkpoint_every": 2,
                "num_workers": 0,
            },
            "cache": str(tmp_path / "cache"),
        }
    )


def _stream(recipe: Recipe) -> list[list[str]]:
    """The global batches of example ids our own sampler draws for the recipe."""
    examples = select_examples(recipe.schedule, load_split(recipe.corpus, "train"))
    settings = recipe.train
    plan = build_plan(
        recipe.schedule.phases(), examples, settings.batch_size, settings.steps, settings.seed
    )
    return [[examples[i].id for i in batch] for batch in ScheduledBatchSampler(plan, settings.seed)]


def _spy(trainer: ScheduledTrainer) -> list[list[str]]:
    """The example ids of every batch the Trainer computes a loss on."""
    seen: list[list[str]] = []
    compute_loss = trainer.compute_loss

    def spying(model, inputs, *args, **kwargs):
        seen.append(list(inputs["example_ids"]))
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = spying
    return seen


def _train_logs(trainer: ScheduledTrainer) -> list[dict]:
    return [entry for entry in trainer.state.log_history if "loss" in entry]


class _StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        control.should_training_stop = state.global_step >= self.step


@pytest.fixture(scope="module")
def first_run(small_corpus: Path, micro_foundation: Path, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hf")
    recipe = _recipe(small_corpus, micro_foundation, tmp_path)
    trainer = ScheduledTrainer(recipe, output_dir=tmp_path / "out")
    seen = _spy(trainer)
    trainer.train()
    return recipe, tmp_path / "out", seen, _train_logs(trainer)


def test_the_trainer_trains_on_our_stream_and_logs_each_task(first_run):
    recipe, out, seen, logs = first_run
    assert seen == _stream(recipe)
    assert [entry["step"] for entry in logs] == [1, 2, 3, 4]
    for entry, batch in zip(logs, seen, strict=True):
        tasks = {example_id.split("-")[0] for example_id in batch}
        assert {key for key in entry if key.startswith("loss/")} == {f"loss/{t}" for t in tasks}
        assert entry["loss"] > 0 and all(entry[f"loss/{t}"] > 0 for t in tasks)
    assert (out / "checkpoint-2" / SAMPLER_FILE).is_file()


def test_resuming_a_trainer_checkpoint_continues_the_same_stream(first_run, tmp_path):
    recipe, out, seen, logs = first_run
    trainer = ScheduledTrainer(recipe, output_dir=out)
    resumed = _spy(trainer)
    trainer.train(resume_from_checkpoint=str(out / "checkpoint-2"))
    assert resumed == seen[2:]
    again = _train_logs(trainer)  # the checkpoint's log history, then the resumed steps
    assert [entry["step"] for entry in again] == [1, 2, 3, 4]
    for entry, before in zip(again[2:], logs[2:], strict=True):
        assert entry["loss"] == pytest.approx(before["loss"], rel=1e-5)


def test_gradient_accumulation_splits_each_global_batch_and_keeps_the_loss(first_run, tmp_path):
    recipe, _, seen, logs = first_run
    args = training_arguments(recipe, tmp_path / "accumulated", gradient_accumulation_steps=2)
    trainer = ScheduledTrainer(recipe, args=args, callbacks=[_StopAt(2)])
    micro = _spy(trainer)
    trainer.train()
    assert [a + b for a, b in zip(micro[0::2], micro[1::2], strict=True)] == seen[:2]
    for entry, before in zip(_train_logs(trainer), logs[:2], strict=True):
        assert entry["loss"] == pytest.approx(before["loss"], rel=1e-5)
        assert entry["grad_norm"] == pytest.approx(before["grad_norm"], rel=1e-4)
