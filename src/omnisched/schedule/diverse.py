"""ADS: the diverse composer, task- then label-balanced batches with farthest-point picks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from omnisched.schedule.composers import balanced_counts
from omnisched.schedule.cursor import Cursor
from omnisched.seeding import derive_rng

FOLD_EVERY = 8  # ADS picks between two updates of every live candidate's nearest-pick distance


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
