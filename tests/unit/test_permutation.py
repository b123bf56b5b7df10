"""The shuffle's random-access permutation: a bijection, uniform-looking, cheap at any position."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from omnisched.schedule.permutation import IndexPermutation


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), seed=st.integers(0, 2**32))
def test_every_position_maps_to_a_distinct_element_of_range_n(n, seed):
    order = IndexPermutation(n, np.random.default_rng(seed))[:]
    assert sorted(order.tolist()) == list(range(n))


def test_random_access_agrees_with_the_whole_order():
    perm = IndexPermutation(1_000_003, np.random.default_rng(0))
    positions = np.array([0, 1, 17, 999_999, 1_000_002])
    whole = perm[:]
    assert perm[positions].tolist() == whole[positions].tolist()
    assert perm[10:20].tolist() == whole[10:20].tolist()


def test_same_key_same_order_other_key_other_order():
    first = IndexPermutation(1000, np.random.default_rng(1))[:]
    assert first.tolist() == IndexPermutation(1000, np.random.default_rng(1))[:].tolist()
    assert first.tolist() != IndexPermutation(1000, np.random.default_rng(2))[:].tolist()


def test_orders_look_uniformly_random():
    """Where element 0 lands over 4000 keys: uniform over 8 positions (χ², α = 0.01); and the
    orders are not close to the identity (mean displacement near n/3, as for a random one)."""
    n = 8
    landing = [
        int(np.flatnonzero(IndexPermutation(n, np.random.default_rng(k))[:] == 0)[0])
        for k in range(4000)
    ]
    assert chisquare(np.bincount(landing, minlength=n)).pvalue > 0.01
    big = IndexPermutation(100_000, np.random.default_rng(0))[:]
    displacement = np.abs(big - np.arange(100_000)).mean()
    assert displacement == pytest.approx(100_000 / 3, rel=0.02)


def test_positions_outside_are_refused():
    with pytest.raises(IndexError, match="outside"):
        IndexPermutation(10, np.random.default_rng(0))[np.array([10])]
    with pytest.raises(ValueError, match="n ≥ 1"):
        IndexPermutation(0, np.random.default_rng(0))
