"""Adaptive mixing's overhead: what the controller adds to a training step of the demo.

The schedule part: the demo recipe's examples (``--corpus``'s train split) drawn for
``--steps`` steps, each followed by the per-task losses the training loop would report
(a synthetic stream: every task's loss falling with noise), once with the demo's fixed mixing
at equal task shares (``balanced`` mixture, the random composer adaptive mixing uses) and once
with each adaptive method (every 20 steps); milliseconds per step, median of ``--rounds``
rounds. The training part: the demo's fine-tune itself (the shipped foundation, its recipe,
``--train-steps`` steps from the frozen-encoder cache, as ``omnisched train`` runs it),
milliseconds per step from its log windows after the first. The overhead is the difference
of the schedule parts over the training step.

    python benchmarks/adaptive.py [--corpus runs/corpus] [--steps 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from omnisched.config import load_recipe
from omnisched.data.manifest import load_split
from omnisched.lab.foundation import shipped_foundation
from omnisched.schedule.mixture import Mixture
from omnisched.schedule.phases import PhaseSpec
from omnisched.schedule.strategies import AdaptiveSchedule, PhasesSchedule
from omnisched.train.loop import train
from omnisched.train.metrics_log import read_metrics
from omnisched.train.schedule import build_schedule

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

REPO = Path(__file__).resolve().parents[1]


def _losses(tasks: list[str], step: int) -> dict[str, float]:
    noise = np.random.default_rng(step).normal(0, 0.05, len(tasks))
    return {
        task: (1 + k) / (1 + 0.01 * step) * (1 + n)
        for k, (task, n) in enumerate(zip(tasks, noise, strict=True))
    }


def _schedule_ms(recipe, examples, steps: int) -> float:
    """Milliseconds per step of drawing the global batch and reporting the step's losses."""
    run = build_schedule(recipe, examples, feedback=True)
    tasks = sorted(recipe.schedule.tasks)
    losses = [_losses(tasks, step) for step in range(1, steps + 1)]
    started = time.perf_counter()
    for step in range(1, steps + 1):
        run.sampler.next_global_batch()
        run.sampler.observe(step, losses[step - 1])
    return (time.perf_counter() - started) * 1000 / steps


def _train_step_ms(recipe, steps: int) -> list[float]:
    """The demo fine-tune's milliseconds per step, one figure per log window after the
    first (which holds the start-up)."""
    recipe = recipe.model_copy(
        update={
            "train": recipe.train.model_copy(
                update={"steps": steps, "log_every": 10, "checkpoint_every": steps}
            ),
            "eval": recipe.eval.model_copy(update={"every": None}),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        train(recipe, Path(tmp) / "run")
        windows = [r for r in read_metrics(Path(tmp) / "run" / "metrics.jsonl") if "step" in r]
    batch = recipe.train.batch_size
    return [1000 * batch / r["examples_per_s"] for r in windows if "examples_per_s" in r][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=60)
    args = parser.parse_args()
    if not (args.corpus / "train" / "manifest.jsonl").is_file():
        parser.error(f"no corpus at {args.corpus}: run `make demo` or `omnisched synth` first")

    demo = load_recipe(REPO / "recipes" / "demo.yaml")
    demo = demo.model_copy(
        update={
            "corpus": args.corpus,
            "model": demo.model.model_copy(update={"path": shipped_foundation()}),
            "cache": Path(tempfile.mkdtemp(prefix="adaptive-bench-")),
        }
    )
    examples = load_split(args.corpus, "train", settings=demo.data)
    common = demo.schedule.model_dump(include={"tasks", "modalities", "sort_window"})
    balanced = PhaseSpec(
        name="balanced",
        tasks=common["tasks"],
        modalities=common["modalities"],
        mixture=Mixture(kind="balanced"),  # every task alike, as adaptive mixing starts
    )
    variants = {
        "fixed (balanced, random composer)": PhasesSchedule(
            strategy="phases", plan=[balanced], **common
        ),
        "adaptive, bandit": AdaptiveSchedule(strategy="adaptive", **common),
        "adaptive, progress": AdaptiveSchedule(strategy="adaptive", method="progress", **common),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, schedule in variants.items():
            recipe = demo.model_copy(update={"schedule": schedule})
            timings[name].append(_schedule_ms(recipe, examples, args.steps))
    step_ms = _train_step_ms(demo, args.train_steps)
    train_ms = statistics.median(step_ms)
    base = statistics.median(timings["fixed (balanced, random composer)"])
    rows = []
    for name, values in timings.items():
        median = statistics.median(values)
        rows.append(
            {
                "schedule": name,
                "ms/step (median)": f"{median:.3f}",
                "rounds (ms)": ", ".join(f"{v:.3f}" for v in values),
                "added over fixed (ms)": f"{median - base:+.3f}",
                "share of the demo's step": f"{(median - base) / train_ms:+.3%}",
            }
        )
    notes = [
        f"{len(examples)} train rows of {args.corpus}; demo recipe (batch "
        f"{demo.train.batch_size}, sort_window {demo.schedule.sort_window}), {args.steps} "
        "steps per round, adaptive updates every 20 steps",
        f"demo fine-tune step (shipped foundation, from the frozen-encoder cache, "
        f"{args.train_steps} steps): median {train_ms:.0f} ms over {len(step_ms)} log windows "
        f"(range {min(step_ms):.0f}–{max(step_ms):.0f} ms)",
        "target: adaptive mixing adds at most 0.5% to the demo's step",
        f"load average at the end {os.getloadavg()[0]:.2f}",
    ]
    print(append("Adaptive mixing overhead", rows, notes))


if __name__ == "__main__":
    main()
