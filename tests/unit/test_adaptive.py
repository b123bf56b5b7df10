"""Adaptive mixing: the controller's weights (floor, sum, direction, forgetting guard) and the
sampler's promises under it (deterministic given the losses, exact resume, rank slices)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from omnisched.errors import ConfigError
from omnisched.schedule.adaptive import AdaptiveMixing, Forgetting, MixController
from omnisched.schedule.composers.batching import weighted_counts
from omnisched.schedule.phases import PhaseSpec
from omnisched.schedule.strategies import AdaptiveSchedule, HybridSchedule, TPCSchedule
from schedule_helpers import PAPER1_POOLS, make_examples, sampler_for

PAPER1 = make_examples(PAPER1_POOLS)
TASKS = ("asr", "dialect", "emotion", "ssum")


def _random_losses(seed: int):
    """A loss stream per task: a random level, trend and noise (a rise for some tasks)."""
    rng = np.random.default_rng(seed)
    level, trend = rng.uniform(0.5, 5, len(TASKS)), rng.uniform(-0.02, 0.01, len(TASKS))

    def losses(step: int) -> dict[str, float]:
        noise = np.random.default_rng([seed, step]).normal(0, 0.05, len(TASKS))
        values = level * np.exp(trend * step) * (1 + noise)
        return dict(zip(TASKS, np.maximum(values, 1e-3).tolist(), strict=True))

    return losses


def _train(sampler, losses, start: int, until: int, ahead: int = 2) -> list[list[int]]:
    """Steps ``start + 1 .. until`` with a loader ``ahead`` batches ahead, reporting
    ``losses(step)`` after each."""
    batches, it = [], iter(sampler)
    queue = [batch for _, batch in zip(range(ahead), it, strict=False)]
    for step in range(start + 1, until + 1):
        batches.append(list(queue.pop(0)))
        sampler.observe(step, losses(step))
        queue.extend(batch for _, batch in zip(range(1), it, strict=False))
    return batches


SCHEDULES = {
    "bandit": AdaptiveSchedule(strategy="adaptive", every=5, delay=4),
    "progress": AdaptiveSchedule(strategy="adaptive", method="progress", every=5, delay=4),
    "progress-exponential": AdaptiveSchedule(
        strategy="adaptive", method="progress", curve="exponential", every=5, delay=4
    ),
    "sorted": AdaptiveSchedule(strategy="adaptive", every=5, delay=4, sort_window=3),
    "ads": AdaptiveSchedule(strategy="adaptive", composer="ads", every=5, delay=4),
    "tpc": TPCSchedule(strategy="tpc", adaptive=AdaptiveMixing(every=5, delay=4)),
    "hybrid": HybridSchedule(
        strategy="hybrid", switch=0.4, adaptive=AdaptiveMixing(every=5, delay=4)
    ),
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", ["bandit", "progress", "progress-exponential"])
def test_weights_keep_the_floor_and_sum_to_one(name, seed):
    schedule = SCHEDULES[name].model_copy(update={"floor": 0.04 + 0.02 * seed})
    sampler, _ = sampler_for(schedule, PAPER1, 8, 150, seed=seed, feedback=True)
    _train(sampler, _random_losses(seed), 0, 150)
    decisions = sampler.mixers[0].decisions
    assert len(decisions) == 1 + 150 // 5
    for _, weights in decisions:
        assert sorted(weights) == sorted(TASKS)
        assert sum(weights.values()) == pytest.approx(1, abs=1e-12)
        assert min(weights.values()) >= schedule.floor - 1e-12


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_the_same_losses_give_the_same_batches_and_weights(name):
    losses = _random_losses(3)
    runs = []
    for _ in range(2):
        sampler, _ = sampler_for(SCHEDULES[name], PAPER1, 8, 120, seed=1, feedback=True)
        runs.append((_train(sampler, losses, 0, 120), sampler.state_dict()["adaptive"]))
    assert runs[0] == runs[1]
    assert runs[0][1], "no adaptive phase was entered"


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("stop", [7, 50, 63])
def test_resume_draws_what_an_uninterrupted_run_draws(name, stop):
    """Stopped at ``stop`` with the loader three batches ahead, saved as JSON, restored into
    a fresh sampler: the same batches and the same decisions to the end."""
    losses = _random_losses(4)
    full_sampler, _ = sampler_for(SCHEDULES[name], PAPER1, 8, 120, seed=2, feedback=True)
    full = _train(full_sampler, losses, 0, 120, ahead=3)
    first, _ = sampler_for(SCHEDULES[name], PAPER1, 8, 120, seed=2, feedback=True)
    part = _train(first, losses, 0, stop, ahead=3)
    resumed, _ = sampler_for(SCHEDULES[name], PAPER1, 8, 120, seed=2, feedback=True)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict(stop))))
    assert part + _train(resumed, losses, stop, 120, ahead=3) == full
    assert resumed.state_dict()["adaptive"] == full_sampler.state_dict()["adaptive"]


@pytest.mark.parametrize("name", ["bandit", "ads", "hybrid"])
@pytest.mark.parametrize("world_size", [2, 4])
def test_rank_slices_are_the_single_process_batches(name, world_size):
    losses = _random_losses(5)
    single, _ = sampler_for(SCHEDULES[name], PAPER1, 8, 80, seed=3, feedback=True)
    whole = _train(single, losses, 0, 80)
    for rank in range(world_size):
        sampler, _ = sampler_for(
            SCHEDULES[name], PAPER1, 8, 80, seed=3, rank=rank, world_size=world_size,
            feedback=True,
        )  # fmt: skip
        assert _train(sampler, losses, 0, 80) == [batch[rank::world_size] for batch in whole]


def _controller(method: str, **settings) -> MixController:
    adaptive = AdaptiveMixing(method=method, every=1, delay=1, **settings)
    return MixController(adaptive, dict.fromkeys(TASKS, 0.25), batch_size=8)


def _feed(controller: MixController, losses, steps: int) -> dict[str, float]:
    for step in range(1, steps + 1):
        controller.observe(step, losses(step))
    return controller.decisions[-1][1]


def test_the_bandit_gives_more_to_the_task_whose_loss_stays_high():
    def losses(step: int) -> dict[str, float]:
        return {"asr": 1.0, "dialect": 3.0 / (1 + 0.2 * step), "emotion": 2.0, "ssum": 0.5}

    weights = _feed(_controller("bandit", forgetting=None), losses, 40)
    assert weights["dialect"] == min(weights.values())
    assert weights["asr"] == pytest.approx(weights["emotion"])
    assert weights["asr"] > 2 * weights["dialect"]


@pytest.mark.parametrize("curve", ["power", "exponential"])
def test_progress_gives_more_to_the_task_still_learning(curve):
    def losses(step: int) -> dict[str, float]:
        return {
            "asr": 2.0,
            "dialect": 3.0 * np.exp(-0.05 * step),
            "emotion": 2.0 * (1 + step) ** -0.2,
            "ssum": 1.0,
        }

    weights = _feed(_controller("progress", curve=curve, forgetting=None), losses, 30)
    assert weights["dialect"] > weights["asr"]
    assert weights["emotion"] > weights["asr"]
    assert weights["asr"] == pytest.approx(weights["ssum"])


def test_progress_keeps_the_starting_weights_until_a_curve_can_be_fitted():
    controller = _controller("progress")
    assert _feed(controller, lambda step: dict.fromkeys(TASKS, 1.0), 2) == dict.fromkeys(
        TASKS, 0.25
    )


def test_a_task_whose_loss_rises_above_its_best_is_replayed():
    """ASR falls, then rises half again above its best while the others fall fast: the
    bandit alone would starve it; the guard holds it at the replay weight."""

    def losses(step: int) -> dict[str, float]:
        asr = 1.0 / (1 + 0.1 * step) if step < 20 else 0.33 * (1 + 0.05 * (step - 20))
        return {"asr": asr, "dialect": 0.1, "emotion": 0.1, "ssum": 0.1}

    guard = Forgetting(rise=0.1, weight=0.4)
    guarded = _feed(_controller("bandit", forgetting=guard, floor=0.0), losses, 30)
    unguarded = _feed(_controller("bandit", forgetting=None, floor=0.0), losses, 30)
    assert guarded["asr"] >= 0.4 - 1e-12
    assert unguarded["asr"] < 0.4


def test_weights_apply_from_delay_steps_after_the_update():
    controller = MixController(
        AdaptiveMixing(every=10, delay=6), dict.fromkeys(TASKS, 0.25), 8, start=100
    )
    for step in range(101, 111):
        controller.observe(step, {"asr": 5.0 if step > 105 else 1.0, "dialect": 1.0})
    assert controller.decisions[-1][0] == 116
    assert controller.weights_at(115) == dict.fromkeys(TASKS, 0.25)
    assert controller.weights_at(116) != controller.weights_at(115)


@pytest.mark.parametrize("seed", range(20))
def test_ads_task_counts_follow_the_weights_within_one(seed):
    sampler, chosen = sampler_for(SCHEDULES["ads"], PAPER1, 16, 60, seed=seed, feedback=True)
    losses = _random_losses(seed)
    for step, batch in enumerate(_train(sampler, losses, 0, 60)):
        weights = sampler.task_weights(step)
        counts = Counter(chosen[i].task for i in batch)
        for task in TASKS:
            assert abs(counts[task] - 16 * weights[task]) < 1, (step, task)
        assert len(set(batch)) == len(batch)


@pytest.mark.parametrize("seed", range(10))
def test_weighted_counts_are_within_one_and_right_on_average(seed):
    rng = np.random.default_rng(seed)
    weights = dict(zip("abcde", rng.dirichlet(np.ones(5)).tolist(), strict=True))
    total = int(rng.integers(1, 40))
    draws = [weighted_counts(total, weights, rng) for _ in range(2000)]
    for counts in draws:
        assert sum(counts.values()) == total
        assert all(abs(counts[n] - total * w) < 1 for n, w in weights.items())
    for name, weight in weights.items():
        mean = np.mean([counts[name] for counts in draws])
        assert mean == pytest.approx(total * weight, abs=0.05)


def test_a_composer_that_cannot_adapt_is_refused_by_name():
    spec = PhaseSpec(name="mixed", tasks=list(TASKS), composer="shuffle", adaptive=AdaptiveMixing())
    with pytest.raises(ConfigError, match=r"phase 'mixed'.*'shuffle'.*ads, random"):
        sampler_for([spec], PAPER1, 8, 10)


def test_a_floor_that_leaves_nothing_to_adapt_is_refused():
    with pytest.raises(ConfigError, match=r"floor 0.25 for 4 tasks"):
        sampler_for(AdaptiveSchedule(strategy="adaptive", floor=0.25), PAPER1, 8, 10)


def test_a_loader_further_ahead_than_the_delay_is_refused():
    sampler, _ = sampler_for(SCHEDULES["bandit"], PAPER1, 8, 60, feedback=True)
    with pytest.raises(ConfigError, match=r"more than 4 batches ahead.*adaptive.delay"):
        _train(sampler, _random_losses(0), 0, 60, ahead=6)


def test_without_feedback_the_starting_weights_hold():
    sampler, _ = sampler_for(SCHEDULES["bandit"], PAPER1, 8, 60)
    list(sampler)
    assert sampler.task_weights(59) == dict.fromkeys(TASKS, 0.25)
