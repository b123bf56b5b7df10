"""Metrics log: one JSON object per line in ``metrics.jsonl``, appended as training goes;
``RunLog`` writes what ``omnisched train`` records there."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from omnisched.models.lora import parameter_counts
from omnisched.train.schedule import RunSchedule
from omnisched.train.step import StepResult


class MetricsLog:
    """Appends records to a JSON Lines file; non-finite numbers are written as null."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(clean, ensure_ascii=False) + "\n")


def read_metrics(path: Path) -> list[dict]:
    """All records of a metrics log."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class RunLog:
    """A training run's ``metrics.jsonl`` (and with ``log_batches``, ``batches.jsonl``),
    written by the main process only: the parameters and the plan, each log window's losses
    and throughput, phase changes, non-finite steps, out-of-memory splits and dev evaluations.
    """

    def __init__(self, run_dir: Path, main: bool, schedule: RunSchedule, log_batches: bool) -> None:
        self.main = main
        self.schedule = schedule
        self.metrics = MetricsLog(run_dir / "metrics.jsonl")
        self.batches = MetricsLog(run_dir / "batches.jsonl") if log_batches else None
        self.ids = [example.id for example in schedule.examples]
        self.phase: str | None = None
        self.counts: dict[str, dict[str, int]] = {}
        self.window_start, self.window_examples = 0.0, 0

    def write(self, record: dict) -> None:
        if self.main:
            self.metrics.write(record)

    def parameters(self, model: torch.nn.Module) -> None:
        """Counts the model's total and trainable parameters per part, and prints them."""
        self.counts = parameter_counts(model)
        if self.main:
            print(
                "trainable parameters: "
                + ", ".join(
                    f"{part} {c['trainable']:,}/{c['total']:,}" for part, c in self.counts.items()
                )
            )

    def begin(self, processes: int) -> None:
        """Training starts or resumes here: a fresh run's first records (its parameters,
        examples, processes and plan); the first log window starts now."""
        step = self.schedule.sampler.step
        self.phase = self.schedule.sampler.phase_at(step - 1) if step else None
        if step == 0:
            self.write(
                {
                    "event": "start",
                    "parameters": self.counts,
                    "examples": len(self.schedule.examples),
                    "processes": processes,
                }
            )
            self.write({"event": "plan", "phases": self.schedule.plan.describe()})
        self.window_start, self.window_examples = time.perf_counter(), 0

    def nonfinite(self, step: int, result: StepResult, grad_norm: torch.Tensor, count: int) -> None:
        record = {"loss": result.total_loss.item(), "grad_norm": float(grad_norm)}
        self.write({"event": "nonfinite", "step": step, **record, "count": count})

    def drawn(self, step: int, result: StepResult, examples: int) -> None:
        """What step ``step`` drew: its batch's ids, a split to fit in memory, a new phase;
        ``examples`` (over every rank) count towards the window's throughput."""
        if result.parts > 1:
            self.write({"event": "oom_split", "step": step, "parts": result.parts})
        if self.batches is not None and self.main:
            batch = self.schedule.sampler.drawn_batch(step - 1)
            self.batches.write({"step": step, "ids": [self.ids[i] for i in batch]})
        if (phase := self.schedule.sampler.phase_at(step - 1)) != self.phase:
            self.phase = phase
            self.write({"event": "phase", "step": step - 1, "phase": phase})
        self.window_examples += examples

    def window(
        self,
        step: int,
        result: StepResult,
        grad_norm: torch.Tensor,
        lr: float,
        task_means: dict[str, float],
    ) -> None:
        """The record of the log window ending at ``step``: the step's losses, gradient norm
        and learning rate, the window's throughput and per-task mean losses, and (adaptive
        mixing) the task weights the step was drawn with."""
        elapsed = time.perf_counter() - self.window_start
        record = {
            "step": step,
            "loss": result.loss.item(),
            "total_loss": result.total_loss.item(),
            "grad_norm": float(grad_norm),
            "lr": lr,
            "examples_per_s": self.window_examples / elapsed,
        }
        record |= {f"loss/{task}": mean for task, mean in task_means.items()}
        weights = self.schedule.sampler.task_weights(step - 1) or {}
        self.write(record | {f"weight/{task}": weight for task, weight in weights.items()})
        self.window_start, self.window_examples = time.perf_counter(), 0
