"""Derived random generators: one seed, many independent, reproducible streams."""

from __future__ import annotations

import zlib

import numpy as np


def derive_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator seeded from ``seed`` and ``keys`` (strings by CRC-32): stable across runs,
    processes and Python hash seeds, independent for different keys."""
    entropy = [seed] + [zlib.crc32(key.encode()) if isinstance(key, str) else key for key in keys]
    return np.random.default_rng(entropy)
