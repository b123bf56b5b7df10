"""Plans: a list of phases, each with a length, a mixture over pools and a composer.

Every strategy compiles to phase specs (``schedule.phases``); ``build_plan`` turns them into
phases over one corpus: it selects each phase's pools, resolves its length in steps and builds
its composer (asking the composer registry how). A phase lasts a number of steps, a fraction of
training, a number of epochs of a named pool group, until the training losses plateau, or (the
last phase) to the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.schedule.adaptive import check_floor
from omnisched.schedule.budget import Costs, check_budget
from omnisched.schedule.phases import (
    Composer,
    PhaseInput,
    PhaseSpec,
    composer_kind,
    composer_names,
)
from omnisched.schedule.pools import PoolKey, pool_table


@dataclass
class Phase:
    """A resolved phase: its pools, their shares, its length and its composer."""

    index: int
    spec: PhaseSpec
    pools: dict[PoolKey, np.ndarray]
    shares: dict[PoolKey, float]
    steps: int | None  # None: to the end of training, or until the plateau
    composer: Composer

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task_shares(self) -> dict[str, float]:
        """Each task's expected share of a batch: its pools' shares summed."""
        shares: dict[str, float] = {}
        for key, share in self.shares.items():
            shares[key.task] = shares.get(key.task, 0.0) + share
        return shares

    @property
    def needs_embeddings(self) -> bool:
        """Whether its composer draws with aligner embeddings (and takes refreshed ones)."""
        return composer_kind(self.spec.composer).needs_embeddings


@dataclass
class Plan:
    """Phases in order, for ``total_steps`` steps of ``batch_size`` examples (with a phase's
    ``batching``: as many as fit its budget, at most ``batch_size``)."""

    phases: list[Phase]
    batch_size: int
    total_steps: int
    costs: Costs  # what each example adds to a budget batch

    @property
    def refresh_every(self) -> int | None:
        """How often phases that draw with aligner embeddings want fresh ones (None: frozen)."""
        steps = [
            p.spec.diversity.refresh_every
            for p in self.phases
            if p.needs_embeddings and p.spec.diversity.refresh_every
        ]
        return min(steps) if steps else None

    def describe(self) -> list[dict]:
        """One row per phase: name, planned steps, composer and pool shares."""
        rows, start = [], 0
        for phase in self.phases:
            steps = phase.steps
            if steps is None and phase.spec.until_plateau is not None:
                steps = round(phase.spec.until_plateau.max_fraction * self.total_steps) - start
            end = self.total_steps if steps is None else min(start + steps, self.total_steps)
            rows.append(
                {
                    "phase": phase.name,
                    "start": start,
                    "end": end,
                    "composer": phase.spec.composer,
                    "length": "until plateau" if phase.spec.until_plateau else end - start,
                    "shares": {str(k): round(v, 4) for k, v in phase.shares.items()},
                    "examples": int(sum(len(v) for v in phase.pools.values())),
                }
            )
            start = end
        return rows


def _matches(key: PoolKey, name: str) -> bool:
    return name in (str(key), key.task, key.modality, key.language) or name in (
        f"{key.task}/{key.modality}",
        f"{key.modality}/{key.language}",
    )


def _length(
    spec: PhaseSpec,
    shares: dict[PoolKey, float],
    pools: dict[PoolKey, np.ndarray],
    batch_size: int,
    total: int,
    start: float | None,
) -> int | None:
    """The phase's length in steps (None: to the end or to its plateau). A fraction ends at
    the rounded end of its share of training counted from ``start``, the phase's unrounded
    first step (None after a plateau phase), so consecutive fractions add up exactly."""
    if spec.steps is not None:
        return spec.steps
    if spec.fraction is not None:
        begin = 0.0 if start is None else start
        steps = round(begin + spec.fraction * total) - round(begin)
        if steps < 1:
            raise ConfigError(
                f"phase '{spec.name}': fraction {spec.fraction} of {total} steps is less than "
                "one step"
            )
        return steps
    if spec.epochs is not None:
        matched = [key for key in pools if _matches(key, spec.of)]
        share = sum(shares.get(key, 0.0) for key in matched)
        if not matched or share == 0:
            raise ConfigError(
                f"phase '{spec.name}': 'of: {spec.of}' names no pool it samples; its pools: "
                + ", ".join(map(str, pools))
            )
        size = sum(len(pools[key]) for key in matched)
        return max(1, math.ceil(spec.epochs * size / (batch_size * share)))
    return None


def check_embeddings(embeddings: np.ndarray, examples: Sequence[Example]) -> None:
    """Raises a ConfigError unless ``embeddings`` has one finite row per example."""
    shape = np.shape(embeddings)
    if len(shape) != 2:
        raise ConfigError(
            "aligner embeddings need one row per example (a 2-D matrix); got a "
            f"{len(shape)}-D array of shape {shape}"
        )
    if shape[0] != len(examples):
        raise ConfigError(
            f"aligner embeddings: {shape[0]} rows for {len(examples)} examples; they must be "
            "computed for exactly the examples the schedule draws from"
        )
    chunk = 65_536
    for begin in range(0, shape[0], chunk):
        finite = np.isfinite(np.asarray(embeddings[begin : begin + chunk])).all(axis=1)
        if not finite.all():
            row = begin + int(np.argmin(finite))
            raise ConfigError(
                f"aligner embeddings: row {row} (example '{examples[row].id}') is not finite "
                "(NaN or inf); recompute the embeddings"
            )


def _phase_pools(
    spec: PhaseSpec, keys: list[PoolKey], pool_ids: np.ndarray, durations: np.ndarray
) -> dict[PoolKey, np.ndarray]:
    """The phase's pools: its tasks, modalities, languages and longest duration."""
    pools = {
        key: np.flatnonzero(pool_ids == k)
        for k, key in enumerate(keys)
        if key.task in spec.tasks
        and key.modality in spec.modalities
        and (spec.languages is None or key.language in spec.languages)
    }
    where = f"modalities {spec.modalities}, languages {spec.languages or 'any'}"
    for task in spec.tasks:
        if pools and not any(key.task == task for key in pools):
            raise ConfigError(f"phase '{spec.name}': task '{task}' has no examples ({where})")
    if spec.max_duration_s is not None:
        pools = {key: v[durations[v] <= spec.max_duration_s] for key, v in pools.items()}
        pools = {key: v for key, v in pools.items() if len(v)}
    if not pools:
        longest = "" if spec.max_duration_s is None else f", at most {spec.max_duration_s} s"
        raise ConfigError(
            f"phase '{spec.name}' selects no examples (tasks {spec.tasks}, {where}{longest})"
        )
    return pools


