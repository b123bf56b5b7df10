"""Composers: how one global batch is filled from a phase's pools.

- ``ShuffleComposer`` walks one fresh permutation of all the phase's examples per epoch; batch
  ``s`` is a slice of it, so it needs no state and every example is seen once per epoch. The
  permutation has random access (``permutation.IndexPermutation``), so a restore at any step
  costs one block of it, not the whole pool.
- ``RandomComposer`` draws each batch's pool counts from the mixture (multinomial), then takes
  the next examples of each pool's own epoch permutation.
- ``DiverseComposer`` (ADS) balances a batch over tasks, then over labels inside a task (k-means
  clusters of the aligner embeddings for tasks without labels), and inside each stratum picks,
  from a window of candidates, the one farthest from what the batch already holds (greedy
  k-center on aligner embeddings).

With ``sort_window`` W every composer forms batches of similar duration (less padding) and keeps
its own rules: the shuffle and random composers draw W batches at a time and cut them again by
duration (the random one keeps every batch's number of speech and text examples, and the
window's pool counts); the diverse composer takes every stratum at one duration quantile of
what it has left (the quantiles cycle over each W batches): a W-th of its first
W × (``window`` + slots − 1) unused positions, so task and label balance hold in every batch
and padding stays level over a run. "No repeat inside an epoch of a pool or stratum" and "no
example twice in a batch" hold throughout.

Every random choice of batch ``s`` draws from a generator seeded by ``(seed, phase, s)``;
permutations by ``(seed, phase, pool or stratum, epoch)``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from omnisched.schedule.cursor import Cursor
from omnisched.schedule.permutation import IndexPermutation
from omnisched.schedule.pools import PoolKey
from omnisched.seeding import derive_rng

SHUFFLE_BLOCK = 4096  # positions of an epoch's permutation computed at once by the shuffle


class Composer(Protocol):
    """Fills global batches; stateful composers restore from their ``state_dict``, which
    returns fresh objects (the sampler keeps them as snapshots without copying)."""

    def compose(self, step: int, batch_size: int) -> list[int]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def balanced_counts(
    total: int,
    names: Sequence[str],
    rng: np.random.Generator,
    capacity: dict[str, int] | None = None,
) -> dict[str, int]:
    """``total`` slots shared as evenly as possible; the remainder goes to names drawn at random.

    With ``capacity``, no name gets more slots than its capacity (a pool or stratum never gives
    one batch more examples than it holds): what a full name cannot take goes, one slot at a
    time, to the least-filled names that have room, so names below their capacity stay within
    one of each other. ``total`` must not exceed the capacities' sum."""
    base, extra = divmod(total, len(names))
    counts = dict.fromkeys(names, base)
    for position in rng.permutation(len(names))[:extra]:
        counts[names[position]] += 1
    if capacity is None:
        return counts
    left = sum(max(0, counts[name] - capacity[name]) for name in names)
    counts = {name: min(count, capacity[name]) for name, count in counts.items()}
    for _ in range(left):
        room = [name for name in names if counts[name] < capacity[name]]
        if not room:
            raise ValueError(f"{total} slots exceed the capacities {capacity}")
        lowest = min(counts[name] for name in room)
        tied = [name for name in room if counts[name] == lowest]
        counts[tied[int(rng.integers(len(tied)))]] += 1
    return counts


def spread_copies(batches: list[list[int]]) -> None:
    """Moves the copies of an example into different batches, in place.

    A window of batches that spans the end of an epoch may hold an example twice, and sorting
    by duration puts the copies side by side. Each extra copy is swapped with an example of the
    nearest batch (in the given order, which is by duration) that holds neither: batches keep
    their sizes and stay close in duration."""
    for b, batch in enumerate(batches):
        for example, copies in Counter(batch).items():
            for _ in range(copies - 1):
                _swap_out(batches, b, example)


