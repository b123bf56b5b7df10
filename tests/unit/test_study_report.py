"""Study report arithmetic against hand-computed values: intervals, verdicts, steps to target,
volatility and the claims' wiring."""

from __future__ import annotations

import math

import pytest

from omnisched.study.claims import CLAIMS
from omnisched.study.report import Estimate, Run, Summary, both, compare


def test_estimate_is_the_t_interval_over_seeds():
    # values 1, 2, 3: mean 2, sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.302653
    estimate = Estimate.of([1.0, 2.0, 3.0])
    assert estimate.mean == 2.0
    assert estimate.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert str(Estimate.of([0.5])) == "0.500 (n=1)"
    assert Estimate.of([]).n == 0


def test_verdicts_follow_the_intervals():
    high, low = Estimate(0.8, 0.05, 3), Estimate(0.6, 0.05, 3)
    overlapping = Estimate(0.7, 0.2, 3)
    assert compare(high, low) == "supported"
    assert compare(low, high) == "not supported"
    assert compare(high, overlapping) == "inconclusive"
    assert compare(Estimate(0.9, math.nan, 1), low) == "inconclusive"
    assert both("supported", "supported") == "supported"
    assert both("supported", "inconclusive") == "inconclusive"
    assert both("inconclusive", "not supported") == "not supported"


def _run(recipe, seed, cer, f1, curve, grads=()):
    return Run(
        recipe,
        seed,
        {"asr": cer, "emotion": f1},
        {"asr": [(s, v) for s, v in curve], "emotion": [(s, f1) for s, _ in curve]},
        list(enumerate(grads, 1)),
    )


def test_steps_to_target_uses_ninety_percent_of_the_best_final_dev_value():
    summary = Summary(
        [
            _run("a", 0, 0.2, 0.5, [(10, 0.5), (20, 0.25), (30, 0.2)]),
            _run("b", 0, 0.4, 0.5, [(10, 0.6), (20, 0.5), (30, 0.4)]),
        ]
    )
    target, cells = summary.steps_to_target("asr")  # CER: best 0.2 → within 0.2 / 0.9
    assert target == pytest.approx(0.2222, abs=1e-4)
    assert cells == {"a": "30 (1/1 runs)", "b": "not reached"}


def test_no_step_reaches_a_target_when_no_recipe_learned_the_task():
    summary = Summary(
        [
            _run("a", 0, 0.2, 0.0, [(10, 0.5), (20, 0.2)]),
            _run("b", 0, 0.4, 0.0, [(10, 0.6), (20, 0.4)]),
        ]
    )
    assert summary.steps_to_target("emotion")[1] == dict.fromkeys("ab", "no recipe above 0")


def test_volatility_is_rolling_std_over_mean_on_the_second_half():
    steady = _run("a", 0, 0.2, 0.5, [(1, 0.2)], grads=[1.0] * 60)
    assert steady.volatility() == 0.0
    alternating = _run("a", 0, 0.2, 0.5, [(1, 0.2)], grads=[1.0, 3.0] * 30)
    assert alternating.volatility() == pytest.approx(1.0 / 2.0)  # std 1, mean 2


def test_paper1_claims_read_the_right_recipes():
    runs = []
    for seed in range(3):
        jitter = 0.01 * seed
        runs += [
            _run("paper1-uniform", seed, 0.30 + jitter, 0.40 + jitter, [(10, 0.5)]),
            _run("paper1-ads", seed, 0.32 + jitter, 0.70 + jitter, [(10, 0.3)]),
            _run("paper1-tpc", seed, 0.20 + jitter, 0.30 + jitter, [(10, 0.4)]),
            _run("paper1-hybrid", seed, 0.10 + jitter, 0.80 + jitter, [(10, 0.3)]),
        ]
    verdicts = {c.text: c.judge(Summary(runs))[1] for c in CLAIMS["paper1"]}
    assert verdicts["ADS raises paralinguistic F1 (dialect, emotion)"] == "supported"
    assert verdicts["the TPC→ADS hybrid is best overall"] == "supported"
    assert verdicts["TPC stabilizes ASR but transfers negatively to the later tasks"] == "supported"
    missing = CLAIMS["paper2"][0].judge(Summary(runs))
    assert missing[1] == "not evaluated"
