"""Adaptive mixing: task weights set online from the per-task training losses.

A phase with ``adaptive:`` settings starts from its mixture's task shares; every ``every``
steps its ``MixController`` turns the losses of the steps since the last update into new task
weights, which the phase's composer draws with from ``delay`` steps later (so a data loader
that draws batches ahead of training never sees a weight that depends on when it ran). Inside
a task the pools keep the shares the mixture gave them.

Every loss is read relative to the task's mean loss over the phase's first update window, so
that tasks whose losses have different scales (a transcript's tokens, a label's one word)
compare. Two methods:

- ``bandit``: exponential weights over tasks (EXP3 as in Online Data Mixing, with every task
  observed at every update, so no importance weighting): the reward of a task is its relative
  loss, the evidence ``S ← decay · S + reward``, the target ``softmax(eta · S)``: tasks whose
  loss stays high get more of the batch.
- ``progress``: a curve fitted to each task's relative loss against the examples it has been
  given (``power``: L = a n^-b, ``exponential``: L = a e^-λn; least squares in log space over
  the last ``fit_windows`` updates), and the target proportional to the predicted improvement
  per example, -dL/dn at the task's current n (as in ADO): tasks still learning fast get more.

Then, in order: the target is smoothed into the running weights
(``w ← smoothing · w + (1 − smoothing) · target``); a task whose loss level (its relative
loss smoothed the same way, so one noisy window does not count) has risen more than
``forgetting.rise`` above the lowest level it reached is raised to at least
``forgetting.weight`` (replay, so an early task is not lost while later ones are learned);
and the weights are mixed with uniform so that every task keeps at least ``floor``. The
weights always sum to one.

The controller's state (weights, evidence, loss history, decisions) is plain JSON and part of
the sampler's ``state_dict``: a resumed run makes the same decisions from the same losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from omnisched.errors import ConfigError


class Forgetting(BaseModel):
    """Replay for a task whose loss rises above its best: at least ``weight`` of the batch
    while its relative loss is more than ``rise`` above the best it reached."""

    model_config = ConfigDict(extra="forbid")

    rise: float = Field(0.1, gt=0, description="relative rise of a task's loss above its best")
    weight: float = Field(0.25, gt=0, lt=1, description="the task's weight while it has risen")


class AdaptiveMixing(BaseModel):
    """How a phase's task weights follow the training losses (see ``schedule.adaptive``)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["bandit", "progress"] = "bandit"
    every: int = Field(20, ge=1, description="steps between two updates of the weights")
    delay: int = Field(
        16,
        ge=1,
        description="steps between an update and the first batch drawn with it (more than "
        "the data loader draws ahead)",
    )
    floor: float = Field(0.05, ge=0, lt=1, description="the least weight of every task")
    smoothing: float = Field(
        0.5, ge=0, lt=1, description="share of the old weights kept at each update"
    )
    eta: float = Field(1.0, gt=0, description="bandit: how sharply evidence becomes weight")
    decay: float = Field(0.9, ge=0, lt=1, description="bandit: evidence kept at each update")
    curve: Literal["power", "exponential"] = "power"
    fit_windows: int = Field(8, ge=3, description="progress: updates the curve is fitted on")
    forgetting: Forgetting | None = Forgetting()


def check_floor(settings: AdaptiveMixing, tasks: int, where: str) -> None:
    """Raises a ConfigError when the floor leaves no weight to adapt over ``tasks`` tasks."""
    if settings.floor * tasks >= 1:
        raise ConfigError(
            f"{where}: adaptive floor {settings.floor} for {tasks} tasks leaves nothing to "
            f"adapt; lower it below {1 / tasks:.3f}"
        )


