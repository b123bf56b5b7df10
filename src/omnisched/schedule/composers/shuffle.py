"""The shuffle composer (``composer: shuffle``): one permutation of all the phase's examples per
epoch, batch ``s`` a slice of it.

It needs no state and every example is seen once per epoch. The permutation has random access
(``permutation.IndexPermutation``), so a restore at any step costs one block of it, not the
whole pool. Pools share batches in proportion to their sizes (the mixture is not read).
"""

from __future__ import annotations

import numpy as np

from omnisched.schedule.budget import BudgetCut
from omnisched.schedule.composers.batching import spread_copies
from omnisched.schedule.permutation import IndexPermutation
from omnisched.schedule.phases import PhaseInput, PhaseSpec, register_composer
from omnisched.schedule.pools import PoolKey
from omnisched.seeding import derive_rng

SHUFFLE_BLOCK = 4096  # positions of an epoch's permutation computed at once by the shuffle


class ShuffleComposer:
    """One permutation of all examples per epoch; batch ``s`` is positions ``s*B .. s*B+B``.

    Where a batch spans the end of an epoch, the next epoch's first positions must not repeat
    the examples of the last ones: each clash at the head of the new epoch is swapped with the
    next unclashing position after the head (never with its own tail, so every epoch's repair
    depends only on the previous epoch's permutation, and any step is still computed in O(1)).
    This needs at least two batches' worth of examples.

    With ``sort_window`` W, every W consecutive batches are re-cut from their examples sorted
    by ``durations`` and served in a random order: batches of similar length (little padding),
    the same examples per window, so coverage per epoch is unchanged; copies of an example in
    a window that spans two epochs go to different batches (``spread_copies``).
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
        # All examples in index order (the common case): a permutation needs no gather.
        self._identity = bool((self.indices == np.arange(len(self.indices))).all())
        self.sort_window = sort_window if durations is not None else 0
        self._order: tuple[tuple[int, int], IndexPermutation | None, dict[int, int]] = (
            (-1, -1),
            None,
            {},
        )
        self._block: tuple[int, int, np.ndarray] = (-1, -1, self.indices)
        self._window: tuple[int, list[list[int]]] = (-1, [])

    def _permutation(self, epoch: int) -> IndexPermutation:
        rng = derive_rng(self.seed, "shuffle", self.phase, epoch)
        return IndexPermutation(len(self.indices), rng)

    def _epoch(self, epoch: int, batch_size: int) -> tuple[IndexPermutation, dict[int, int]]:
        """The epoch's permutation and its repaired positions (position → value)."""
        if self._order[0] != (epoch, batch_size):
            order = self._permutation(epoch)
            self._order = ((epoch, batch_size), order, self._repair(epoch, order, batch_size))
        return self._order[1], self._order[2]

    def _repair(self, epoch: int, order: IndexPermutation, batch_size: int) -> dict[int, int]:
        """Swaps that keep the head of ``epoch`` clear of the previous epoch's tail in the
        batch they share."""
        size = len(self.indices)
        tail_length = epoch * size % batch_size
        if not epoch or not tail_length:
            return {}
        tail = set(self._permutation(epoch - 1)[size - tail_length : size].tolist())
        head = order[: batch_size - tail_length]
        clashes = [p for p, value in enumerate(head.tolist()) if value in tail]
        limit = size - (epoch + 1) * size % batch_size  # this epoch's own tail starts here
        partners: list[int] = []
        start = len(head)
        while len(partners) < len(clashes):
            values = order[start : min(start + batch_size, limit)].tolist()
            partners += [start + j for j, value in enumerate(values) if value not in tail]
            start += batch_size
        swaps = {}
        for p, q in zip(clashes, partners, strict=False):
            swaps[p], swaps[q] = int(order[q : q + 1][0]), int(head[p])
        return swaps

    def _examples(self, epoch: int, block: int, batch_size: int) -> np.ndarray:
        """Examples at positions ``block * SHUFFLE_BLOCK ..`` of the epoch's order."""
        if self._block[:2] != (epoch, block):
            order, swaps = self._epoch(epoch, batch_size)
            start = block * SHUFFLE_BLOCK
            values = order[start : start + SHUFFLE_BLOCK]
            for position, value in swaps.items():
                if start <= position < start + len(values):
                    values[position - start] = value
            self._block = (epoch, block, values if self._identity else self.indices[values])
        return self._block[2]

    def _positions(self, start: int, count: int, batch_size: int) -> list[int]:
        size = len(self.indices)
        taken: list[int] = []
        while len(taken) < count:
            epoch, offset = divmod(start + len(taken), size)
            block, within = divmod(offset, SHUFFLE_BLOCK)
            take = min(count - len(taken), size - offset, SHUFFLE_BLOCK - within)
            taken.extend(self._examples(epoch, block, batch_size)[within : within + take].tolist())
        return taken

    def compose(self, step: int, batch_size: int) -> list[int]:
        if not self.sort_window:
            return self._positions(step * batch_size, batch_size, batch_size)
        window, slot = divmod(step, self.sort_window)
        if self._window[0] != window:
            span = self.sort_window * batch_size
            members = np.asarray(self._positions(window * span, span, batch_size))
            ordered = members[np.argsort(self.durations[members], kind="stable")].tolist()
            batches = [ordered[i : i + batch_size] for i in range(0, span, batch_size)]
            spread_copies(batches)
            order = derive_rng(self.seed, "window", self.phase, window).permutation(len(batches))
            self._window = (window, [batches[i] for i in order])
        return self._window[1][slot]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def size_shares(spec: PhaseSpec, sizes: dict[PoolKey, int]) -> dict[PoolKey, float]:
    """Every example equally likely: pools share batches in proportion to their sizes."""
    total = sum(sizes.values())
    return {key: size / total for key, size in sizes.items()}


@register_composer("shuffle", shares=size_shares, min_batches=2)
def build(phase: PhaseInput) -> ShuffleComposer | BudgetCut:
    """Two batches' worth at least, so that no batch repeats an example where one epoch ends
    and the next begins; with ``batching``, its batches cut to the budget (``BudgetCut``)."""
    indices = np.concatenate(list(phase.pools.values()))
    spec = phase.spec
    if spec.batching is None:
        return ShuffleComposer(indices, phase.seed, phase.index, phase.durations, spec.sort_window)
    inner = ShuffleComposer(indices, phase.seed, phase.index)
    return BudgetCut(inner, spec.batching, phase.costs, spec.sort_window, phase.seed, phase.index)
