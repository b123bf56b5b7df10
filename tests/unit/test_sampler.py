"""ScheduledBatchSampler invariants: determinism, coverage, resume equality, rank slicing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnisched.errors import ConfigError
from omnisched.schedule.sampler import ScheduledBatchSampler


def stream(sampler: ScheduledBatchSampler) -> list[list[int]]:
    return [list(batch) for batch in sampler]


@given(
    n=st.integers(1, 300),
    batch=st.integers(1, 64),
    steps=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=100, deadline=None)
def test_same_seed_same_stream_and_no_repeats_inside_an_epoch(n, batch, steps, seed):
    indices = list(range(1000, 1000 + n))
    first = stream(ScheduledBatchSampler(indices, batch, steps, seed=seed))
    assert first == stream(ScheduledBatchSampler(indices, batch, steps, seed=seed))
    flat = [i for b in first for i in b]
    assert all(len(b) == batch for b in first)
    assert set(flat) <= set(indices)
    for epoch_start in range(0, len(flat) - n + 1, n):  # every complete epoch covers all, once
        assert sorted(flat[epoch_start : epoch_start + n]) == indices


@given(steps=st.integers(2, 50), cut=st.data(), seed=st.integers(0, 1000))
@settings(max_examples=50, deadline=None)
def test_resume_at_any_step_gives_the_remaining_stream(steps, cut, seed):
    indices = list(range(97))
    full = stream(ScheduledBatchSampler(indices, 8, steps, seed=seed))
    at = cut.draw(st.integers(0, steps))
    first = ScheduledBatchSampler(indices, 8, steps, seed=seed)
    consumed = [b for _, b in zip(range(at), first, strict=False)]
    resumed = ScheduledBatchSampler(indices, 8, steps, seed=seed)
    resumed.load_state_dict(first.state_dict())
    assert consumed + stream(resumed) == full


@pytest.mark.parametrize("world", [1, 2, 4])
def test_ranks_partition_every_global_batch(world):
    indices = list(range(50))
    single = stream(ScheduledBatchSampler(indices, 8, 20, seed=7))
    per_rank = [
        stream(ScheduledBatchSampler(indices, 8, 20, seed=7, rank=r, world_size=world))
        for r in range(world)
    ]
    for step, global_batch in enumerate(single):
        union = [i for rank in per_rank for i in rank[step]]
        assert sorted(union) == sorted(global_batch)


def test_different_seeds_differ_and_bad_settings_are_named():
    indices = list(range(100))
    assert stream(ScheduledBatchSampler(indices, 8, 5, seed=0)) != stream(
        ScheduledBatchSampler(indices, 8, 5, seed=1)
    )
    with pytest.raises(ConfigError, match="multiple of the world size"):
        ScheduledBatchSampler(indices, 6, 5, world_size=4)
    with pytest.raises(ConfigError, match="no examples"):
        ScheduledBatchSampler([], 6, 5)
    sampler = ScheduledBatchSampler(indices, 8, 5, seed=0)
    with pytest.raises(ConfigError, match="another seed"):
        sampler.load_state_dict({"step": 1, "seed": 9, "batch_size": 8})