@dataclass
class _Window:
    """Per-task loss sums and counts of the steps since the last update."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, losses: dict[str, float]) -> None:
        for task, loss in losses.items():
            self.sums[task] = self.sums.get(task, 0.0) + float(loss)
            self.counts[task] = self.counts.get(task, 0) + 1

    def means(self) -> dict[str, float]:
        return {task: self.sums[task] / self.counts[task] for task in self.sums}


class MixController:
    """Task weights of one adaptive phase that begins at step ``start``, from ``initial``
    (the mixture's task shares) on, updated from the per-task losses it observes.

    ``weights_at(step)`` is a pure function of the decisions taken so far: the weights in
    effect for the batch of global step ``step``."""

    def __init__(
        self,
        settings: AdaptiveMixing,
        initial: dict[str, float],
        batch_size: int,
        start: int = 0,
    ) -> None:
        self.settings = settings
        self.tasks = sorted(initial)
        check_floor(settings, len(self.tasks), "adaptive")
        if settings.forgetting and settings.forgetting.weight <= settings.floor:
            raise ConfigError(
                f"adaptive: forgetting.weight {settings.forgetting.weight} is not above the "
                f"floor {settings.floor}, so replay would never raise a task"
            )
        total = sum(initial.values())
        self.batch_size = batch_size
        self.start = start
        self.raw = {task: initial[task] / total for task in self.tasks}  # before the floor
        # (effective step, weights): the first applies from the phase's start
        self.decisions: list[tuple[int, dict[str, float]]] = [(start, self._floored(self.raw))]
        self.window = _Window()
        self.reference: dict[str, float] = {}  # each task's first window mean loss
        self.level: dict[str, float] = {}  # each task's smoothed relative loss
        self.best: dict[str, float] = {}  # each task's lowest level
        self.evidence = dict.fromkeys(self.tasks, 0.0)
        self.seen = dict.fromkeys(self.tasks, 0.0)  # examples each task was given (expected)
        self.curve: dict[str, list[tuple[float, float]]] = {t: [] for t in self.tasks}

    def weights_at(self, step: int) -> dict[str, float]:
        """The task weights the batch of global step ``step`` is drawn with."""
        for effective, weights in reversed(self.decisions):
            if effective <= step:
                return weights
        return self.decisions[0][1]

    def observe(self, step: int, losses: dict[str, float]) -> int | None:
        """Training has finished global step ``step`` with these per-task mean losses (the
        batch's, the same on every rank). Returns the step a new decision takes effect from,
        on an update step."""
        weights = self.weights_at(step - 1)
        for task in self.tasks:
            self.seen[task] += weights[task] * self.batch_size
        self.window.add({t: loss for t, loss in losses.items() if t in self.raw})
        if (step - self.start) % self.settings.every:
            return None
        return self._update(step)

    def _update(self, step: int) -> int | None:
        means = self.window.means()
        self.window = _Window()
        for task, mean in means.items():
            self.reference.setdefault(task, max(mean, 1e-8))
        relative = {task: mean / self.reference[task] for task, mean in means.items()}
        if not relative:
            return None
        for task, value in relative.items():
            self.curve[task] = [*self.curve[task], (self.seen[task], value)][
                -self.settings.fit_windows :
            ]
        target = self._target(relative)
        smoothing = self.settings.smoothing
        raw = {t: smoothing * self.raw[t] + (1 - smoothing) * target[t] for t in self.tasks}
        for task, value in relative.items():
            level = self.level.get(task, value)
            self.level[task] = smoothing * level + (1 - smoothing) * value
        raw = self._guard(raw)
        for task in relative:
            self.best[task] = min(self.best.get(task, self.level[task]), self.level[task])
        self.raw = raw
        effective = step + self.settings.delay
        self.decisions.append((effective, self._floored(raw)))
        return effective

    def _target(self, relative: dict[str, float]) -> dict[str, float]:
        """The method's weights from this update's relative losses."""
        if self.settings.method == "bandit":
            for task, value in relative.items():
                self.evidence[task] = self.settings.decay * self.evidence[task] + value
            scores = np.array([self.settings.eta * self.evidence[t] for t in self.tasks])
            target = np.exp(scores - scores.max())
        else:
            target = np.array([self._improvement(task) for task in self.tasks])
            if not target.any():  # nothing fitted yet, or every task flat: keep the weights
                return dict(self.raw)
        return dict(zip(self.tasks, (target / target.sum()).tolist(), strict=True))

    def _improvement(self, task: str) -> float:
        """Predicted improvement of the relative loss per example, -dL/dn, from the fitted
        curve at the task's latest point (0 until three updates, or when not falling)."""
        points = [(n, value) for n, value in self.curve[task] if n > 0 and value > 0]
        if len(points) < 3:
            return 0.0
        n = np.array([p[0] for p in points])
        log_loss = np.log([p[1] for p in points])
        x = np.log(n) if self.settings.curve == "power" else n
        slope, intercept = np.polyfit(x, log_loss, 1)
        if not math.isfinite(slope) or slope >= 0:
            return 0.0
        fitted = math.exp(slope * x[-1] + intercept)
        rate = -slope * fitted  # exponential: λ·L
        return float(rate / n[-1] if self.settings.curve == "power" else rate)  # power: b·L/n

    def _guard(self, raw: dict[str, float]) -> dict[str, float]:
        """Raises every task whose loss level has risen above its best to the replay weight."""
        guard = self.settings.forgetting
        if guard is None:
            return raw
        risen = [
            t
            for t, level in self.level.items()
            if t in self.best and level > (1 + guard.rise) * self.best[t]
        ]
        if not risen:
            return raw
        raised = {t: max(raw[t], guard.weight) for t in risen}
        room = 1 - sum(raised.values())
        others = [t for t in self.tasks if t not in raised]
        if room <= 0 or not others:
            total = sum(raised.values())
            return {t: raised.get(t, 0.0) / total for t in self.tasks}
        rest = sum(raw[t] for t in others)
        return raised | {t: room * (raw[t] / rest if rest > 0 else 1 / len(others)) for t in others}

    def _floored(self, raw: dict[str, float]) -> dict[str, float]:
        floor = self.settings.floor
        scale = 1 - floor * len(self.tasks)
        total = sum(raw.values())
        return {t: floor + scale * raw[t] / total for t in self.tasks}

    def state_dict(self) -> dict:
        return {
            "start": self.start,
            "raw": self.raw,
            "decisions": [[effective, weights] for effective, weights in self.decisions],
            "window": {"sums": self.window.sums, "counts": self.window.counts},
            "reference": self.reference,
            "level": self.level,
            "best": self.best,
            "evidence": self.evidence,
            "seen": self.seen,
            "curve": {t: [list(p) for p in points] for t, points in self.curve.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        if sorted(state["raw"]) != self.tasks:
            raise ConfigError(
                f"adaptive mixing state is for tasks {sorted(state['raw'])}; this phase has "
                f"{self.tasks}"
            )
        self.raw = dict(state["raw"])
        self.decisions = [(int(e), dict(w)) for e, w in state["decisions"]]
        self.window = _Window(dict(state["window"]["sums"]), dict(state["window"]["counts"]))
        self.reference = dict(state["reference"])
        self.level = dict(state["level"])
        self.best = dict(state["best"])
        self.evidence = dict(state["evidence"])
        self.seen = dict(state["seen"])
        self.curve = {t: [tuple(p) for p in points] for t, points in state["curve"].items()}
