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
window's pool counts); the diverse composer fills a batch around the duration of one anchor
example, each stratum picking among its candidates closest to it (a W-th of its first
W × ``window`` unused examples), so task and label balance hold in every batch. "No repeat
inside an epoch of a pool or stratum" holds throughout.

Every random choice of batch ``s`` draws from a generator seeded by ``(seed, phase, s)``;
permutations by ``(seed, phase, pool or stratum, epoch)``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from omnisched.data.synth.speakers import derive_rng
from omnisched.schedule.permutation import IndexPermutation
from omnisched.schedule.pools import PoolKey

FOLD_EVERY = 8  # ADS picks between two updates of every live candidate's nearest-pick distance
SHUFFLE_BLOCK = 4096  # positions of an epoch's permutation computed at once by the shuffle


class Composer(Protocol):
    """Fills global batches; stateful composers restore from their ``state_dict``, which
    returns fresh objects (the sampler keeps them as snapshots without copying)."""

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
        # All examples in index order (the common case): a permutation needs no gather.
        self._identity = bool((self.indices == np.arange(len(self.indices))).all())
        self.sort_window = sort_window if durations is not None else 0
        self._order: tuple[int, IndexPermutation | None] = (-1, None)
        self._block: tuple[int, int, np.ndarray] = (-1, -1, self.indices)
        self._window: tuple[int, list[list[int]]] = (-1, [])

    def _epoch(self, epoch: int) -> IndexPermutation:
        if self._order[0] != epoch:
            rng = derive_rng(self.seed, "shuffle", self.phase, epoch)
            self._order = (epoch, IndexPermutation(len(self.indices), rng))
        return self._order[1]

    def _examples(self, epoch: int, block: int) -> np.ndarray:
        """Examples at positions ``block * SHUFFLE_BLOCK ..`` of the epoch's permutation."""
        if self._block[:2] != (epoch, block):
            start = block * SHUFFLE_BLOCK
            order = self._epoch(epoch)[start : start + SHUFFLE_BLOCK]
            self._block = (epoch, block, order if self._identity else self.indices[order])
        return self._block[2]

    def _positions(self, start: int, count: int) -> list[int]:
        size = len(self.indices)
        taken: list[int] = []
        while len(taken) < count:
            epoch, offset = divmod(start + len(taken), size)
            block, within = divmod(offset, SHUFFLE_BLOCK)
            take = min(count - len(taken), size - offset, SHUFFLE_BLOCK - within)
            taken.extend(self._examples(epoch, block)[within : within + take].tolist())
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
        """The next ``count`` unused examples in order, into new epochs as needed."""
        taken: list[int] = []
        while len(taken) < count:
            self.open()
            if not len(self.pending):  # in order: a slice of the permutation
                end = min(self.frontier + count - len(taken), len(self.order))
                taken.extend(self.order[self.frontier : end].tolist())
                self.frontier = end
                continue
            positions = self.candidates(count - len(taken))
            self.mark(positions, np.ones(len(positions), dtype=bool))
            taken.extend(self.order[positions].tolist())
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
        self.seed, self.phase = seed, phase
        self.durations = durations
        self.sort_window = sort_window if durations is not None else 0
        self._window: tuple[int, list[list[int]], dict] = (-1, [], {})
        self._served = -1  # the window slot composed last

    def _draw(self, step: int, batch_size: int) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        counts = rng.multinomial(batch_size, self.probabilities)
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


@dataclass(frozen=True)
class Stratum:
    """The examples of one task sharing a label (or a k-means pseudo-label)."""

    task: str
    label: str
    indices: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.task}/{self.label}"


@dataclass
class _Draw:
    """One stratum's share of a batch being composed: from row ``start`` of the batch's
    candidate matrix, its ``forced`` examples, then its candidates ``examples``."""

    cursor: Cursor
    forced: list[int]  # the end of an epoch, taken in order before any choice
    positions: np.ndarray  # the cursor's candidate positions
    band: np.ndarray  # which of them may be picked, in position order
    examples: np.ndarray  # their example indices
    start: int = 0
    used: int = 0  # forced examples placed so far
    picks: list[int] = field(default_factory=list)  # band entries picked


