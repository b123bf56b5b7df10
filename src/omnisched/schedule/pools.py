"""Pools: the examples that share a task, a modality and a language.

Schedules choose among pools, then among the examples of a pool. A pool is named
``task/modality/language`` (``asr/speech/ar``), the name every report and recipe uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from omnisched.data.example import Example

POOL_FIELDS = ("task", "modality", "language")


@dataclass(frozen=True, order=True)
class PoolKey:
    """The identity of a pool."""

    task: str
    modality: str
    language: str

    def __str__(self) -> str:
        return f"{self.task}/{self.modality}/{self.language}"

    def group(self, fields: Sequence[str]) -> str:
        """The name of this pool's group when pools are grouped by ``fields``."""
        return "/".join(getattr(self, field) for field in fields)


def pool_of(example: Example) -> PoolKey:
    """The pool an example belongs to."""
    return PoolKey(example.task, example.modality, example.language)


def group_pools(examples: Sequence[Example], indices: Iterable[int]) -> dict[PoolKey, np.ndarray]:
    """The ``indices`` (into ``examples``) grouped by pool, in ascending index order."""
    grouped: dict[PoolKey, list[int]] = defaultdict(list)
    for index in indices:
        grouped[pool_of(examples[index])].append(index)
    return {key: np.asarray(grouped[key], dtype=np.int64) for key in sorted(grouped)}


def pool_table(examples: Sequence[Example]) -> tuple[list[PoolKey], np.ndarray]:
    """Every pool of ``examples`` (sorted) and each example's position in that list, built in
    one pass without a Python object per example (a million-row corpus stays cheap)."""
    codes: dict[tuple[str, str, str], int] = {}
    pools = (codes.setdefault(e.pool, len(codes)) for e in examples)
    raw = np.fromiter(pools, dtype=np.int32, count=len(examples))
    keys = sorted(PoolKey(*pool) for pool in codes)
    remap = np.empty(len(codes), dtype=np.int32)
    for position, key in enumerate(keys):
        remap[codes[(key.task, key.modality, key.language)]] = position
    return keys, remap[raw]
