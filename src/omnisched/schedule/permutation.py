"""A random-access pseudo-random permutation of ``range(n)``: any position in O(1), no O(n) work.

An epoch's shuffle as a keyed bijection instead of a materialized array, so restoring a
sampler at step 1,000,000 of a 1M-example pool costs a few microseconds instead of a
``permutation(n)`` (tens of milliseconds and 8 bytes per example). The bijection is a balanced
Feistel network on the smallest even number of bits that covers ``n``, with cycle walking:
a value that lands outside ``[0, n)`` is encrypted again until it lands inside, which keeps the
map a bijection of ``[0, n)`` (the domain is at most 4n, so under 4 rounds of walking on
average). The same construction serves random-access shuffling in grain's ``index_shuffle``.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 6  # ≥ 4 rounds of a pseudo-random function make a pseudo-random permutation


def _mix(values: np.ndarray, key: np.uint64) -> np.ndarray:
    """splitmix64's finalizer of ``values ^ key``: a fast, well-avalanching round function."""
    z = values ^ key
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class IndexPermutation:
    """``perm[positions]``: the elements at ``positions`` of one random order of ``range(n)``."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        if n < 1:
            raise ValueError(f"a permutation needs n ≥ 1, got {n}")
        self.n = n
        half = max(1, (int(n - 1).bit_length() + 1) // 2)
        self._half = np.uint64(half)
        self._mask = np.uint64((1 << half) - 1)
        self._keys = rng.integers(0, np.iinfo(np.uint64).max, size=ROUNDS, dtype=np.uint64)

    def _encrypt(self, values: np.ndarray) -> np.ndarray:
        left, right = values >> self._half, values & self._mask
        for key in self._keys:
            left, right = right, left ^ (_mix(right, key) & self._mask)
        return (left << self._half) | right

    def __getitem__(self, positions: np.ndarray | slice) -> np.ndarray:
        if isinstance(positions, slice):
            positions = np.arange(*positions.indices(self.n))
        values = np.asarray(positions, dtype=np.uint64)
        if len(values) and int(values.max()) >= self.n:
            raise IndexError(f"position {int(values.max())} is outside a permutation of {self.n}")
        values = self._encrypt(values)
        outside = values >= self.n
        while outside.any():
            values[outside] = self._encrypt(values[outside])
            outside = values >= self.n
        return values.astype(np.int64)

    def __len__(self) -> int:
        return self.n
