"""Crash and resume: ``omnisched train`` killed with SIGKILL, at a random step or inside a
checkpoint write, resumes from its last complete checkpoint and finishes exactly as a run that
was never interrupted: the same batches from the resume on, the same final weights."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import omnisched
from omnisched.cli import main
from omnisched.train.checkpoint import (
    latest_checkpoint,
    load_optimizer_state,
    load_trainer_state,
)

STEPS = 16
CHECKPOINT_EVERY = 4
# Seconds after which a child that has not reached its point counts as hung: only a guard
# against waiting forever; a busy machine can take minutes to start one.
HANG = 900
SRC = Path(omnisched.__file__).resolve().parents[1]

# Runs the CLI with the checkpoint writer pausing after the temporary directory of one
# checkpoint is complete and fsynced, before its rename; it signals the pause through a file.
PAUSING_CLI = """
import sys, time
from pathlib import Path
import omnisched.train.checkpoint as checkpoint
from omnisched.cli import main

flag, paused = Path(sys.argv[1]), sys.argv[2]
fsync_tree = checkpoint._fsync_tree

def fsync_then_pause(root):
    fsync_tree(root)
    if root.name == paused:
        flag.write_text("paused")
        time.sleep(600)

checkpoint._fsync_tree = fsync_then_pause
sys.exit(main(sys.argv[3:]))
"""


ADAPTIVE = {
    "strategy": "adaptive",
    "every": 2,
    "delay": 8,  # more than the loader draws ahead: decisions at 2, 4, .. apply at 10, 12, ..
}


def _recipe(tmp: Path, corpus: Path, foundation: Path, schedule: dict | None = None) -> Path:
    recipe = {
        "name": "crash",
        "corpus": str(corpus),
        "model": {"path": str(foundation)},
        # text rows: the audio tower is frozen and slow on CPU, and resuming does not
        # depend on the modality
        "schedule": {
            "tasks": ["asr", "dialect", "emotion"],
            "modalities": ["text"],
            **(schedule or {}),
        },
        "train": {
            "steps": STEPS,
            "batch_size": 4,
            "lr": 5e-3,
            "warmup_steps": 2,
            "checkpoint_every": CHECKPOINT_EVERY,
            "log_every": 1,
            "log_batches": True,
        },
    }
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def _train_args(recipe: Path, run: Path) -> list[str]:
    return ["train", "--recipe", str(recipe), "--run-dir", str(run)]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }


def _batches(run: Path) -> list[dict]:
    path = run / "batches.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "final" / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def reference(small_corpus: Path, micro_foundation: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(recipe, run directory) of an uninterrupted run."""
    tmp = tmp_path_factory.mktemp("reference")
    recipe = _recipe(tmp, small_corpus, micro_foundation)
    assert main(_train_args(recipe, tmp / "run")) == 0
    return recipe, tmp / "run"


@pytest.fixture(scope="module")
def adaptive_reference(
    small_corpus: Path, micro_foundation: Path, tmp_path_factory
) -> tuple[Path, Path]:
    """(recipe, run directory) of an uninterrupted run with adaptive mixing."""
    tmp = tmp_path_factory.mktemp("adaptive")
    recipe = _recipe(tmp, small_corpus, micro_foundation, ADAPTIVE)
    assert main(_train_args(recipe, tmp / "run")) == 0
    return recipe, tmp / "run"


def _assert_resumed_like_reference(run: Path, reference_run: Path, before: int, resumed_at: int):
    """The ``before`` batches of the killed run, then those after resuming at ``resumed_at``,
    are the reference's; the final weights match it."""
    expected = {record["step"]: record["ids"] for record in _batches(reference_run)}
    assert sorted(expected) == list(range(1, STEPS + 1))
    records = _batches(run)
    for record in records[:before]:
        assert record["ids"] == expected[record["step"]], record["step"]
    after = records[before:]
    assert [r["step"] for r in after] == list(range(resumed_at + 1, STEPS + 1))
    for record in after:
        assert record["ids"] == expected[record["step"]], record["step"]
    final, wanted = _weights(run), _weights(reference_run)
    assert final.keys() == wanted.keys()
    for name, value in wanted.items():
        torch.testing.assert_close(final[name], value, rtol=1e-4, atol=1e-6, msg=name)


def test_sigkill_at_a_random_step_then_resume_matches_an_uninterrupted_run(
    reference: tuple[Path, Path], tmp_path: Path
):
    _kill_at_a_random_step_and_resume(*reference, tmp_path)


def test_adaptive_mixing_killed_at_a_random_step_resumes_with_the_same_weights(
    adaptive_reference: tuple[Path, Path], tmp_path: Path
):
    """The weights move during the run (so the resume has decisions to restore) and the
    resumed run draws the reference's batches with them."""
    recipe, reference_run = adaptive_reference
    weights = [
        tuple(v for k, v in sorted(r.items()) if k.startswith("weight/"))
        for r in map(json.loads, (reference_run / "metrics.jsonl").read_text().splitlines())
        if "event" not in r
    ]
    assert len(weights) == STEPS and len(set(weights)) > 1
    _kill_at_a_random_step_and_resume(recipe, reference_run, tmp_path)


def _kill_at_a_random_step_and_resume(recipe: Path, reference_run: Path, tmp_path: Path) -> None:
    kill_step = random.SystemRandom().randint(CHECKPOINT_EVERY + 1, STEPS - 5)
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "omnisched", *_train_args(recipe, run)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + HANG
    while len(_batches(run)) < kill_step and process.poll() is None:
        assert time.monotonic() < deadline, f"no step {kill_step} within {HANG} s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, (kill_step, stderr.decode()[-2000:])
    assert not (run / "final").exists(), f"the run finished before the kill at {kill_step}"
    before = len(_batches(run))
    resumed_at = int(latest_checkpoint(run).name.removeprefix("step-"))
    assert resumed_at >= CHECKPOINT_EVERY and before >= kill_step

    assert main(_train_args(recipe, run)) == 0
    _assert_resumed_like_reference(run, reference_run, before, resumed_at)


def test_sigkill_inside_a_checkpoint_write_keeps_the_previous_checkpoint(
    reference: tuple[Path, Path], tmp_path: Path
):
    recipe, reference_run = reference
    run, flag = tmp_path / "run", tmp_path / "paused"
    paused = f".step-{2 * CHECKPOINT_EVERY:06d}.tmp"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_CLI, str(flag), paused, *_train_args(recipe, run)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + HANG
    while not flag.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the checkpoint write never paused"
        time.sleep(0.01)
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    checkpoints = run / "checkpoints"
    assert {"adapter_model.safetensors", "optimizer.pt", "trainer_state.json"} <= {
        p.name for p in (checkpoints / paused).iterdir()
    }
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    previous = latest_checkpoint(run)
    assert previous.name == f"step-{CHECKPOINT_EVERY:06d}"
    assert load_trainer_state(previous)["step"] == CHECKPOINT_EVERY
    assert set(load_optimizer_state(previous)) == {"optimizer", "scheduler", "rng"}
    assert load_file(str(previous / "adapter_model.safetensors"))
    before = len(_batches(run))

    assert main(_train_args(recipe, run)) == 0
    assert not (checkpoints / paused).exists()
    _assert_resumed_like_reference(run, reference_run, before, CHECKPOINT_EVERY)
