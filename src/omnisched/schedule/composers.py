"""Composers: how one global batch is filled from a phase's pools.

- ``ShuffleComposer`` walks one fresh permutation of all the phase's examples per epoch; batch
  ``s`` is a slice of it, so it needs no state and every example is seen once per epoch.
- ``RandomComposer`` draws each batch's pool counts from the mixture (multinomial), then takes
  the next examples of each pool's own epoch permutation.
- ``DiverseComposer`` (ADS) balances a batch over tasks, then over labels inside a task (k-means
  clusters of the aligner embeddings for tasks without labels), and inside each stratum picks,
  from a window of candidates, the one farthest from what the batch already holds (greedy
  k-center on aligner embeddings).

Every random choice of batch ``s`` draws from a generator seeded by ``(seed, phase, s)``;
permutations by ``(seed, phase, pool or stratum, epoch)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from omnisched.data.synth.speakers import derive_rng
from omnisched.schedule.pools import PoolKey


class Composer(Protocol):
    """Fills global batches; stateful composers restore from their ``state_dict``."""

    def compose(self, step: int, batch_size: int) -> list[int]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def balanced_counts(total: int, names: Sequence[str], rng: np.random.Generator) -> dict[str, int]:
    """``total`` slots shared as evenly as possible; the remainder goes to names drawn at random."""
    base, extra = divmod(total, len(names))
    counts = dict.fromkeys(names, base)
    for position in rng.permutation(len(names))[:extra]:
        counts[names[position]] += 1
    return counts


class ShuffleComposer:
    """One permutation of all examples per epoch; batch ``s`` is positions ``s*B .. s*B+B``.

    With ``sort_window`` W, every W consecutive batches are re-cut from their examples sorted
    by ``durations`` and served in a random order: batches of similar length (little padding),
    the same examples per window, so coverage per epoch is unchanged.
    """

    def __init__(
        self,
        indices: np.ndarray,
        seed: int,
        phase: int,
        durations: np.ndarray | None = None,
        sort_window: int = 0,
    ) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.seed = seed
        self.phase = phase
        self.durations = durations
        self.sort_window = sort_window if durations is not None else 0
        self._cached: tuple[int, np.ndarray] = (-1, self.indices)
        self._window: tuple[int, list[list[int]]] = (-1, [])

    def _epoch(self, epoch: int) -> np.ndarray:
        if self._cached[0] != epoch:
            rng = derive_rng(self.seed, "shuffle", self.phase, epoch)
            self._cached = (epoch, self.indices[rng.permutation(len(self.indices))])
        return self._cached[1]

    def _positions(self, start: int, count: int) -> list[int]:
        size = len(self.indices)
        taken: list[int] = []
        while len(taken) < count:
            epoch, offset = divmod(start + len(taken), size)
            take = min(count - len(taken), size - offset)
            taken.extend(self._epoch(epoch)[offset : offset + take].tolist())
        return taken

    def compose(self, step: int, batch_size: int) -> list[int]:
        if not self.sort_window:
            return self._positions(step * batch_size, batch_size)
        window, slot = divmod(step, self.sort_window)
        if self._window[0] != window:
            span = self.sort_window * batch_size
            members = np.asarray(self._positions(window * span, span))
            ordered = members[np.argsort(self.durations[members], kind="stable")].tolist()
            batches = [ordered[i : i + batch_size] for i in range(0, span, batch_size)]
            order = derive_rng(self.seed, "window", self.phase, window).permutation(len(batches))
            self._window = (window, [batches[i] for i in order])
        return self._window[1][slot]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class PoolCursor:
    """Walks a pool through a fresh permutation every epoch."""

    def __init__(self, indices: np.ndarray, seed: int, phase: int, name: str) -> None:
        self.indices = indices
        self.seed, self.phase, self.name = seed, phase, name
        self.epoch, self.offset = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        rng = derive_rng(self.seed, "pool", self.phase, self.name, epoch)
        return self.indices[rng.permutation(len(self.indices))]

    def take(self, count: int) -> list[int]:
        taken: list[int] = []
        while len(taken) < count:
            if self.offset == len(self.indices):
                self.epoch, self.offset = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            end = min(self.offset + count - len(taken), len(self.indices))
            taken.extend(self._order[self.offset : end].tolist())
            self.offset = end
        return taken

    def state_dict(self) -> dict:
        return {"epoch": int(self.epoch), "offset": int(self.offset)}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._order = self._permutation(self.epoch)


class RandomComposer:
    """Pool counts of each batch drawn from the mixture, examples from per-pool epochs."""

    def __init__(
        self,
        pools: dict[PoolKey, np.ndarray],
        weights: dict[PoolKey, float],
        seed: int,
        phase: int,
    ) -> None:
        self.keys = list(weights)
        self.probabilities = np.array([weights[key] for key in self.keys])
        self.probabilities /= self.probabilities.sum()
        self.cursors = {key: PoolCursor(pools[key], seed, phase, str(key)) for key in self.keys}
        self.seed, self.phase = seed, phase

    def compose(self, step: int, batch_size: int) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        counts = rng.multinomial(batch_size, self.probabilities)
        return [
            i for key, n in zip(self.keys, counts, strict=True) for i in self.cursors[key].take(n)
        ]

    def state_dict(self) -> dict:
        return {str(key): cursor.state_dict() for key, cursor in self.cursors.items()}

    def load_state_dict(self, state: dict) -> None:
        for key, cursor in self.cursors.items():
            cursor.load_state_dict(state[str(key)])


class StratumCursor:
    """A stratum's examples in a fresh permutation per epoch, taken out of order.

    Picks come from a window of the first unused positions, so an example is used at most once
    per epoch; ``head`` is the first unused position.
    """

    def __init__(self, indices: np.ndarray, seed: int, phase: int, name: str) -> None:
        self.indices = indices
        self.seed, self.phase, self.name = seed, phase, name
        self._start_epoch(0)

    def _start_epoch(self, epoch: int) -> None:
        rng = derive_rng(self.seed, "stratum", self.phase, self.name, epoch)
        self.epoch = epoch
        self.order = self.indices[rng.permutation(len(self.indices))]
        self.used = np.zeros(len(self.indices), dtype=bool)
        self.head = 0

    def window(self, size: int) -> np.ndarray:
        """Positions of the first ``size`` unused examples (fewer at the end of an epoch)."""
        if self.head == len(self.order):
            self._start_epoch(self.epoch + 1)
        span = 2 * size
        while True:
            free = np.flatnonzero(~self.used[self.head : self.head + span]) + self.head
            if len(free) >= size or self.head + span >= len(self.order):
                return free[:size]
            span *= 2

    def mark(self, position: int) -> None:
        self.used[position] = True
        while self.head < len(self.used) and self.used[self.head]:
            self.head += 1

    def state_dict(self) -> dict:
        beyond = np.flatnonzero(self.used[self.head :]) + self.head
        return {"epoch": int(self.epoch), "head": int(self.head), "used": beyond.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self._start_epoch(int(state["epoch"]))
        self.used[: int(state["head"])] = True
        self.used[np.asarray(state["used"], dtype=np.int64)] = True
        self.head = int(state["head"])


@dataclass(frozen=True)
class Stratum:
    """The examples of one task sharing a label (or a k-means pseudo-label)."""

    task: str
    label: str
    indices: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.task}/{self.label}"


class DiverseComposer:
    """ADS: task- then label-balanced batches, farthest-point picks on aligner embeddings.

    ``embeddings`` has one L2-normalized row per example index (rows of unused examples are
    never read); ``window`` is how many candidates each pick looks at.
    """

    def __init__(
        self,
        strata: Sequence[Stratum],
        embeddings: np.ndarray,
        window: int,
        seed: int,
        phase: int,
    ) -> None:
        self.tasks: dict[str, list[Stratum]] = {}
        for stratum in strata:
            self.tasks.setdefault(stratum.task, []).append(stratum)
        self.cursors = {s.name: StratumCursor(s.indices, seed, phase, s.name) for s in strata}
        self.embeddings = embeddings
        self.window = window
        self.seed, self.phase = seed, phase

    def _slots(self, batch_size: int, rng: np.random.Generator) -> list[str]:
        """The stratum of every slot of the batch, in a random order."""
        slots: list[str] = []
        for task, count in balanced_counts(batch_size, list(self.tasks), rng).items():
            names = [stratum.name for stratum in self.tasks[task]]
            for name, n in balanced_counts(count, names, rng).items():
                slots += [name] * n
        return [slots[i] for i in rng.permutation(len(slots))]

    def compose(self, step: int, batch_size: int) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        batch: list[int] = []
        chosen = np.empty((batch_size, self.embeddings.shape[1]), dtype=np.float32)
        for slot, name in enumerate(self._slots(batch_size, rng)):
            cursor = self.cursors[name]
            positions = cursor.window(self.window)
            pick = 0
            if slot and len(positions) > 1:
                candidates = self.embeddings[cursor.order[positions]].astype(np.float32)
                nearest = _squared_distances(candidates, chosen[:slot]).min(axis=1)
                pick = int(np.argmax(nearest))
            position = int(positions[pick])
            cursor.mark(position)
            index = int(cursor.order[position])
            chosen[slot] = self.embeddings[index]
            batch.append(index)
        return batch

    def state_dict(self) -> dict:
        return {name: cursor.state_dict() for name, cursor in self.cursors.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, cursor in self.cursors.items():
            cursor.load_state_dict(state[name])


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances between the rows of ``a`` and ``b``."""
    return (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