def _check_size(spec: PhaseSpec, pools: dict[PoolKey, np.ndarray], batch_size: int) -> None:
    """A phase must hold enough examples that no batch repeats one."""
    size = sum(len(v) for v in pools.values())
    if size < batch_size:
        raise ConfigError(
            f"phase '{spec.name}' draws from {size} examples, fewer than a batch of "
            f"{batch_size}: a batch would hold an example twice; lower batch_size"
        )
    needed = composer_kind(spec.composer).min_batches
    if needed > 1 and size < needed * batch_size:
        raise ConfigError(
            f"phase '{spec.name}' draws from {size} examples; its composer '{spec.composer}' "
            f"needs {needed} batches' worth ({needed * batch_size}) so that no batch repeats an "
            "example where one epoch ends and the next begins; lower batch_size"
        )


def _check_adaptive(spec: PhaseSpec, pools: dict[PoolKey, np.ndarray]) -> None:
    """An adaptive phase needs a composer that takes task weights, and room above the floor."""
    if spec.adaptive is None:
        return
    adaptive = [name for name in composer_names() if composer_kind(name).adaptive]
    if not composer_kind(spec.composer).adaptive:
        raise ConfigError(
            f"phase '{spec.name}': composer '{spec.composer}' cannot draw with adaptive task "
            f"weights; use one of: {', '.join(adaptive)}"
        )
    check_floor(spec.adaptive, len({key.task for key in pools}), f"phase '{spec.name}'")


def build_plan(
    specs: Sequence[PhaseSpec],
    examples: Sequence[Example],
    batch_size: int,
    total_steps: int,
    seed: int,
    embeddings: np.ndarray | None = None,
    tokens: np.ndarray | None = None,
) -> Plan:
    """Resolves ``specs`` over ``examples``; ``embeddings`` (one row per example) for the
    composers that need them (ADS); ``tokens`` (each example's sequence length) for phases
    whose ``batching`` sets ``max_tokens``."""
    if batch_size < 1 or total_steps < 1:
        raise ConfigError(
            f"batch_size and total steps must be positive; got {batch_size} and {total_steps}"
        )
    if embeddings is not None and any(composer_kind(s.composer).needs_embeddings for s in specs):
        check_embeddings(embeddings, examples)
    phases = []
    durations = np.fromiter((e.duration_s or 0.0 for e in examples), float, len(examples))
    costs = Costs(durations, None if tokens is None else np.asarray(tokens, dtype=np.int64))
    keys, pool_ids = pool_table(examples)
    start: float | None = 0.0  # the phase's first step, unrounded; None after a plateau
    for index, spec in enumerate(specs):
        if start is not None and index and round(start) >= total_steps:
            raise ConfigError(
                f"phase '{spec.name}' would start at step {round(start)}, at or after the end "
                f"of training ({total_steps} steps): shorten the phases before it (a switch "
                "or stage length) or train longer"
            )
        pools = _phase_pools(spec, keys, pool_ids, durations)
        kind = composer_kind(spec.composer)
        shares = kind.shares(spec, {key: len(indices) for key, indices in pools.items()})
        pools = {key: pools[key] for key in shares}
        _check_size(spec, pools, batch_size)
        _check_adaptive(spec, pools)
        if spec.batching is not None:
            members = np.concatenate(list(pools.values()))
            check_budget(spec.batching, costs, members, examples, spec.name)
        if kind.needs_embeddings and embeddings is None:
            raise ConfigError(
                f"phase '{spec.name}' uses composer '{spec.composer}', which needs aligner "
                "embeddings"
            )
        phase = PhaseInput(spec, index, seed, examples, pools, shares, durations, embeddings, costs)
        composer = kind.build(phase)
        steps = _length(spec, shares, pools, batch_size, total_steps, start)
        if steps is None and spec.until_plateau is None and index != len(specs) - 1:
            raise ConfigError(f"phase '{spec.name}' has no length; only the last phase may not")
        if start is not None and spec.fraction is not None:
            start += spec.fraction * total_steps
        elif start is not None and steps is not None:
            start = round(start) + steps
        else:
            start = None
        phases.append(Phase(index, spec, pools, shares, steps, composer))
    return Plan(phases, batch_size, total_steps, costs)
