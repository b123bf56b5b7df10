"""Budget batches under every composer: the budget is never exceeded (one example alone over
it is refused by name), each composer's rules hold, ranks share a batch by load and together
hold it, and a resumed sampler draws what an uninterrupted one draws."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from omnisched.errors import ConfigError
from omnisched.schedule.budget import Budget, Costs, fits, split_by_load
from omnisched.schedule.strategies import (
    AdaptiveSchedule,
    ADSSchedule,
    HybridSchedule,
    MixSchedule,
    ProportionalSchedule,
    TPCSchedule,
    UniformSchedule,
    select_examples,
)
from schedule_helpers import PAPER1_POOLS, PAPER2_POOLS, make_examples, sampler_for

PAPER1 = make_examples(PAPER1_POOLS)
PAPER2 = make_examples(PAPER2_POOLS)
SECONDS = Budget(max_seconds=40)
BOTH = Budget(max_seconds=40, max_tokens=900)
WIDE = Budget(max_seconds=80, max_tokens=1800)  # two of the longest examples per rank of 4


def _tokens(examples) -> np.ndarray:
    """A sequence length per example: audio tokens at 25 per second, or the text's, plus a
    prompt and answer that differ by example."""
    return np.array(
        [
            int(25 * (e.duration_s or 0)) + (8 if e.duration_s else 30 + i % 11) + 5 + i % 4
            for i, e in enumerate(examples)
        ]
    )


SCHEDULES = {
    "uniform": lambda b, w: UniformSchedule(strategy="uniform", batching=b, sort_window=w),
    "proportional": lambda b, w: ProportionalSchedule(
        strategy="proportional", batching=b, sort_window=w
    ),
    "tpc": lambda b, w: TPCSchedule(strategy="tpc", batching=b, sort_window=w),
    "ads": lambda b, w: ADSSchedule(strategy="ads", batching=b, sort_window=w),
    "hybrid": lambda b, w: HybridSchedule(strategy="hybrid", switch=0.5, batching=b, sort_window=w),
    "adaptive": lambda b, w: AdaptiveSchedule(strategy="adaptive", batching=b, sort_window=w),
}


def _sampler(name, budget, window, steps=120, seed=0, **kwargs):
    schedule = SCHEDULES[name](budget, window)
    chosen = select_examples(schedule, PAPER1)
    return sampler_for(schedule, PAPER1, 32, steps, seed=seed, tokens=_tokens(chosen), **kwargs)


@pytest.mark.parametrize("window", [0, 4])
@pytest.mark.parametrize("budget", [SECONDS, BOTH], ids=["seconds", "seconds+tokens"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_no_batch_exceeds_the_budget_or_repeats_an_example(name, budget, window):
    sampler, _ = _sampler(name, budget, window)
    batches = list(sampler)
    assert len(batches) == 120
    for batch in batches:
        assert fits(budget, sampler.plan.costs, batch, 32)
        assert len(set(batch)) == len(batch)
    # as many as fit: a batch closes when the next example would break the budget, so the
    # padded cost, by the tighter limit, comes close to it
    assert np.mean([_fill(budget, sampler.plan.costs, b) for b in batches]) > 0.8


def _fill(budget: Budget, costs: Costs, batch: list[int]) -> float:
    """The padded cost of ``batch`` over the budget, by its tighter limit."""
    used = [len(batch) * costs.seconds[batch].max() / budget.max_seconds]
    if budget.max_tokens is not None:
        used.append(len(batch) * costs.tokens[batch].max() / budget.max_tokens)
    return max(used)


@pytest.mark.parametrize("window", [0, 4])
def test_the_shuffle_still_serves_every_example_once_per_epoch(window):
    sampler, chosen = _sampler("uniform", SECONDS, window, steps=200)
    served = [i for batch in sampler for i in batch]
    epochs, size = len(served) // len(chosen), len(chosen)
    assert epochs >= 3
    counts = Counter(served)
    assert min(counts[i] for i in range(size)) >= epochs - 1
    assert max(counts.values()) <= epochs + 1


def test_pool_shares_hold_over_the_stream():
    sampler, chosen = _sampler("proportional", SECONDS, 4, steps=400)
    served = Counter(chosen[i].task for batch in sampler for i in batch)
    total = sum(served.values())
    for task, size in Counter(e.task for e in chosen).items():
        assert served[task] / total == pytest.approx(size / len(chosen), abs=0.02)


@pytest.mark.parametrize("window", [0, 4])
def test_ads_keeps_task_and_label_balance_at_every_batch_size(window):
    sampler, chosen = _sampler("ads", SECONDS, window, steps=150)
    labels_of = {t: {e.label for e in chosen if e.task == t} for t in ("dialect", "emotion")}
    sizes = set()
    for batch in sampler:
        sizes.add(len(batch))
        tasks = Counter(chosen[i].task for i in batch)
        assert max(tasks.values()) - min(tasks[t] for t in PAPER1_TASKS) <= 1
        for task, labels in labels_of.items():
            drawn = Counter(chosen[i].label for i in batch if chosen[i].task == task)
            assert max(drawn.values()) - min(drawn[label] for label in labels) <= 1
    assert len(sizes) > 1 or window == 0


PAPER1_TASKS = ("asr", "ssum", "dialect", "emotion")


@pytest.mark.parametrize("name", ["uniform", "ads", "hybrid"])
@pytest.mark.parametrize("world_size", [2, 4])
def test_ranks_share_each_batch_by_load_and_together_hold_it(name, world_size):
    """sort_window 1: a window never holds more than a pool (two of TPC's stages hold 60 and
    40 examples), so no batch is left short by copies."""
    single, _ = _sampler(name, WIDE, 1, steps=60)
    whole = list(single)
    costs = single.plan.costs
    ranks = []
    for rank in range(world_size):
        sampler, _ = _sampler(name, WIDE, 1, steps=60, rank=rank, world_size=world_size)
        ranks.append(list(sampler))
    for step, batch in enumerate(whole):
        slices = [ranks[r][step] for r in range(world_size)]
        assert sorted(i for s in slices for i in s) == sorted(batch)
        loads = [costs.load(s).sum() for s in slices]
        assert max(loads) - min(loads) <= costs.load(batch).max()


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("stop", [1, 17, 45])
def test_resume_draws_the_uninterrupted_stream(name, stop):
    full, _ = _sampler(name, BOTH, 4, steps=80)
    expected = list(full)
    first, _ = _sampler(name, BOTH, 4, steps=80)
    it = iter(first)
    part = [next(it) for _ in range(stop)]
    state = json.loads(json.dumps(first.state_dict()))
    resumed, _ = _sampler(name, BOTH, 4, steps=80)
    resumed.load_state_dict(state)
    assert part + list(resumed) == expected


def test_budget_batches_of_text_and_speech_mixed():
    schedule = MixSchedule(
        strategy="mix", tasks=["slu"], speech_share=0.3, batching=BOTH, sort_window=4
    )
    chosen = select_examples(schedule, PAPER2)
    sampler, _ = sampler_for(schedule, PAPER2, 24, 80, tokens=_tokens(chosen))
    batches = list(sampler)
    assert all(fits(BOTH, sampler.plan.costs, b, 24) for b in batches)
    speech = sum(chosen[i].modality == "speech" for b in batches for i in b)
    assert speech / sum(map(len, batches)) == pytest.approx(0.3, abs=0.05)


def test_an_example_over_the_budget_alone_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"example 'asr-speech-ar-6' alone takes 4 s.*max_sec"):
        _sampler("uniform", Budget(max_seconds=3.9), 0)


def test_a_token_budget_without_sequence_lengths_is_refused():
    schedule = UniformSchedule(strategy="uniform", batching=Budget(max_tokens=500))
    with pytest.raises(ConfigError, match=r"max_tokens needs the examples' sequence lengths"):
        sampler_for(schedule, PAPER1, 8, 10)


def test_a_budget_too_small_for_the_processes_is_refused():
    with pytest.raises(ConfigError, match=r"phase 'ads': .* fits 7 .* with 4 processes"):
        _sampler("ads", BOTH, 4, rank=0, world_size=4)


def test_a_budget_needs_a_limit():
    with pytest.raises(ValueError, match="max_seconds, max_tokens or both"):
        Budget()


def test_split_by_load_is_near_equal_and_keeps_batch_order():
    # heaviest first to the lighter rank (ties: fewer examples): 9 | 5 4 → 9 3 | 9 2 1 →
    # 9 3 1 | 9 2 1 1, loads 13 and 13
    loads = np.array([9.0, 1, 1, 1, 5, 4, 3, 2])
    slices = split_by_load(list(range(8)), Costs(loads, None).load(list(range(8))), 2)
    assert slices == [[0, 2, 6], [1, 3, 4, 5, 7]]
    with pytest.raises(ConfigError, match="cannot give each of 4 processes one"):
        split_by_load([0, 1, 2], loads, 4)


def test_trainer_micro_batches_split_each_budget_batch_in_the_accumulation_steps():
    from omnisched.integrations.hf_trainer import MicroBatches

    whole = list(_sampler("uniform", SECONDS, 4, steps=30)[0])
    sampler, _ = _sampler("uniform", SECONDS, 4, steps=30)
    chunks = list(MicroBatches(sampler, parts=3))
    assert len(chunks) == 3 * len(whole)
    for step, batch in enumerate(whole):
        parts = chunks[3 * step : 3 * step + 3]
        assert [i for part in parts for i in part] == batch
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
