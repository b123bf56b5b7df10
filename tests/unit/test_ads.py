"""ADS (the diverse composer): exact greedy picks, balance and no repeats across epoch wraps,
exact resume, bounded state, level padding with sort_window, and what the picks add."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from omnisched.schedule.composers.ads import (
    DEADLINE,
    UNIT,
    DiverseComposer,
    Stratum,
    _farthest,
    _ranked,
)
from omnisched.schedule.mixture import Mixture
from omnisched.schedule.phases import DiversitySettings, PhaseSpec
from omnisched.schedule.strategies import ADSSchedule
from schedule_helpers import clustered_embeddings, make_examples, sampler_for, stream


def _unit_int16(rng: np.random.Generator, count: int, width: int) -> np.ndarray:
    rows = rng.normal(size=(count, width))
    rows[rng.random(count) < 0.3] = rows[0]  # duplicates: ties between candidates
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return np.round(rows * UNIT).astype(np.int16)


@given(seed=st.integers(0, 10_000), earlier=st.integers(0, 12), slots=st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_branch_and_bound_picks_exactly_the_greedy_farthest_candidates(seed, earlier, slots):
    rng = np.random.default_rng(seed)
    cache = _unit_int16(rng, 12 + earlier, 8)
    rows = np.arange(12, dtype=np.int64)
    picks = np.empty((earlier + slots, 8), dtype=np.int16)
    picks[:earlier] = cache[12:]
    nearest = np.full(12, np.iinfo(np.int32).min, dtype=np.int32)
    progress = np.zeros(12, dtype=np.int64)
    ranked = _ranked(cache, rows, picks, earlier)
    open_, taken, recent = list(range(12)), earlier, earlier
    for _ in range(slots):
        best = _farthest(cache, rows, picks, taken, recent, nearest, progress, ranked)
        recent = taken
        similar = cache[open_].astype(np.int64) @ picks[:taken].astype(np.int64).T
        scores = similar.max(axis=1) if taken else np.full(len(open_), -1)
        assert best == open_[int(np.argmin(scores))]  # the first of equals
        nearest[best] = np.iinfo(np.int32).max
        picks[taken] = cache[best]
        open_.remove(best)
        taken += 1


def _strata(sizes: list[list[int]]) -> list[Stratum]:
    """Strata of consecutive example indices: ``sizes[task][label]`` examples each."""
    strata, start = [], 0
    for task, labels in enumerate(sizes):
        for label, size in enumerate(labels):
            strata.append(Stratum(f"t{task}", f"l{label}", np.arange(start, start + size)))
            start += size
    return strata


def _balanced(counts: dict[str, int], capacity: dict[str, int]) -> bool:
    """No name beyond its capacity; counts within one of each other where none is full."""
    if any(n > capacity[name] for name, n in counts.items()):
        return False
    even = -(-sum(counts.values()) // len(counts))
    if any(capacity[name] < even for name in counts):
        return True  # a full name passes slots on: balanced_counts' own tests cover how
    return max(counts.values()) - min(counts.values()) <= 1


@given(
    sizes=st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=3), min_size=1, max_size=3),
    share=st.floats(0.05, 1.0),
    window=st.integers(1, 4),
    sort_window=st.sampled_from([0, 2, 3]),
    seed=st.integers(0, 10_000),
    cut=st.integers(1, 29),
)
@settings(max_examples=80, deadline=None)
def test_batches_are_balanced_repeat_free_and_resume_exactly_across_epoch_wraps(
    sizes, share, window, sort_window, seed, cut
):
    """Strata of 1 to 9 examples wrap their epochs every few batches, some inside a batch."""
    strata = _strata(sizes)
    total = sum(map(sum, sizes))
    batch = max(1, round(share * total))
    embeddings = clustered_embeddings(total, seed=seed)
    durations = np.random.default_rng(seed).gamma(2.0, 2.0, total)

    def composer() -> DiverseComposer:
        return DiverseComposer(strata, embeddings, window, seed, 0, durations, sort_window)

    first = composer()
    batches = [first.compose(step, batch) for step in range(30)]
    task_of = {int(i): s.task for s in strata for i in s.indices}
    name_of = {int(i): s.name for s in strata for i in s.indices}
    tasks = {f"t{t}": sum(labels) for t, labels in enumerate(sizes)}
    capacity = {s.name: len(s.indices) for s in strata}
    draws: dict[str, list[int]] = {}
    for b in batches:
        assert len(b) == batch and len(set(b)) == batch
        assert _balanced(Counter({t: 0 for t in tasks}) | Counter(task_of[i] for i in b), tasks)
        for task in tasks:
            names = {s.name: 0 for s in strata if s.task == task}
            assert _balanced(names | Counter(name_of[i] for i in b if task_of[i] == task), capacity)
        for i in b:
            draws.setdefault(name_of[i], []).append(i)
    for name, seen in draws.items():  # every epoch of a stratum: each of its examples once
        for start in range(0, len(seen), capacity[name]):
            epoch = seen[start : start + capacity[name]]
            assert len(set(epoch)) == len(epoch), name

    partial = composer()
    for step in range(cut):
        partial.compose(step, batch)
    resumed = composer()
    resumed.load_state_dict(json.loads(json.dumps(partial.state_dict())))
    assert [resumed.compose(step, batch) for step in range(cut, 30)] == batches[cut:]


def _nearest_and_mean_distance(batches: list[list[int]], embeddings: np.ndarray):
    """Mean cosine distance of each example to its nearest batch-mate, and mean pairwise."""
    unit = embeddings.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    nearest, pairwise = [], []
    for batch in batches:
        gaps = 1 - unit[batch] @ unit[batch].T
        pairwise.append(gaps[np.triu_indices(len(batch), 1)].mean())
        np.fill_diagonal(gaps, np.inf)
        nearest.append(gaps.min(axis=1).mean())
    return float(np.mean(nearest)), float(np.mean(pairwise))


def test_strata_spread_the_mix_and_picks_keep_near_duplicates_apart():
    """On clustered rows with one cluster holding 70 %: the k-means strata raise the mean
    pairwise distance over balanced random batches. The picks (window 32 against 1) keep
    similar examples out of one batch; they cannot move the mean pairwise distance, which
    over a stratum's epoch depends only on the mix of the strata (each example once)."""
    examples = make_examples({("asr", "speech", "ar"): 600, ("ssum", "speech", "ar"): 600})
    embeddings = clustered_embeddings(len(examples), clusters=12, seed=2, dominant=0.7)

    def ads(window: int) -> list[list[int]]:
        diversity = DiversitySettings(window=window)
        schedule = ADSSchedule(strategy="ads", tasks=["asr", "ssum"], diversity=diversity)
        return stream(sampler_for(schedule, examples, 16, 150, 0, embeddings)[0])

    balanced = [PhaseSpec(name="r", tasks=["asr", "ssum"], mixture=Mixture(kind="balanced"))]
    random = stream(sampler_for(balanced, examples, 16, 150, 0, embeddings)[0])
    _, random_mean = _nearest_and_mean_distance(random, embeddings)
    strata_nearest, strata_mean = _nearest_and_mean_distance(ads(1), embeddings)
    both_nearest, both_mean = _nearest_and_mean_distance(ads(32), embeddings)
    assert strata_mean / random_mean >= 1.3
    assert both_nearest / strata_nearest >= 1.2
    assert abs(both_mean / strata_mean - 1) <= 0.02


