"""The scheduler's promises, checked where an outside review found them broken: no example
twice in a batch, hybrid switches where the recipe says, TPC settings that mean something,
and our own errors for bad schedules and embeddings."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnisched.errors import ConfigError
from omnisched.schedule.composers.batching import balanced_counts
from omnisched.schedule.phases import PhaseSpec, Plateau
from omnisched.schedule.plan import build_plan
from omnisched.schedule.strategies import (
    ADSSchedule,
    CrosslingualSchedule,
    CurriculumSchedule,
    HybridSchedule,
    MixSchedule,
    ProportionalSchedule,
    TemperatureSchedule,
    TextOnlySchedule,
    TPCSchedule,
    UniformSchedule,
)
from schedule_helpers import (
    PAPER1_POOLS,
    clustered_embeddings,
    make_examples,
    sampler_for,
    stream,
)

PAPER1 = make_examples(PAPER1_POOLS)


def _repeats(batches: list[list[int]]) -> list[int]:
    """Steps whose batch holds some example more than once."""
    return [step for step, batch in enumerate(batches) if len(set(batch)) != len(batch)]


@pytest.mark.parametrize(
    ("schedule", "seed", "step"),
    [
        (UniformSchedule(strategy="uniform", sort_window=4), 0, 120),
        (TPCSchedule(strategy="tpc", sort_window=4), 0, 4),
        (UniformSchedule(strategy="uniform"), 1, 48),
        (UniformSchedule(strategy="uniform"), 3, 48),
    ],
)
def test_the_reported_batches_hold_no_example_twice(schedule, seed, step):
    batches = stream(sampler_for(schedule, PAPER1, 8, 200, seed)[0])
    assert len(set(batches[step])) == len(batches[step])


@pytest.mark.parametrize(
    "schedule",
    [
        UniformSchedule(strategy="uniform", sort_window=4),
        TPCSchedule(strategy="tpc", sort_window=4),
    ],
)
def test_no_batch_repeats_an_example_over_seeds_and_epoch_wraps(schedule):
    for seed in range(5):
        batches = stream(sampler_for(schedule, PAPER1, 8, 200, seed)[0])
        assert _repeats(batches) == [], seed


PROPERTY_SCHEDULES = {
    "uniform": UniformSchedule(strategy="uniform"),
    "proportional": ProportionalSchedule(strategy="proportional"),
    "temperature": TemperatureSchedule(strategy="temperature", temperature=3.0),
    "tpc": TPCSchedule(strategy="tpc"),
    "tpc-sequential": TPCSchedule(strategy="tpc", cumulative=False, replay=0.25),
    "ads": ADSSchedule(strategy="ads"),
    "hybrid": HybridSchedule(strategy="hybrid", switch=0.5),
    "text_only": TextOnlySchedule(strategy="text_only", tasks=["slu"]),
    "mix": MixSchedule(strategy="mix", tasks=["slu"], speech_share=0.3),
    "curriculum": CurriculumSchedule(strategy="curriculum", tasks=["slu"], text_epochs=1),
    "crosslingual": CrosslingualSchedule(strategy="crosslingual", speech_share=0.2),
}
SLU_POOLS = [("slu", m, lang) for m in ("speech", "text") for lang in ("ar", "en")]


@given(
    name=st.sampled_from(sorted(PROPERTY_SCHEDULES)),
    sort_window=st.sampled_from([0, 2, 4]),
    sizes=st.lists(st.integers(10, 40), min_size=4, max_size=4),
    batch=st.integers(1, 40),
    seed=st.integers(0, 10_000),
)
@settings(max_examples=150, deadline=None)
def test_no_composer_puts_an_example_twice_in_a_batch(name, sort_window, sizes, batch, seed):
    """Small pools wrap their epochs many times in 60 steps; a batch never holds an example
    twice, with or without batches of similar duration."""
    schedule = PROPERTY_SCHEDULES[name].model_copy(update={"sort_window": sort_window})
    pools = SLU_POOLS if "slu" in schedule.tasks else list(PAPER1_POOLS)
    batch = min(batch, min(sizes) // 2)  # every phase holds two batches or more
    examples = make_examples(dict(zip(pools, sizes, strict=True)))
    batches = stream(sampler_for(schedule, examples, batch, 60, seed)[0])
    assert _repeats(batches) == []


def test_a_batch_larger_than_its_phase_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"phase 'tpc-1'.*60 examples.*batch of 64"):
        sampler_for(TPCSchedule(strategy="tpc"), PAPER1, 64, 10)


def _improving(step: int) -> float:
    return 5.0 / (1 + 0.05 * step)


def _train(sampler, losses, start: int, until: int, tasks: tuple[str, ...]) -> list[list[int]]:
    """Steps ``start + 1 .. until`` with a loader two batches ahead, reporting ``losses``."""
    batches, it = [], iter(sampler)
    ahead = [next(it), next(it)]
    for step in range(start + 1, until + 1):
        batches.append(ahead.pop(0))
        sampler.observe(step, dict.fromkeys(tasks, losses(step)))
        ahead.extend(b for _, b in zip(range(1), it, strict=False))
    return batches


def _auto_hybrid(max_fraction: float) -> HybridSchedule:
    plateau = Plateau(window=10, tolerance=0.01, delay=4, max_fraction=max_fraction)
    return HybridSchedule(strategy="hybrid", switch="auto", plateau=plateau)


def test_auto_switch_happens_at_the_cap_while_losses_still_improve():
    tasks = ("asr", "ssum", "dialect", "emotion")
    sampler, _ = sampler_for(_auto_hybrid(0.5), PAPER1, 8, 400, feedback=True)
    _train(sampler, _improving, 0, 400, tasks)
    assert sampler.boundaries[-1] == (200, 3)


def test_auto_switch_at_the_cap_after_a_late_plateau_and_resume_after_it_is_identical():
    """Losses flatten at step 195 of 400: the plateau is seen after the cap (200)."""
    tasks = ("asr", "ssum", "dialect", "emotion")

    def losses(step: int) -> float:
        return _improving(min(step, 195))

    full_sampler, _ = sampler_for(_auto_hybrid(0.5), PAPER1, 8, 400, feedback=True)
    full = _train(full_sampler, losses, 0, 400, tasks)
    assert full_sampler.boundaries[-1] == (200, 3)

    first, _ = sampler_for(_auto_hybrid(0.5), PAPER1, 8, 400, feedback=True)
    part = _train(first, losses, 0, 250, tasks)
    resumed, _ = sampler_for(_auto_hybrid(0.5), PAPER1, 8, 400, feedback=True)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict(250))))
    assert part + _train(resumed, losses, 250, 400, tasks) == full


@pytest.mark.parametrize(("switch", "expected"), [(10, 10), (40, 40), (50, 50), (0.5, 200)])
def test_hybrid_switches_exactly_where_the_recipe_says(switch, expected):
    sampler, _ = sampler_for(HybridSchedule(strategy="hybrid", switch=switch), PAPER1, 4, 400)
    stream(sampler)
    assert sampler.boundaries[-1] == (expected, 3)
    assert sampler.phase_at(expected - 1) == "tpc-3" and sampler.phase_at(expected) == "ads"


@pytest.mark.parametrize("fractions", [None, [0.2, 0.3, 0.5], [0.1, 0.1, 0.1]])
def test_tpc_stage_fractions_land_on_their_rounded_cumulative_steps(fractions):
    sampler, _ = sampler_for(TPCSchedule(strategy="tpc", stage_fractions=fractions), PAPER1, 4, 400)
    stream(sampler)
    shares = fractions or [1 / 3] * 3
    expected = [0, round(shares[0] * 400), round((shares[0] + shares[1]) * 400)]
    assert [start for start, _ in sampler.boundaries] == expected


def test_a_switch_at_or_past_the_end_of_training_is_refused():
    with pytest.raises(ConfigError, match=r"phase 'ads' would start at step 400.*400 steps"):
        sampler_for(HybridSchedule(strategy="hybrid", switch=400), PAPER1, 4, 400)
    with pytest.raises(ValueError, match="switch 2 leaves fewer steps than the 3 TPC stages"):
        HybridSchedule(strategy="hybrid", switch=2)


def test_cumulative_tpc_with_replay_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"replay.*cumulative"):
        TPCSchedule(strategy="tpc", cumulative=True, replay=0.5)
    TPCSchedule(strategy="tpc", cumulative=False, replay=0.5)
    TPCSchedule(strategy="tpc", cumulative=True, replay=0.0)


@pytest.mark.parametrize(
    "schedule",
    [
        UniformSchedule(strategy="uniform", tasks=["asr", "slu"]),
        ADSSchedule(strategy="ads", tasks=["asr", "slu"]),
        TPCSchedule(strategy="tpc", tasks=["asr", "slu"], stages=[["asr"], ["slu"]]),
    ],
)
def test_a_task_without_examples_is_named_not_dropped(schedule):
    with pytest.raises(ConfigError, match=r"task 'slu' has no examples"):
        sampler_for(schedule, PAPER1, 8, 20)


@pytest.mark.parametrize(
    ("embeddings", "message"),
    [
        (clustered_embeddings(len(PAPER1) - 1), r"193 rows for 194 examples"),
        (clustered_embeddings(len(PAPER1) + 1), r"195 rows for 194 examples"),
        (np.ones(len(PAPER1), dtype=np.float16), r"one row per example.*1-D"),
        (
            np.where(np.arange(len(PAPER1))[:, None] == 7, np.nan, clustered_embeddings(194)),
            r"row 7 \(example 'asr-speech-ar-7'\) is not finite",
        ),
    ],
)
def test_bad_aligner_embeddings_are_named(embeddings, message):
    with pytest.raises(ConfigError, match=message):
        sampler_for(ADSSchedule(strategy="ads"), PAPER1, 8, 20, embeddings=embeddings)


@pytest.mark.parametrize(("batch", "steps"), [(8, -5), (8, 0), (0, 10)])
def test_non_positive_lengths_are_named(batch, steps):
    spec = PhaseSpec(name="all", tasks=["asr"])
    with pytest.raises(ConfigError, match="must be positive"):
        build_plan([spec], PAPER1, batch, steps, 0)


def test_the_property_pools_really_wrap_their_epochs():
    """The property above is only worth its name if small pools wrap inside the run."""
    examples = make_examples(dict(zip(PAPER1_POOLS, [10, 10, 10, 10], strict=True)))
    batches = stream(sampler_for(UniformSchedule(strategy="uniform"), examples, 5, 60, 0)[0])
    assert max(Counter(i for b in batches for i in b).values()) >= 7


@given(
    total=st.integers(0, 30),
    capacity=st.lists(st.integers(0, 12), min_size=1, max_size=5),
    seed=st.integers(0, 1000),
)
@settings(max_examples=300, deadline=None)
def test_balanced_counts_keep_every_open_name_within_one_of_the_others(total, capacity, seed):
    """Capacities bind first; what is left is shared so that names below their capacity differ
    by at most one (a full name's overflow goes to the least-filled names)."""
    names = [f"n{i}" for i in range(len(capacity))]
    limits = dict(zip(names, capacity, strict=True))
    total = min(total, sum(capacity))
    counts = balanced_counts(total, names, np.random.default_rng(seed), limits)
    assert sum(counts.values()) == total
    assert all(counts[n] <= limits[n] for n in names)
    below = [counts[n] for n in names if counts[n] < limits[n]]
    if below:
        assert max(counts.values()) - min(below) <= 1
