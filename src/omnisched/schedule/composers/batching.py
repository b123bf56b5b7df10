"""What composers share: slots shared evenly within capacities, and copies kept apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


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
    return _within(counts, total, rng, capacity)


def weighted_counts(
    total: int,
    weights: dict[str, float],
    rng: np.random.Generator,
    capacity: dict[str, int] | None = None,
) -> dict[str, int]:
    """``total`` slots shared in proportion to ``weights``: each name gets its expected count
    ``total * weight`` rounded down or up, up with a chance of its fractional part
    (systematic sampling over the names in a random order), so counts are right on average
    and never off by more than one. ``capacity`` as in ``balanced_counts``."""
    names = list(weights)
    expected = total * np.array([weights[n] for n in names]) / sum(weights.values())
    floors = np.floor(expected).astype(np.int64)
    extra = total - int(floors.sum())
    if extra:
        order = rng.permutation(len(names))
        cumulative = np.cumsum((expected - floors)[order])
        cumulative *= extra / cumulative[-1]
        points = rng.random() + np.arange(extra)
        picked = order[np.minimum(np.searchsorted(cumulative, points), len(names) - 1)]
        floors[picked] += 1
    counts = dict(zip(names, floors.tolist(), strict=True))
    return _within(counts, total, rng, capacity)


def _within(
    counts: dict[str, int], total: int, rng: np.random.Generator, capacity: dict[str, int] | None
) -> dict[str, int]:
    """``counts`` with no name above its capacity: the excess goes, one slot at a time, to the
    least-filled names with room."""
    if capacity is None:
        return counts
    names = list(counts)
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