def test_state_stays_small_when_the_picks_keep_passing_examples_over():
    """One stratum per task, 70 % of it one tight cluster: the picks pass over that cluster's
    examples, which become due instead of piling up in the state."""
    embeddings = clustered_embeddings(8000, clusters=12, seed=1, dominant=0.7)
    strata = _strata([[4000], [4000]])
    composer = DiverseComposer(strata, embeddings, 32, 0, 0)
    for step in range(600):
        composer.compose(step, 32)
    state = composer.state_dict()
    assert len(json.dumps(state)) < 200
    assert max(state["span"]) <= (DEADLINE + 1) * 32 + 32


def _padding(batches: list[list[int]], durations: np.ndarray) -> np.ndarray:
    return np.asarray([1 - durations[b].mean() / durations[b].max() for b in batches])


def test_duration_quantiles_keep_padding_level_over_a_run():
    """Four tasks of different typical durations, strata of 200 that wrap every 50 batches:
    padding stays at one level through the run, because every batch draws each stratum at
    one quantile of what it has left (an absolute anchor swings between 12 % and 41 %)."""
    rng = np.random.default_rng(0)
    strata = _strata([[200] * 4] * 4)
    means = np.repeat([3.2, 5.3, 2.7, 3.6], 800)
    durations = rng.gamma(6.0, means / 6.0) + 0.3
    embeddings = clustered_embeddings(3200, seed=3)
    composer = DiverseComposer(strata, embeddings, 32, 0, 0, durations, 64)
    padding = _padding([composer.compose(step, 16) for step in range(400)], durations)
    levels = padding.reshape(8, 50).mean(axis=1)
    assert levels.max() - levels.min() <= 0.03, levels
    assert levels.max() <= 0.35, levels


def test_half_and_single_precision_rows_give_the_same_batches():
    embeddings = clustered_embeddings(300, seed=4)
    embeddings[::7, :3] = np.float16(3e-6)  # subnormal halves
    strata = _strata([[100, 50], [150]])
    half = DiverseComposer(strata, embeddings, 8, 0, 0)
    single = DiverseComposer(strata, embeddings.astype(np.float32), 8, 0, 0)
    assert [half.compose(s, 12) for s in range(20)] == [single.compose(s, 12) for s in range(20)]


def test_new_embeddings_replace_the_cached_rows():
    old = clustered_embeddings(400, seed=5)
    new = clustered_embeddings(400, width=24, seed=6)
    strata = _strata([[200], [200]])
    live = DiverseComposer(strata, old, 16, 0, 0)
    for step in range(10):
        live.compose(step, 16)
    state = json.loads(json.dumps(live.state_dict()))
    live.embeddings = new
    fresh = DiverseComposer(strata, new, 16, 0, 0)
    fresh.load_state_dict(state)
    assert [live.compose(s, 16) for s in range(10, 20)] == [
        fresh.compose(s, 16) for s in range(10, 20)
    ]
