"""`accelerate launch -m omnisched train` on two CPU processes (DDP over gloo) takes the same
steps as one process on the same global batches, of a fixed count or by budget: the same
logged losses, gradient norms and learning rates, the same final weights. (Weighting each
rank's own token mean equally instead moves the gradient norm by ~1e-3 and the weights by
~1e-3 here; a scheduler stepped once per rank would run the learning-rate schedule twice as
fast.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

import omnisched
from omnisched.cli import main
from omnisched.train.metrics_log import read_metrics

DDP_CONFIG = Path(__file__).parents[2] / "configs" / "accelerate" / "ddp.yaml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _steps(run: Path) -> list[dict]:
    return [r for r in read_metrics(run / "metrics.jsonl") if "loss" in r]


UNIFORM = {"strategy": "uniform", "tasks": ["asr", "ssum", "dialect", "emotion"]}
# budget batches: each rank gets a share of near-equal token load, not half the examples
BUDGET = UNIFORM | {"sort_window": 2, "batching": {"max_seconds": 40.0, "max_tokens": 2400}}


@pytest.mark.parametrize("schedule", [UNIFORM, BUDGET], ids=["fixed", "budget"])
def test_two_processes_train_as_one(
    schedule: dict, small_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    recipe = {
        "name": "ddp",
        "corpus": str(small_corpus),
        "model": {
            "path": str(micro_foundation),
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        },
        "schedule": schedule,
        "train": {
            "steps": 2,
            "batch_size": 8 if schedule is UNIFORM else 16,
            "lr": 1e-3,
            "warmup_steps": 0,
            "log_every": 1,
            "num_workers": 0,
            "log_batches": True,
        },
        "cache": str(tmp_path / "cache"),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")

    source = str(Path(omnisched.__file__).parents[1])  # this checkout's sources, not another
    env = os.environ | {
        "ACCELERATE_USE_CPU": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])),
    }
    command = [
        *(sys.executable, "-m", "accelerate.commands.launch"),
        *("--config_file", str(DDP_CONFIG), "--num_processes", "2", "--mixed_precision", "no"),
        *("--main_process_port", str(_free_port())),
        *("-m", "omnisched", "train", "--recipe", str(path), "--run-dir", str(tmp_path / "ddp")),
    ]
    launched = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert main(["train", "--recipe", str(path), "--run-dir", str(tmp_path / "single")]) == 0

    starts = {
        name: next(r for r in read_metrics(tmp_path / name / "metrics.jsonl") if "processes" in r)
        for name in ("ddp", "single")
    }
    assert starts["ddp"]["processes"] == 2 and starts["single"]["processes"] == 1
    batches = {name: read_metrics(tmp_path / name / "batches.jsonl") for name in ("ddp", "single")}
    assert batches["ddp"] == batches["single"]  # the main process logs the global batch
    ddp, single = _steps(tmp_path / "ddp"), _steps(tmp_path / "single")
    assert [r["step"] for r in ddp] == [r["step"] for r in single] == [1, 2]
    for two, one in zip(ddp, single, strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-4)
        assert two["lr"] == one["lr"]  # one scheduler step per global step

    weights = "final/adapter_model.safetensors"
    two, one = load_file(tmp_path / "ddp" / weights), load_file(tmp_path / "single" / weights)
    assert two.keys() == one.keys()
    for name in one:
        assert (two[name] - one[name]).abs().max() < 1e-6, name