def unit_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of ``matrix`` as float32, scaled to unit length (ADS distances are cosine).

    Only the gathered rows are converted: the matrix itself (float16, often memory-mapped) is
    never copied."""
    gathered = np.asarray(np.take(matrix, rows, axis=0))
    if gathered.dtype == np.float16:  # torch converts half precision ~20x faster than numpy
        unit = torch.from_numpy(gathered).float().numpy()
    else:
        unit = gathered.astype(np.float32)
    unit /= np.maximum(np.sqrt(np.einsum("ij,ij->i", unit, unit)), 1e-12)[:, None]
    return unit


class DiverseComposer:
    """ADS: task- then label-balanced batches, farthest-point picks on aligner embeddings.

    ``embeddings`` has one row per example index (rows of unused examples are never read; the
    matrix is read, never copied); ``window`` is how many candidates each pick looks at: the
    first ``window`` unused examples of its stratum (with ``sort_window`` W: of the W-th of its
    first W × ``window`` unused examples closest in duration to the batch's anchor).

    A pick takes the candidate whose nearest (cosine) neighbour among the batch's earlier picks
    is farthest. Candidates keep that nearest-pick similarity as a running maximum, brought up
    to date every ``FOLD_EVERY`` picks for the strata that still have picks to make; the picks
    since are compared with the picking stratum's candidates only.
    """

    def __init__(
        self,
        strata: Sequence[Stratum],
        embeddings: np.ndarray,
        window: int,
        seed: int,
        phase: int,
        durations: np.ndarray | None = None,
        sort_window: int = 0,
    ) -> None:
        self.tasks: dict[str, list[Stratum]] = {}
        for stratum in strata:
            self.tasks.setdefault(stratum.task, []).append(stratum)
        self.cursors = {s.name: Cursor(s.indices, seed, phase, s.name, "stratum") for s in strata}
        self.embeddings = embeddings
        self.window = window
        self.seed, self.phase = seed, phase
        self.durations = durations
        self.sort_window = sort_window if durations is not None else 0

    def _slots(self, batch_size: int, rng: np.random.Generator) -> list[str]:
        """The stratum of every slot of the batch, in a random order."""
        slots: list[str] = []
        for task, count in balanced_counts(batch_size, list(self.tasks), rng).items():
            names = [stratum.name for stratum in self.tasks[task]]
            for name, n in balanced_counts(count, names, rng).items():
                slots += [name] * n
        return [slots[i] for i in rng.permutation(len(slots))]

    def _draw(self, name: str, count: int, target: float | None) -> _Draw:
        """A stratum's share of the batch: the examples forced by the end of an epoch, and the
        candidates of the rest (those closest to ``target`` when one is given)."""
        cursor = self.cursors[name]
        forced = cursor.take_rest_if_short(count)
        need = count - len(forced)
        width = self.window + need - 1 if need else 0
        if target is None or not need:
            positions = cursor.candidates(width) if need else np.empty(0, dtype=np.int64)
            band = np.arange(len(positions))
        else:
            positions = cursor.candidates(self.sort_window * width)
            distance = np.abs(self.durations[cursor.order[positions]] - target)
            keep = max(need, -(-len(positions) // self.sort_window))
            band = np.sort(np.argsort(distance, kind="stable")[:keep])
        return _Draw(cursor, forced, positions, band, cursor.order[positions[band]])

    def _pick(
        self, draw: _Draw, nearest: np.ndarray, unit: np.ndarray, recent: np.ndarray
    ) -> tuple[int, int]:
        """The next example of a stratum's share: its row in ``unit`` and its index."""
        if draw.used < len(draw.forced):
            draw.used += 1
            return draw.start + draw.used - 1, draw.forced[draw.used - 1]
        first = draw.start + len(draw.forced)
        end = first + min(self.window + len(draw.picks), len(draw.band))
        score = nearest[first:end]
        if len(recent):
            score = np.maximum(score, (unit[first:end] @ recent.T).max(axis=1))
        k = int(np.argmin(score))
        nearest[first + k] = np.inf
        draw.picks.append(k)
        return first + k, int(draw.examples[k])

    def compose(self, step: int, batch_size: int) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        slots = self._slots(batch_size, rng)
        counts = Counter(slots)
        target = None
        if self.sort_window:  # the anchor: the first unused example of the first slot's stratum
            first = self.cursors[slots[0]]
            target = float(self.durations[first.order[first.candidates(1)[0]]])
        last = {name: t for t, name in enumerate(slots)}
        names = sorted(counts, key=last.__getitem__)  # finished strata's rows form a prefix
        draws, offset = {}, 0
        for name in names:
            draws[name] = draw = self._draw(name, counts[name], target)
            draw.start = offset
            offset += len(draw.forced) + len(draw.band)
        rows = [
            part for d in draws.values() for part in (np.asarray(d.forced, np.int64), d.examples)
        ]
        unit = unit_rows(self.embeddings, np.concatenate(rows))

        nearest = np.full(len(unit), -np.inf, dtype=np.float32)  # max similarity to the picks
        recent = np.empty((FOLD_EVERY, unit.shape[1]), dtype=np.float32)
        unfolded, finished = 0, 0
        batch: list[int] = []
        for t, name in enumerate(slots):
            row, index = self._pick(draws[name], nearest, unit, recent[:unfolded])
            batch.append(index)
            recent[unfolded] = unit[row]
            unfolded += 1
            while finished < len(names) and last[names[finished]] <= t:
                finished += 1
            if unfolded == FOLD_EVERY:
                if finished < len(names):
                    start = draws[names[finished]].start
                    live = nearest[start:]
                    np.maximum(live, (unit[start:] @ recent.T).max(axis=1), out=live)
                unfolded = 0
        for draw in draws.values():
            picked = np.zeros(len(draw.positions), dtype=bool)
            picked[draw.band[draw.picks]] = True
            draw.cursor.mark(draw.positions, picked)
        return batch

    def state_dict(self) -> dict:
        return {name: cursor.state_dict() for name, cursor in self.cursors.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, cursor in self.cursors.items():
            cursor.load_state_dict(state[name])