def _swap_out(batches: list[list[int]], b: int, example: int) -> None:
    batch = batches[b]
    for distance in range(1, len(batches)):
        for c in (b + distance, b - distance):
            if not 0 <= c < len(batches) or example in batches[c]:
                continue
            other = batches[c] if c > b else batches[c][::-1]  # nearest durations first
            swap = next((y for y in other if y not in batch), None)
            if swap is not None:
                batch[batch.index(example)] = swap
                batches[c][batches[c].index(swap)] = example
                return
    raise RuntimeError(f"no batch of the window can take a copy of example {example}")


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


class RandomComposer:
    """Pool counts of each batch drawn from the mixture, examples from per-pool epochs.

    With ``sort_window`` W (and ``durations``), every W batches are drawn together and their
    speech examples dealt out again by duration, each batch keeping its number of speech and of
    text examples: the window keeps its pool counts and every batch its modality share. To
    resume inside a window, the state is the cursors' as the window began."""

    def __init__(
        self,
        pools: dict[PoolKey, np.ndarray],
        weights: dict[PoolKey, float],
        seed: int,
        phase: int,
        durations: np.ndarray | None = None,
        sort_window: int = 0,
    ) -> None:
        self.keys = list(weights)
        self.probabilities = np.array([weights[key] for key in self.keys])
        self.probabilities /= self.probabilities.sum()
        self.cursors = {key: Cursor(pools[key], seed, phase, str(key), "pool") for key in self.keys}
        self.sizes = np.array([len(pools[key]) for key in self.keys])
        self.seed, self.phase = seed, phase
        self.durations = durations
        self.sort_window = sort_window if durations is not None else 0
        self._window: tuple[int, list[list[int]], dict] = (-1, [], {})
        self._served = -1  # the window slot composed last

    def _draw(self, step: int, batch_size: int) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        counts = rng.multinomial(batch_size, self.probabilities)
        while (excess := np.maximum(counts - self.sizes, 0).sum()) > 0:  # a pool's all at most
            counts = np.minimum(counts, self.sizes)
            room = self.probabilities * (counts < self.sizes)
            counts += rng.multinomial(excess, room / room.sum())
        return [
            i for key, n in zip(self.keys, counts, strict=True) for i in self.cursors[key].take(n)
        ]

    def _recut(self, window: int, batches: list[list[int]]) -> list[list[int]]:
        """The window's speech examples, sorted by duration, dealt to its batches' speech
        slots in a random order of batches; text examples stay where they are."""
        timed = [[i for i in batch if self.durations[i] > 0] for batch in batches]
        flat = np.asarray([i for batch in timed for i in batch], dtype=np.int64)
        ordered = flat[np.argsort(self.durations[flat], kind="stable")].tolist()
        order = derive_rng(self.seed, "window", self.phase, window).permutation(len(batches))
        dealt: list[list[int]] = [[] for _ in batches]
        for b in order:
            dealt[b], ordered = ordered[: len(timed[b])], ordered[len(timed[b]) :]
        spread_copies([dealt[b] for b in order])
        return [
            [i for i in batch if self.durations[i] <= 0] + dealt[b]
            for b, batch in enumerate(batches)
        ]

    def compose(self, step: int, batch_size: int) -> list[int]:
        if not self.sort_window:
            return self._draw(step, batch_size)
        window, slot = divmod(step, self.sort_window)
        if self._window[0] != window:
            start = self._cursor_state()
            first = window * self.sort_window
            batches = [self._draw(s, batch_size) for s in range(first, first + self.sort_window)]
            self._window = (window, self._recut(window, batches), start)
        self._served = slot
        return self._window[1][slot]

    def _cursor_state(self) -> dict:
        return {str(key): cursor.state_dict() for key, cursor in self.cursors.items()}

    def state_dict(self) -> dict:
        if self.sort_window and self._window[0] >= 0 and self._served < self.sort_window - 1:
            return copy.deepcopy(self._window[2])  # inside a window: the state it began with
        return self._cursor_state()

    def load_state_dict(self, state: dict) -> None:
        for key, cursor in self.cursors.items():
            cursor.load_state_dict(state[str(key)])
        self._window, self._served = (-1, [], {}), -1
