"""Study report arithmetic against hand-computed values: intervals, paired verdicts, the
learned-task bar, steps to it, volatility and the claims' wiring."""

from __future__ import annotations

import math

import pytest

from omnisched.lab.study.claims import CLAIMS
from omnisched.lab.study.report import (
    Estimate,
    Paired,
    Run,
    Summary,
    both,
    plot_weights,
    report_lines,
)


def test_estimate_is_the_t_interval_over_seeds():
    # values 1, 2, 3: mean 2, sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.302653
    estimate = Estimate.of([1.0, 2.0, 3.0])
    assert estimate.mean == 2.0
    assert estimate.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert str(Estimate.of([0.5])) == "0.500 (n=1)"
    assert Estimate.of([]).n == 0


def test_paired_differences_give_the_interval_and_effect_size():
    # a − b per seed: 0.3, 0.4, 0.5 → mean 0.4, sd 0.1, half-width 4.302653 · 0.1 / sqrt(3)
    paired = Paired.between({0: 0.8, 1: 0.9, 2: 1.0}, {0: 0.5, 1: 0.5, 2: 0.5, 3: 9.0})
    half = 4.302653 * 0.1 / math.sqrt(3)
    assert paired.n == 3  # seed 3 has no pair
    assert paired.mean == pytest.approx(0.4)
    assert (paired.low, paired.high) == pytest.approx((0.4 - half, 0.4 + half), rel=1e-6)
    assert paired.effect == pytest.approx(4.0)
    assert paired.verdict == "supported"
    assert Paired.of([-0.3, -0.2, -0.25]).verdict == "contradicted"
    assert Paired.of([0.3, -0.2, 0.1]).verdict == "inconclusive"
    assert Paired.of([0.5]).verdict == "inconclusive"


def test_pairing_separates_what_marginal_intervals_cannot():
    # a recipe ahead by 0.01 on every seed, with seeds spread far apart: the marginal
    # intervals overlap, the paired one does not
    base = {0: 0.30, 1: 0.50, 2: 0.70}
    ahead = {seed: value + 0.01 for seed, value in base.items()}
    a, b = Estimate.of(list(ahead.values())), Estimate.of(list(base.values()))
    assert a.mean - a.half_width < b.mean + b.half_width
    assert Paired.between(ahead, base).verdict == "supported"


def test_verdicts_of_claims_made_of_parts():
    assert both("supported", "supported") == "supported"
    assert both("supported", "inconclusive") == "inconclusive"
    assert both("inconclusive", "contradicted") == "contradicted"


def _run(recipe, seed, cer, f1, curve, grads=()):
    return Run(
        recipe,
        seed,
        {"asr": cer, "emotion": f1},
        {"asr": [(s, v) for s, v in curve], "emotion": [(s, f1) for s, _ in curve]},
        list(enumerate(grads, 1)),
    )


def test_steps_to_a_target_and_the_censored_value_when_never_reached():
    run = _run("a", 0, 0.2, 0.5, [(10, 0.5), (20, 0.25), (30, 0.2)])
    assert run.steps_to("asr", 0.25) == 20  # CER: at or below the target
    assert run.steps_to("asr", 0.1) is None
    assert run.censored_steps("asr", 0.1) == 40  # one evaluation interval past the end
    summary = Summary([run], targets={"asr": 0.25, "emotion": 0.5})
    assert summary.steps_to_bar(run) == pytest.approx((20 + 10) / 2)


def test_the_bar_is_met_only_when_every_seed_reaches_every_target():
    runs = [
        _run("u", 0, 0.1, 0.8, [(10, 0.3), (20, 0.10)]),
        _run("u", 1, 0.1, 0.6, [(10, 0.3), (20, 0.09)]),
    ]
    met, lines = Summary(runs, "u", {"asr": 0.1, "emotion": 0.7}).bar_met()
    assert met is False
    assert lines == ["seed 0: asr 0.100 ✓, emotion 0.800 ✓", "seed 1: asr 0.090 ✓, emotion 0.600 ✗"]
    assert Summary(runs, "u", {"asr": 0.1}).bar_met()[0] is True
    assert Summary(runs).bar_met() == (None, [])


