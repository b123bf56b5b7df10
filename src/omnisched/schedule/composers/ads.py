"""The ADS composer (``composer: ads``, aligner-based diverse sampling): task- then
label-balanced batches, filled by greedy farthest-point picks on the aligner embeddings.

Batch ``s`` of a phase, every random choice drawn from ``(seed, phase, s)``:

1. Slots. The tasks share the batch evenly (remainders at random; with adaptive mixing, in
   proportion to the step's task weights, each within one of its expected count), then each
   task's share is split evenly over its strata: its labels, or k-means clusters of the
   embeddings for tasks without labels. A stratum never gets more slots than it holds
   (``balanced_counts``' capacities). The strata fill their slots one after another, in a
   random order.
2. Candidates. A stratum walks a fresh permutation of its examples per epoch. For ``c`` slots
   its candidates are its first ``window + c - 1`` unused positions, so every pick chooses
   among ``window`` examples. With ``sort_window`` W they are a W-th of its first
   W × (``window + c - 1``) unused positions: those around the batch's duration quantile.
3. Deadlines. With K = ``window`` (W × ``window`` with ``sort_window``), position ``p`` of an
   epoch is due by the stratum's draw ``p + DEADLINE × K`` of that epoch, and a due example
   is drawn before any pick: what the picks keep passing over (near-duplicates, awkward
   durations) is drawn after a bounded delay instead of piling up. With ``sort_window`` a
   due example waits, at most ``GRACE × K`` more draws, for a batch it is a candidate of.
4. Picks. Each remaining slot takes the candidate whose most similar (cosine) example among
   the batch's so far is the least similar: greedy k-center, which keeps near-duplicates
   apart. Within an epoch of its stratum every example is drawn once whatever the picks, so
   they cannot change the strata's mix: they choose which examples share a batch.
5. Duration. With ``sort_window`` W, batch ``s`` takes every stratum's candidates at one
   quantile ``(k + 0.5) / W`` of the durations it has left, ``k`` running through a random
   permutation of ``0 .. W-1`` over each W batches: every stratum is drawn evenly across its
   durations, so long and short examples never pile up and padding stays level over a run,
   while the slots stay those of step 1.

An epoch that ends inside a batch gives its rest first; the next epoch's candidates skip the
examples the batch already holds, so no example appears twice in a batch and none twice in an
epoch of its stratum.

The state is, per stratum, its epoch, its first unused position and the used bits after it
(spanning about the deadline): a few hundred bytes a step. The permutations are derived
again on restore. Embedding rows are read when their examples become candidates and kept,
scaled to unit length and quantized to int16, in a direct-mapped cache. Similarities are
integer dot products, exact in any order, so every CPU draws the same batches; a branch and
bound skips the products that cannot change a pick. All per-batch work is compiled (numba),
on one thread, without BLAS, so it does not compete with the trainer's threads.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import torch

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.schedule.budget import Budget, Costs, capacity, fits, sure_fit
from omnisched.schedule.composers.batching import balanced_counts, weighted_counts
from omnisched.schedule.phases import PhaseInput, PhaseSpec, register_composer
from omnisched.schedule.pools import PoolKey
from omnisched.seeding import derive_rng

DEADLINE = 6  # candidate windows (K positions) between a position and its due draw
GRACE = 2  # with sort_window, candidate windows a due example may wait for its duration
CACHE_BYTES = 64 << 20  # most memory the embedding row cache takes
_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing of example indices to cache slots
UNIT = 1 << 14  # cached rows: unit vectors times UNIT, rounded to int16
_UNSEEN = np.int32(-(1 << 31))  # a candidate's similarity to the picks before any
_TAKEN = np.int32((1 << 31) - 1)  # a candidate already picked
KMEANS_SAMPLE = 20_000  # rows k-means is fitted on; larger tasks are then assigned in chunks


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
class _Walk:
    """A stratum's walk through its epochs: the permutation's positions and used bits live
    in the composer's flat arrays, at ``offset``."""

    name: str
    indices: np.ndarray
    offset: int


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


