"""Cursor: a pool's (or stratum's) examples walked in a fresh permutation per epoch."""

from __future__ import annotations

import numpy as np

from omnisched.seeding import derive_rng


class Cursor:
    """A pool's (or stratum's) examples in a fresh permutation per epoch, taken in order or
    out of order.

    Out-of-order picks come from the first unused positions (``candidates``), so an example is
    used at most once per epoch. Unused positions before ``frontier`` are ``pending``; every
    position from ``frontier`` on is unused, so the state stays as small as the candidate
    window however long training runs.
    """

    def __init__(self, indices: np.ndarray, seed: int, phase: int, name: str, kind: str) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.seed, self.phase, self.name, self.kind = seed, phase, name, kind
        self._start_epoch(0)

    def _start_epoch(self, epoch: int) -> None:
        rng = derive_rng(self.seed, self.kind, self.phase, self.name, epoch)
        self.epoch = epoch
        self.order = self.indices[rng.permutation(len(self.indices))]
        self.frontier = 0
        self.pending = np.empty(0, dtype=np.int64)

    @property
    def remaining(self) -> int:
        """Unused examples left in this epoch."""
        return len(self.pending) + len(self.order) - self.frontier

    def open(self) -> None:
        """Starts the next epoch once this one is used up."""
        if not self.remaining:
            self._start_epoch(self.epoch + 1)

    def candidates(self, count: int) -> np.ndarray:
        """Positions of the first ``count`` unused examples of this epoch (fewer at its end)."""
        self.open()
        if len(self.pending) >= count:
            return self.pending[:count]
        fresh = min(count - len(self.pending), len(self.order) - self.frontier)
        return np.concatenate([self.pending, np.arange(self.frontier, self.frontier + fresh)])

    def mark(self, candidates: np.ndarray, picked: np.ndarray) -> None:
        """Marks ``candidates[picked]`` used; ``candidates`` is what ``candidates()`` gave."""
        rest = self.pending[len(candidates) :]
        taken = candidates[picked]
        if len(taken):
            self.frontier = max(self.frontier, int(taken.max()) + 1)
        kept = candidates[~picked]
        self.pending = np.concatenate([kept[kept < self.frontier], rest])

    def take(self, count: int) -> list[int]:
        """The next ``count`` unused examples in order, into the next epoch as needed.

        Examples taken from the end of one epoch are not taken again from the start of the
        next in the same call: they stay unused there and come first in a later call. So a
        call never returns an example twice (``count`` is at most the pool's size)."""
        if count > len(self.indices):
            raise ValueError(f"{count} examples asked of a pool of {len(self.indices)}")
        taken: list[int] = []
        while len(taken) < count:
            self.open()
            need = count - len(taken)
            positions = self.candidates(need + len(taken))
            fresh = ~np.isin(self.order[positions], taken)
            picked = fresh & (np.cumsum(fresh) <= need)
            self.mark(positions, picked)
            taken.extend(self.order[positions[picked]].tolist())
        return taken

    def take_rest_if_short(self, count: int) -> list[int]:
        """When fewer than ``count`` examples are left in this epoch, takes them all in order
        (and, if needed, whole further epochs), so that the rest comes from one epoch."""
        taken: list[int] = []
        while True:
            self.open()
            if count - len(taken) <= self.remaining:
                return taken
            taken += self.take(self.remaining)

    def state_dict(self) -> dict:
        return {
            "epoch": int(self.epoch),
            "offset": int(self.frontier),
            "pending": self.pending.tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        self._start_epoch(int(state["epoch"]))
        if "head" in state:  # saved before pending positions: the used ones past the first unused
            head, used = int(state["head"]), np.asarray(state["used"], dtype=np.int64)
            self.frontier = int(used.max()) + 1 if len(used) else head
            unused = np.ones(self.frontier - head, dtype=bool)
            unused[used - head] = False
            self.pending = np.arange(head, self.frontier)[unused]
            return
        self.frontier = int(state["offset"])
        self.pending = np.asarray(state.get("pending", []), dtype=np.int64)
