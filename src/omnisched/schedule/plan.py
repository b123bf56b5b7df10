"""Plans: a list of phases, each with a length, a mixture over pools and a composer.

Every strategy compiles to phase specs (``schedule.recipes``); ``build_plan`` turns them into
phases over one corpus: it selects each phase's pools, resolves its length in steps and builds
its composer. A phase lasts a number of steps, a fraction of training, a number of epochs of a
named pool group, until the training losses plateau, or (the last phase) to the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.schedule.composers import Composer, RandomComposer, ShuffleComposer
from omnisched.schedule.diverse import DiverseComposer, Stratum, unit_rows
from omnisched.schedule.mixture import Mixture, pool_weights
from omnisched.schedule.pools import PoolKey, pool_table
from omnisched.seeding import derive_rng


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Plateau(_Strict):
    """Ends a phase when every task's training loss has stopped improving.

    Compares the mean loss of the last ``window`` observations of each task with the ``window``
    before; when none improved by more than ``tolerance`` (relative), the phase ends ``delay``
    steps later (batches already drawn ahead by the data loader are not re-planned). By
    ``max_fraction`` of training it ends anyway; that is also where previews place the switch.
    """

    window: int = Field(25, gt=0)
    tolerance: float = Field(0.01, ge=0)
    delay: int = Field(16, ge=1)
    max_fraction: float = Field(0.8, gt=0, le=1)


class DiversitySettings(_Strict):
    """ADS: candidates per pick, and k-means pseudo-labels for tasks without labels."""

    window: int = Field(32, ge=1, description="candidates looked at for each pick")
    clusters: int = Field(8, ge=1, description="pseudo-labels for tasks without labels")
    refresh_every: int | None = Field(
        None,
        gt=0,
        description="recompute the embeddings every this many steps (only matters when the "
        "aligner or the LLM's input embeddings train); default: frozen",
    )


class PhaseSpec(_Strict):
    """One phase: which pools, how they mix, how batches are composed, and how long."""

    name: str
    tasks: list[str]
    modalities: list[Literal["speech", "text"]] = ["speech"]
    languages: list[str] | None = None
    max_duration_s: float | None = Field(
        None,
        gt=0,
        description="draw only examples of at most this duration (text rows always qualify): "
        "a short-first phase, as in SortaGrad",
    )
    mixture: Mixture = Mixture()
    composer: Literal["shuffle", "random", "ads"] = "random"
    sort_window: int = Field(
        0,
        ge=0,
        description="batches of similar duration, chosen within this many batches' worth of "
        "examples (0: off; see the composers)",
    )
    diversity: DiversitySettings = DiversitySettings()
    steps: int | None = Field(None, gt=0)
    fraction: float | None = Field(None, gt=0, le=1)
    epochs: float | None = Field(None, gt=0)
    of: str | None = Field(None, description="pool group the epochs count: 'text', 'asr', ...")
    until_plateau: Plateau | None = None

    @model_validator(mode="after")
    def _one_length(self) -> PhaseSpec:
        given = [f for f in ("steps", "fraction", "epochs", "until_plateau") if getattr(self, f)]
        if len(given) > 1:
            raise ValueError(f"a phase has one length; got {', '.join(given)}")
        if (self.of is None) != (self.epochs is None):
            raise ValueError("'epochs' and 'of' go together: epochs of which pool group")
        return self


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


@dataclass
class Plan:
    """Phases in order, for ``total_steps`` steps of ``batch_size`` examples."""

    phases: list[Phase]
    batch_size: int
    total_steps: int

    @property
    def refresh_every(self) -> int | None:
        """How often ADS phases want fresh aligner embeddings (None: frozen)."""
        steps = [
            p.spec.diversity.refresh_every
            for p in self.phases
            if p.spec.composer == "ads" and p.spec.diversity.refresh_every
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


def _composer_shares(spec: PhaseSpec, pools: dict[PoolKey, np.ndarray]) -> dict[PoolKey, float]:
    sizes = {key: len(indices) for key, indices in pools.items()}
    if spec.composer == "random":
        return pool_weights(spec.mixture, sizes)
    if spec.composer == "shuffle":
        total = sum(sizes.values())
        return {key: size / total for key, size in sizes.items()}
    tasks = sorted({key.task for key in sizes})
    task_sizes = {t: sum(n for k, n in sizes.items() if k.task == t) for t in tasks}
    return {key: n / task_sizes[key.task] / len(tasks) for key, n in sizes.items()}


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


KMEANS_SAMPLE = 20_000  # rows k-means is fitted on; larger tasks are then assigned in chunks


def _pseudo_labels(
    embeddings: np.ndarray, indices: np.ndarray, clusters: int, seed: int
) -> np.ndarray:
    """k-means cluster names of the unit-length embedding rows ``indices``, fitted on at most
    ``KMEANS_SAMPLE`` of them (seeded): a million-row pool needs no float32 copy of itself."""
    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=min(clusters, len(indices)), n_init=3, random_state=seed)
    if len(indices) <= KMEANS_SAMPLE:
        assigned = kmeans.fit_predict(unit_rows(embeddings, indices))
    else:
        sample = derive_rng(seed, "kmeans").choice(len(indices), KMEANS_SAMPLE, replace=False)
        kmeans.fit(unit_rows(embeddings, indices[np.sort(sample)]))
        assigned = np.concatenate(
            [
                kmeans.predict(unit_rows(embeddings, indices[start : start + KMEANS_SAMPLE]))
                for start in range(0, len(indices), KMEANS_SAMPLE)
            ]
        )
    return np.asarray([f"c{c}" for c in assigned])


def _strata(
    examples: Sequence[Example],
    pools: dict[PoolKey, np.ndarray],
    embeddings: np.ndarray,
    clusters: int,
    seed: int,
) -> list[Stratum]:
    """Strata of an ADS phase: (task, label), or (task, k-means cluster) without labels."""
    strata = []
    for task in sorted({key.task for key in pools}):
        indices = np.concatenate([v for k, v in pools.items() if k.task == task])
        labels = [examples[i].label for i in indices]
        if all(label is not None for label in labels):
            names = np.asarray(labels)
        else:
            names = _pseudo_labels(embeddings, indices, clusters, seed)
        for name in sorted(set(names.tolist())):
            strata.append(Stratum(task, name, indices[names == name]))
    return strata


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
    if spec.composer == "shuffle" and size < 2 * batch_size:
        raise ConfigError(
            f"phase '{spec.name}' draws from {size} examples; its shuffle needs two batches' "
            f"worth ({2 * batch_size}) so that no batch repeats an example where one epoch "
            "ends and the next begins; lower batch_size"
        )


def build_plan(
    specs: Sequence[PhaseSpec],
    examples: Sequence[Example],
    batch_size: int,
    total_steps: int,
    seed: int,
    embeddings: np.ndarray | None = None,
) -> Plan:
    """Resolves ``specs`` over ``examples``; ``embeddings`` (one row per example) for ADS."""
    if batch_size < 1 or total_steps < 1:
        raise ConfigError(
            f"batch_size and total steps must be positive; got {batch_size} and {total_steps}"
        )
    if embeddings is not None and any(spec.composer == "ads" for spec in specs):
        check_embeddings(embeddings, examples)
    phases = []
    durations = np.fromiter((e.duration_s or 0.0 for e in examples), float, len(examples))
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
        shares = _composer_shares(spec, pools)
        pools = {key: pools[key] for key in shares}
        _check_size(spec, pools, batch_size)
        window = spec.sort_window
        if spec.composer == "shuffle":
            indices = np.concatenate(list(pools.values()))
            composer: Composer = ShuffleComposer(indices, seed, index, durations, window)
        elif spec.composer == "random":
            composer = RandomComposer(pools, shares, seed, index, durations, window)
        else:
            if embeddings is None:
                raise ConfigError(f"phase '{spec.name}' uses ADS and needs aligner embeddings")
            strata = _strata(examples, pools, embeddings, spec.diversity.clusters, seed)
            composer = DiverseComposer(
                strata, embeddings, spec.diversity.window, seed, index, durations, window
            )
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
    return Plan(phases, batch_size, total_steps)
