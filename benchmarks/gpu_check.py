"""The GPU check: on one H100 or H200, in about 8 minutes, what omnisched's data path gives a
7B audio LLM's training step with fixed and with budget batches, and how fast the tiny
foundation's demo fine-tune runs there.

1. ``gpu_step.py`` twice on the Qwen2.5-Omni-7B thinker configuration (random init, bf16, LoRA,
   gradient checkpointing): fixed batches of ``--batch`` and budget batches of
   ``--budget-seconds`` padded seconds (at most ``--cap`` examples); each writes its tokens/s,
   MFU, peak memory and data-stall share (fed by the data path vs the same batches pre-built)
   to RESULTS.md.
2. The demo recipe (shipped foundation, its corpus) fine-tuned for ``--demo-steps`` steps on
   the GPU: steps/s and examples/s from its log.

Without a GPU it writes "not run: no GPU" and stops: the figures are only ever measured.

    python benchmarks/gpu_check.py [--corpus runs/corpus]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _step_runs(args: argparse.Namespace) -> list[str]:
    """Runs gpu_step.py with fixed and with budget batches; returns what each reported."""
    common = [
        sys.executable,
        str(HERE / "gpu_step.py"),
        "--gradient-checkpointing",
        "--corpus",
        str(args.corpus),
        "--steps",
        str(args.steps),
        "--repeats",
        "2",
    ]
    runs = {
        "fixed": [*common, "--batch", str(args.batch)],
        "budget": [*common, "--batch", str(args.cap), "--budget-seconds", str(args.budget_seconds)],
    }
    outcomes = []
    for name, command in runs.items():
        started = time.perf_counter()
        done = subprocess.run(command, timeout=args.part_timeout, check=False)
        seconds = time.perf_counter() - started
        outcomes.append(f"{name} batches: exit {done.returncode} after {seconds:.0f} s")
    return outcomes


def _demo_speed(args: argparse.Namespace) -> dict:
    """The demo fine-tune on the GPU for ``--demo-steps`` steps: steps/s and examples/s."""
    from omnisched.config import load_recipe
    from omnisched.lab.foundation import shipped_foundation
    from omnisched.train.loop import train
    from omnisched.train.metrics_log import read_metrics

    demo = load_recipe(REPO / "recipes" / "demo.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        recipe = demo.model_copy(
            update={
                "corpus": args.corpus,
                "cache": Path(tmp) / "cache",
                "model": demo.model.model_copy(update={"path": shipped_foundation()}),
                "train": demo.train.model_copy(
                    update={"steps": args.demo_steps, "log_every": 10, "checkpoint_every": 10**6}
                ),
                "eval": demo.eval.model_copy(update={"every": None}),
            }
        )
        started = time.perf_counter()
        train(recipe, Path(tmp) / "run")
        wall = time.perf_counter() - started
        windows = [r for r in read_metrics(Path(tmp) / "run" / "metrics.jsonl") if "lr" in r]
    speeds = [r["examples_per_s"] for r in windows[1:]]
    examples = statistics.median(speeds)
    return {
        "run": f"demo recipe, {args.demo_steps} steps of {recipe.train.batch_size}",
        "examples/s (median of log windows)": f"{examples:.1f}",
        "steps/s": f"{examples / recipe.train.batch_size:.2f}",
        "wall (s, start-up and cache fill included)": f"{wall:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--batch", type=int, default=8, help="fixed batches: examples")
    parser.add_argument("--budget-seconds", type=float, default=240.0)
    parser.add_argument("--cap", type=int, default=64, help="budget batches: most examples")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--demo-steps", type=int, default=200)
    parser.add_argument("--part-timeout", type=int, default=200, help="seconds per 7B run")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(append("GPU check", [{"part": "all", "result": "not run: no GPU"}]))
        return
    device = torch.cuda.get_device_name(0)
    outcomes = _step_runs(args)
    row = _demo_speed(args)
    notes = [f"device: {device}", *outcomes, "the 7B runs' figures are in their own sections"]
    print(append("GPU check: tiny foundation's demo fine-tune", [row], notes))


if __name__ == "__main__":
    main()