def test_volatility_is_rolling_std_over_mean_on_the_second_half():
    steady = _run("a", 0, 0.2, 0.5, [(1, 0.2)], grads=[1.0] * 60)
    assert steady.volatility() == 0.0
    alternating = _run("a", 0, 0.2, 0.5, [(1, 0.2)], grads=[1.0, 3.0] * 30)
    assert alternating.volatility() == pytest.approx(1.0 / 2.0)  # std 1, mean 2


def _paper1_runs() -> list[Run]:
    runs = []
    for seed in range(3):
        jitter = 0.05 * seed  # seeds far apart, recipes in the same order on each
        runs += [
            _run("paper1-uniform", seed, 0.30 + jitter, 0.40 + jitter, [(10, 0.5)]),
            _run("paper1-temperature", seed, 0.31 + jitter, 0.45 + jitter, [(10, 0.5)]),
            _run("paper1-ads", seed, 0.32 + jitter, 0.50 + jitter, [(10, 0.3)]),
            _run("paper1-tpc", seed, 0.20 + jitter, 0.30 + jitter, [(10, 0.4)]),
            _run("paper1-hybrid", seed, 0.10 + jitter, 0.80 + jitter, [(10, 0.3)]),
            _run("paper1-adaptive", seed, 0.25 + jitter, 0.45 + jitter, [(10, 0.4)]),
        ]
        runs[-1].weights = {"asr": [(5, 0.5), (10, 0.3)], "emotion": [(5, 0.5), (10, 0.7)]}
    return runs


def test_paper1_claims_read_the_right_recipes_against_the_best_baseline():
    summary = Summary(_paper1_runs())
    verdicts = {c.text.split()[0]: c.judge(summary) for c in CLAIMS["paper1"]}
    # ADS 0.50 against the best baseline on emotion (temperature, 0.45): +0.05 on every seed
    assert "best baseline paper1-temperature" in verdicts["C2"][0]
    assert verdicts["C2"][1].startswith("emotion +0.050")
    assert verdicts["C2"][2] == "supported"
    assert verdicts["C4"][2] == "supported"  # ASR better, emotion worse than uniform
    assert verdicts["C5"][2] == "supported"
    assert verdicts["C1"][2] == "inconclusive"  # no bar: nothing to reach
    # mean score (1 − CER, F1): adaptive (0.75 + 0.45) / 2 = 0.60 against the best baseline,
    # temperature (0.69 + 0.45) / 2 = 0.57: +0.030 on every seed
    assert "best fixed baseline paper1-temperature" in verdicts["C10"][0]
    assert verdicts["C10"][1].startswith("adaptive − paper1-temperature +0.030")
    assert verdicts["C10"][2] == "supported"
    assert CLAIMS["paper2"][0].judge(summary)[2] == "not evaluated"


def test_the_report_states_bar_metrics_and_claims():
    summary = Summary(
        _paper1_runs(), "paper1-uniform", {"asr": 0.5}, foundation={"asr": 0.4, "emotion": 0.0}
    )
    text = "\n".join(report_lines(summary, CLAIMS["paper1"], "t", [0, 1, 2]))
    assert "asr ≤ 0.500. **met**" in text
    assert "| asr | cer ↓ | 0.400 |" in text
    assert "| C5 the TPC→ADS hybrid has the best mean score over tasks |" in text
    assert "![task weights](task_weights.png)" in text


def test_adaptive_weights_are_drawn_as_the_mean_over_seeds(tmp_path):
    png = plot_weights(Summary(_paper1_runs()), tmp_path / "weights.png")
    assert png is not None and png.stat().st_size > 10_000
    without = [run for run in _paper1_runs() if run.recipe != "paper1-adaptive"]
    assert plot_weights(Summary(without), tmp_path / "none.png") is None