@numba.njit(cache=True, nogil=True)
def _half_rows(bits: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """Rows ``examples`` of a float16 matrix (given as its uint16 bits) as float32: the half's
    exponent and mantissa shifted into a float's, scaled by 2^112 (exact, subnormals too)."""
    width = bits.shape[1]
    raw = np.empty((len(examples), width), dtype=np.int32)
    for r in range(len(examples)):
        source = bits[examples[r]]
        for k in range(width):
            raw[r, k] = np.int32(source[k] & 0x7FFF) << 13
    out = raw.view(np.float32) * np.float32(2.0**112)
    for r in range(len(examples)):
        source = bits[examples[r]]
        for k in range(width):
            if source[k] & 0x8000:
                out[r, k] = -out[r, k]
    return out


@numba.njit(cache=True, nogil=True)
def _lookup(items, tags, claims, stamp, where, shift):
    """``where[i]``: the cache row of ``items[i]``, claimed for this batch (-1: not cached).
    Returns the positions of the items not cached."""
    missing = np.empty(len(items), dtype=np.int64)
    count = 0
    for i in range(len(items)):
        slot = np.int64((np.uint64(items[i]) * _HASH) >> shift)
        if tags[slot] == items[i]:
            where[i] = slot
            claims[slot] = stamp
        else:
            where[i] = -1
            missing[count] = i
            count += 1
    return missing[:count]


@numba.njit(cache=True, nogil=True)
def _store(raw, missing, items, tags, claims, stamp, cache, where, shift):
    """Puts the gathered rows ``raw`` (of ``items[missing]``), scaled to unit length and
    quantized to ``UNIT``, in their cache rows; a row another item of this batch holds is
    left alone, and the item goes to a spill row past the cache's slots."""
    width = raw.shape[1]
    spill = len(tags)
    for m in range(len(missing)):
        i = missing[m]
        slot = np.int64((np.uint64(items[i]) * _HASH) >> shift)
        if claims[slot] == stamp:
            slot = spill
            spill += 1
        else:
            tags[slot] = items[i]
            claims[slot] = stamp
        total = np.float32(0.0)
        for k in range(width):
            total += raw[m, k] * raw[m, k]
        scale = np.float32(UNIT) / np.float32(max(np.sqrt(total), 1e-12))
        for k in range(width):
            cache[slot, k] = np.int16(np.round(raw[m, k] * scale))
        where[i] = slot


@numba.njit(cache=True, nogil=True)
def _holds(values, value):
    """Whether ``value`` is among ``values`` (a batch's carried examples: mostly none)."""
    return len(values) > 0 and (values == value).any()


@numba.njit(cache=True, nogil=True)
def _insert(by_time, length, position, durations):
    """Puts ``position`` into ``by_time[:length]``, positions in order of ``durations`` (an
    epoch's, by position); ``position`` follows every position there, so it goes after its
    equals."""
    value = durations[position]
    low, high = 0, length
    while low < high:
        middle = (low + high) // 2
        if durations[by_time[middle]] <= value:
            low = middle + 1
        else:
            high = middle
    for i in range(length, low, -1):
        by_time[i] = by_time[i - 1]
    by_time[low] = position


@numba.njit(cache=True, nogil=True)
def _prepare(
    turn, counts, preset, preset_start, order, used, offsets, sizes, drawn, frontier, live,
    by_time, live_len, window, spread, due, grace, durations, quantile, target, items,
    item_pos, segments,
):  # fmt: skip
    """Each stratum's share of the batch, in ``turn`` order, into ``items``: its examples from
    the end of the previous epoch, then its due examples, then its candidates.
    ``segments[t]`` = (start, carried, due, candidates); ``item_pos``: epoch positions. With
    ``durations`` (sort_window), ``by_time[j]`` keeps ``live[j]`` ordered by duration."""
    at = 0
    for t in range(len(turn)):
        j = turn[t]
        off, n = offsets[j], sizes[j]
        carried = preset[preset_start[t] : preset_start[t + 1]]
        slots = counts[j] - len(carried)
        segments[t, 0] = at
        segments[t, 1] = len(carried)
        for example in carried:
            items[at] = example
            item_pos[at] = -1
            at += 1
        if slots == 0:
            segments[t, 2] = 0
            segments[t, 3] = 0
            continue
        # the first spread × (window + slots - 1) unused positions not already in the batch
        want = spread * (window + slots - 1)
        length = live_len[j]
        eligible = length
        if len(carried):
            for i in range(length):
                if _holds(carried, order[off + live[j, i]]):
                    eligible -= 1
        while eligible < want and frontier[j] < n:
            p = frontier[j]
            frontier[j] += 1
            live[j, length] = p
            if len(durations):
                _insert(by_time[j], length, p, durations[off : off + n])
            length += 1
            if not _holds(carried, order[off + p]):
                eligible += 1
        live_len[j] = length
        if len(carried):
            pool = np.empty(min(eligible, want), dtype=np.int64)
            filled = 0
            for i in range(length):
                if filled < len(pool) and not _holds(carried, order[off + live[j, i]]):
                    pool[filled] = live[j, i]
                    filled += 1
        else:
            pool = live[j, : min(length, want)]
        last = drawn[j] + slots - 1  # the stratum's last draw in this batch
        chosen = np.ones(len(pool), dtype=np.bool_)
        band = max(slots, -(-len(pool) // spread))  # a spread-th, around the quantile
        if len(durations) and len(pool) > band:  # ranks low .. low + band by duration
            chosen[:] = False
            center = int(quantile * len(pool))
            if target >= 0:  # the rank of the target duration among the pool's
                center = 0
                for i in range(length):
                    p = by_time[j, i]
                    if p > pool[-1] or _holds(carried, order[off + p]):
                        continue
                    if durations[off + p] >= target:
                        break
                    center += 1
            low = min(max(center - band // 2, 0), len(pool) - band)
            rank = 0
            for i in range(length):
                p = by_time[j, i]
                if p > pool[-1] or _holds(carried, order[off + p]):
                    continue  # not among the pool's positions
                if rank >= low:
                    chosen[np.searchsorted(pool, p)] = True
                rank += 1
                if rank == low + band:
                    break
        forced = 0
        for i in range(len(pool)):  # in position order: the due ones come first
            p = pool[i]
            if forced == slots or p + due > last:
                break
            if p + due + grace <= last or chosen[i]:
                items[at] = order[off + p]
                item_pos[at] = p
                at += 1
                forced += 1
                chosen[i] = False
        segments[t, 2] = forced
        candidates = 0
        for i in range(len(pool)):
            if chosen[i]:
                items[at] = order[off + pool[i]]
                item_pos[at] = pool[i]
                at += 1
                candidates += 1
        segments[t, 3] = candidates
    return at


@numba.njit(cache=True, nogil=True)
def _dot(a, b):
    """Similarity of two quantized unit rows: |sum| <= UNIT² by Cauchy-Schwarz, so int32 never
    overflows; integer sums are exact in any order, so every CPU picks the same."""
    total = np.int32(0)
    for k in range(len(a)):
        total += np.int32(a[k]) * np.int32(b[k])
    return total


@numba.njit(cache=True, nogil=True)
def _farthest(cache, rows, picks, known, recent, nearest, progress, ranked):
    """The open candidate (``rows``, in order) whose most similar pick is the least similar,
    the earliest on ties: greedy k-center.

    ``nearest[i]`` is a lower bound of candidate i's largest similarity to the picks, exact
    once ``progress[i]`` reaches the end of ``ranked`` (the picks made before this stratum's
    turn, most similar to its candidates' mean first). The picks from ``recent`` on are this
    stratum's own: folded into every candidate at once. Candidates are scanned in order and
    one stops being compared as soon as its bound reaches the best exact score so far
    (branch and bound), which is exact and skips most products."""
    for i in range(len(rows)):
        if nearest[i] != _TAKEN:
            for p in range(recent, known):
                nearest[i] = max(nearest[i], _dot(cache[rows[i]], picks[p]))
    best, score = -1, _TAKEN
    for i in range(len(rows)):
        bound = nearest[i]
        if bound >= score:  # also skips taken ones
            continue
        row = cache[rows[i]]
        at = progress[i]
        while at < len(ranked) and bound < score:
            bound = max(bound, _dot(row, picks[ranked[at]]))
            at += 1
        nearest[i], progress[i] = bound, at
        if at == len(ranked) and bound < score:
            best, score = i, bound
    return best


@numba.njit(cache=True, nogil=True)
def _ranked(cache, rows, picks, count):
    """Picks ``0 .. count`` ordered by similarity to the mean of the candidate rows."""
    width = cache.shape[1]
    mean = np.zeros(width, dtype=np.int64)
    for r in rows:
        for k in range(width):
            mean[k] += cache[r, k]
    closeness = np.empty(count, dtype=np.int64)
    for p in range(count):
        total = np.int64(0)
        for k in range(width):
            total += mean[k] * np.int64(picks[p, k])
        closeness[p] = -total
    return np.argsort(closeness, kind="mergesort")


@numba.njit(cache=True, nogil=True)
def _select(
    turn, counts, cache, where, items, item_pos, segments, used, offsets, sizes, drawn, start,
    live, by_time, live_len, batch,
):  # fmt: skip
    """Fills ``batch`` stratum by stratum (carried and due examples, then farthest-point
    picks) and marks the drawn positions used."""
    picks = np.empty((len(batch), cache.shape[1]), dtype=np.int16)
    nearest = np.empty(len(items), dtype=np.int32)
    progress = np.empty(len(items), dtype=np.int64)
    taken = 0
    for t in range(len(turn)):
        j = turn[t]
        off = offsets[j]
        at, carried, due = segments[t, 0], segments[t, 1], segments[t, 2]
        candidates = segments[t, 3]
        for i in range(at, at + carried + due):
            picks[taken] = cache[where[i]]
            batch[taken] = items[i]
            taken += 1
            if item_pos[i] >= 0:
                used[off + item_pos[i]] = True
        first = at + carried + due
        slots = counts[j] - carried - due
        rows = where[first : first + candidates]
        if slots:
            ranked = _ranked(cache, rows, picks, taken)
            nearest[:candidates] = _UNSEEN
            progress[:candidates] = 0
        recent = taken
        for _ in range(slots):
            best = _farthest(
                cache, rows, picks, taken, recent, nearest[:candidates], progress[:candidates],
                ranked,
            )  # fmt: skip
            recent = taken
            nearest[best] = _TAKEN
            picks[taken] = cache[rows[best]]
            batch[taken] = items[first + best]
            taken += 1
            used[off + item_pos[first + best]] = True
        drawn[j] += counts[j] - carried
        if by_time.shape[1]:
            kept = 0
            for i in range(live_len[j]):
                if not used[off + by_time[j, i]]:
                    by_time[j, kept] = by_time[j, i]
                    kept += 1
        kept = 0
        for i in range(live_len[j]):
            if not used[off + live[j, i]]:
                live[j, kept] = live[j, i]
                kept += 1
        live_len[j] = kept
        while start[j] < sizes[j] and used[off + start[j]]:
            start[j] += 1


@numba.njit(cache=True, nogil=True)
def _spans(used, offsets, start, frontier):
    """Each stratum's used bits from its first unused position to its last used one."""
    spans = np.zeros(len(start), dtype=np.int64)
    for j in range(len(start)):
        for p in range(frontier[j] - 1, start[j] - 1, -1):
            if used[offsets[j] + p]:
                spans[j] = p + 1 - start[j]
                break
    bits = np.empty(spans.sum(), dtype=np.bool_)
    at = 0
    for j in range(len(start)):
        bits[at : at + spans[j]] = used[offsets[j] + start[j] : offsets[j] + start[j] + spans[j]]
        at += spans[j]
    return spans, bits


_compiled = False


def _compile() -> None:
    """Compiles the per-batch kernels (or loads them from numba's cache) once per process, on
    a tiny composer: a composer's setup pays for it, not its first batch."""
    global _compiled
    if _compiled:
        return
    _compiled = True
    strata = [Stratum("t", "a", np.arange(3)), Stratum("t", "b", np.arange(3, 6))]
    rows = np.ones((6, 2), dtype=np.float16)
    for sort_window in (0, 2):
        composer = DiverseComposer(strata, rows, 2, 0, 0, np.ones(6), sort_window)
        composer.compose(0, 4)
        composer.state_dict()


class DiverseComposer:
    """ADS: task- then label-balanced batches, farthest-point picks on aligner embeddings (see
    the module docstring).

    ``embeddings`` has one row per example index (rows of examples that never become
    candidates are never read; the matrix is read, never copied); ``window`` is how many
    candidates each pick looks at; ``sort_window`` W > 0 (with ``durations``) fills each batch
    from one duration quantile of every stratum.
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
        budget: Budget | None = None,
        costs: Costs | None = None,
    ) -> None:
        self.seed, self.phase = seed, phase
        self.budget, self.costs = budget, costs
        self.window = window
        self.sort_window = sort_window if durations is not None else 0
        self.durations = durations
        # with sort_window: the durations in each epoch's order, read in sequence
        self._order_durations = np.empty(0)
        self.names = [s.name for s in strata]
        sizes = [len(s.indices) for s in strata]
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.cursors = {
            s.name: _Walk(s.name, np.asarray(s.indices, dtype=np.int64), int(o))
            for s, o in zip(strata, self.offsets, strict=True)
        }
        self.tasks: dict[str, list[str]] = {}
        for stratum in strata:
            self.tasks.setdefault(stratum.task, []).append(stratum.name)
        self._index = {name: j for j, name in enumerate(self.names)}
        self._capacity = dict(zip(self.names, sizes, strict=True))
        self._task_capacity = {
            task: sum(self._capacity[name] for name in names) for task, names in self.tasks.items()
        }
        self.task_weights: Callable[[int], dict[str, float]] | None = None
        self.reach = window * max(1, self.sort_window)  # K: candidate positions per stratum
        self._window_order: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))
        total = int(self.sizes.sum())
        self.order = np.empty(total, dtype=np.int64)
        if self.sort_window:
            self._order_durations = np.empty(total, dtype=np.float64)
        self.used = np.zeros(total, dtype=bool)
        count = len(strata)
        self.epoch = np.zeros(count, dtype=np.int64)
        self.start = np.zeros(count, dtype=np.int64)  # first unused position
        self.drawn = np.zeros(count, dtype=np.int64)  # positions used this epoch
        self.frontier = np.zeros(count, dtype=np.int64)  # positions before it were looked at
        self.live = np.empty((count, 0), dtype=np.int64)  # unused positions before frontier
        self.by_time = np.empty((count, 0), dtype=np.int64)  # with sort_window: by duration
        self.live_len = np.zeros(count, dtype=np.int64)
        for j in range(count):
            self._start_epoch(j, 0)
        if budget is not None:  # the phase's lengths, for each batch's first guess
            self._members = np.concatenate([s.indices for s in strata])
            self._phase_seconds = np.sort(costs.seconds[self._members])
            self._phase_tokens = None
            if costs.tokens is not None:
                self._phase_tokens = np.sort(costs.tokens[self._members])
        self._embeddings = embeddings
        self._shift = np.uint64(64)
        self._tags = np.empty(0, dtype=np.int64)  # example index held by each cache row
        self._claims = np.empty(0, dtype=np.int64)  # the last batch that used each cache row
        self._stamp = 0
        self._cache = np.empty((0, 0), dtype=np.int16)
        _compile()

    @property
    def embeddings(self) -> np.ndarray:
        return self._embeddings

    @embeddings.setter
    def embeddings(self, matrix: np.ndarray) -> None:
        """A new matrix (refreshed embeddings) drops the row cache."""
        if matrix is not self._embeddings:
            self._embeddings = matrix
            self._tags = np.empty(0, dtype=np.int64)
            self._cache = np.empty((0, 0), dtype=np.int16)

    def _start_epoch(self, j: int, epoch: int) -> None:
        walk = self.cursors[self.names[j]]
        rng = derive_rng(self.seed, "stratum", self.phase, walk.name, epoch)
        n = len(walk.indices)
        self.order[walk.offset : walk.offset + n] = walk.indices[rng.permutation(n)]
        if self.sort_window:
            ordered = self.order[walk.offset : walk.offset + n]
            self._order_durations[walk.offset : walk.offset + n] = self.durations[ordered]
        self.used[walk.offset : walk.offset + n] = False
        self.epoch[j] = epoch
        self.start[j] = self.drawn[j] = self.frontier[j] = self.live_len[j] = 0

    def _counts(self, step: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Slots per stratum: even over tasks (or by the adaptive task weights, each within
        one of its expected count), then over each task's strata, within sizes."""
        counts = np.zeros(len(self.names), dtype=np.int64)
        if self.task_weights is None:
            tasks = balanced_counts(batch_size, list(self.tasks), rng, self._task_capacity)
        else:
            weights = self.task_weights(step)
            wanted = {task: weights[task] for task in self.tasks}
            tasks = weighted_counts(batch_size, wanted, rng, self._task_capacity)
        for task, count in tasks.items():
            strata = self.tasks[task]
            for name, n in balanced_counts(count, strata, rng, self._capacity).items():
                counts[self._index[name]] = n
        return counts

    def _carry(self, turn: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Opens the epochs that are used up; an epoch with fewer unused examples than its
        stratum's slots gives them all (in order, carried into the batch first) and the next
        epoch opens. Returns the carried examples and, per turn, where its own begin."""
        carried = [np.empty(0, dtype=np.int64)]
        bounds = np.zeros(len(turn) + 1, dtype=np.int64)
        for t, j in enumerate(turn.tolist()):
            remaining = self.sizes[j] - self.drawn[j]
            if remaining < counts[j]:
                begin = self.offsets[j] + self.start[j]
                end = self.offsets[j] + self.sizes[j]
                carried.append(self.order[begin:end][~self.used[begin:end]])
                self._start_epoch(j, int(self.epoch[j]) + 1)
            bounds[t + 1] = bounds[t] + (len(carried[-1]) if remaining < counts[j] else 0)
        return np.concatenate(carried), bounds

    def _quantile(self, step: int) -> float:
        """The duration quantile batch ``step`` targets: over every ``sort_window`` batches,
        each of ``(k + 0.5) / W`` once, in a random order (0.5 without sort_window)."""
        if not self.sort_window:
            return 0.5
        window, slot = divmod(step, self.sort_window)
        if self._window_order[0] != window:
            rng = derive_rng(self.seed, "window", self.phase, window)
            self._window_order = (window, rng.permutation(self.sort_window))
        return (float(self._window_order[1][slot]) + 0.5) / self.sort_window

    def _buffers(self, batch_size: int) -> None:
        """Sizes the candidate lists and the row cache for ``batch_size``."""
        capacity = max(1, self.sort_window) * (self.window + batch_size) + batch_size
        if self.live.shape[1] < capacity:
            grown = np.empty((len(self.names), capacity), dtype=np.int64)
            grown[:, : self.live.shape[1]] = self.live
            self.live = grown
            if self.sort_window:
                grown = np.empty_like(grown)
                grown[:, : self.by_time.shape[1]] = self.by_time
                self.by_time = grown
        spill = 3 * batch_size + len(self.names) * self.window  # items of one batch at most
        if len(self._cache) >= len(self._tags) + spill:
            return
        width = self._embeddings.shape[1]
        working = int(np.minimum(self.sizes, self.reach + batch_size).sum())
        limit = max(CACHE_BYTES // (2 * width), 1024)
        bits = int(min(max(4 * working, 1024), limit) - 1).bit_length()
        self._shift = np.uint64(64 - bits)
        self._tags = np.full(1 << bits, -1, dtype=np.int64)
        self._claims = np.zeros(1 << bits, dtype=np.int64)
        self._cache = np.empty(((1 << bits) + spill, width), dtype=np.int16)

    def _rows(self, items: np.ndarray) -> np.ndarray:
        """The cache rows holding the unit rows of ``items``, read from the matrix if needed."""
        self._stamp += 1
        where = np.empty(len(items), dtype=np.int64)
        missing = _lookup(items, self._tags, self._claims, self._stamp, where, self._shift)
        if len(missing):
            wanted = items[missing]
            matrix = self._embeddings
            if matrix.dtype == np.float16:
                raw = _half_rows(np.asarray(matrix).view(np.uint16), wanted)
            else:
                raw = np.asarray(np.take(matrix, wanted, axis=0), dtype=np.float32)
            _store(
                raw, missing, items, self._tags, self._claims, self._stamp, self._cache, where,
                self._shift,
            )  # fmt: skip
        return where

    def compose(self, step: int, batch_size: int) -> list[int]:
        """Batch ``step``: ``batch_size`` examples, or with a budget as many as fit it (at
        most ``batch_size``): a first guess from the duration band the batch targets, then
        fewer, from the same state, until the batch fits (at worst as many as fit of the
        phase's longest examples)."""
        if self.budget is None:
            return self._compose(step, batch_size, -1.0)
        target, count = self._budget_guess(step, batch_size)
        surely = sure_fit(self.budget, self.costs, self._members, batch_size)
        count = max(count, surely)
        while True:
            state = self.state_dict()
            batch = self._compose(step, count, target)
            if fits(self.budget, self.costs, batch, batch_size):
                return batch
            self.load_state_dict(state)
            count = max(surely, min(count - 1, int(count * self._room(batch))))

    def _room(self, batch: list[int]) -> float:
        """The budget over what ``batch`` costs, by its tighter limit."""
        ratios = []
        if self.budget.max_seconds is not None:
            ratios.append(self.budget.max_seconds / (len(batch) * self.costs.seconds[batch].max()))
        if self.budget.max_tokens is not None:
            ratios.append(self.budget.max_tokens / (len(batch) * self.costs.tokens[batch].max()))
        return min(ratios)

    def _budget_guess(self, step: int, cap: int) -> tuple[float, int]:
        """The duration batch ``step`` matches every stratum's candidates to (-1: none, without
        ``sort_window``) and how many examples of the band's upper edge fit the budget."""
        quantile = self._quantile(step)
        upper = min(1.0, quantile + 0.5 / max(1, self.sort_window)) if self.sort_window else 1.0
        tokens = 0.0 if self._phase_tokens is None else _sorted_quantile(self._phase_tokens, upper)
        count = capacity(self.budget, _sorted_quantile(self._phase_seconds, upper), tokens, cap)
        target = _sorted_quantile(self._phase_seconds, quantile) if self.sort_window else -1.0
        return target, count

    def _compose(self, step: int, batch_size: int, target: float) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        counts = self._counts(step, batch_size, rng)
        turn = rng.permutation(len(self.names))
        turn = turn[counts[turn] > 0]
        self._buffers(batch_size)
        carried, bounds = self._carry(turn, counts)
        capacity = 3 * batch_size + len(turn) * self.window  # carried, due and candidates
        items = np.empty(capacity, dtype=np.int64)
        item_pos = np.empty(capacity, dtype=np.int64)
        segments = np.empty((len(turn), 4), dtype=np.int64)
        spread = max(1, self.sort_window)
        due = DEADLINE * self.reach
        grace = GRACE * self.reach if self.sort_window else 0
        filled = _prepare(
            turn, counts, carried, bounds, self.order, self.used, self.offsets, self.sizes,
            self.drawn, self.frontier, self.live, self.by_time, self.live_len, self.window,
            spread, due, grace, self._order_durations, self._quantile(step), target, items,
            item_pos, segments,
        )  # fmt: skip
        where = self._rows(items[:filled])
        batch = np.empty(batch_size, dtype=np.int64)
        _select(
            turn, counts, self._cache, where, items, item_pos, segments, self.used,
            self.offsets, self.sizes, self.drawn, self.start, self.live, self.by_time,
            self.live_len, batch,
        )  # fmt: skip
        return batch.tolist()

    def state_dict(self) -> dict:
        """Per stratum: epoch, first unused position, and the used bits after it (base64)."""
        spans, bits = _spans(self.used, self.offsets, self.start, self.frontier)
        return {
            "epoch": self.epoch.tolist(),
            "start": self.start.tolist(),
            "span": spans.tolist(),
            "used": base64.b64encode(np.packbits(bits).tobytes()).decode("ascii"),
        }

    def load_state_dict(self, state: dict) -> None:
        if "span" not in state or len(state["epoch"]) != len(self.names):
            raise ConfigError(
                "ADS sampler state is from another version or plan (expected per-stratum "
                f"epochs, starts and used bits for {len(self.names)} strata)"
            )
        spans = np.asarray(state["span"], dtype=np.int64)
        bits = np.unpackbits(np.frombuffer(base64.b64decode(state["used"]), dtype=np.uint8))
        ends = np.cumsum(spans)
        unused = []
        for j in range(len(self.names)):
            epoch, start = int(state["epoch"][j]), int(state["start"][j])
            if self.epoch[j] != epoch:
                self._start_epoch(j, epoch)
            segment = self.used[self.offsets[j] : self.offsets[j] + self.sizes[j]]
            segment[:] = False
            segment[:start] = True
            segment[start : start + spans[j]] = bits[ends[j] - spans[j] : ends[j]]
            self.start[j] = start
            self.drawn[j] = int(segment.sum())
            self.frontier[j] = start + spans[j]
            unused.append(start + np.flatnonzero(~segment[start : self.frontier[j]]))
        width = max(self.live.shape[1], *map(len, unused))
        self.live = np.empty((len(self.names), width), dtype=np.int64)
        if self.sort_window:
            self.by_time = np.empty_like(self.live)
        for j, positions in enumerate(unused):
            self.live[j, : len(positions)] = positions
            self.live_len[j] = len(positions)
            if self.sort_window:
                keys = self._order_durations[self.offsets[j] + positions]
                self.by_time[j, : len(positions)] = positions[np.lexsort((positions, keys))]


def _sorted_quantile(values: np.ndarray, quantile: float) -> float:
    """``np.quantile(values, quantile)`` (linear) of already sorted ``values``, without the
    partition ``np.quantile`` does on every call."""
    position = quantile * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return float(values[low] + (position - low) * (values[high] - values[low]))


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


def task_balanced_shares(spec: PhaseSpec, sizes: dict[PoolKey, int]) -> dict[PoolKey, float]:
    """Tasks share batches equally; inside a task its pools by size."""
    tasks = sorted({key.task for key in sizes})
    task_sizes = {t: sum(n for k, n in sizes.items() if k.task == t) for t in tasks}
    return {key: n / task_sizes[key.task] / len(tasks) for key, n in sizes.items()}


@register_composer("ads", shares=task_balanced_shares, needs_embeddings=True, adaptive=True)
def build(phase: PhaseInput) -> DiverseComposer:
    settings = phase.spec.diversity
    strata = _strata(phase.examples, phase.pools, phase.embeddings, settings.clusters, phase.seed)
    return DiverseComposer(
        strata,
        phase.embeddings,
        settings.window,
        phase.seed,
        phase.index,
        phase.durations,
        phase.spec.sort_window,
        phase.spec.batching,
        phase.costs,
    )
