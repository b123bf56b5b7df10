"""The claims of the two source papers, each stated as a measurement on paired seeds.

A claim names the recipes it needs (by recipe name); without them it is reported as not
evaluated. A claim against "the baselines" compares with the best of the strong baselines
present (uniform, proportional, temperature) on the claim's own measure: the data-mixing
literature finds them hard to beat, so a schedule's win counts only against the best of them.
Thresholds the papers leave open ("competitive", "large") are stated in the claim's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from omnisched.lab.study.report import (
    INCONCLUSIVE,
    Estimate,
    Paired,
    Run,
    Summary,
    both,
    final_score,
)

GENERATION = ["asr", "ssum"]
PARALINGUISTIC = ["dialect", "emotion"]
COMPETITIVE = 0.8  # text-only is "competitive" at 80% or more of the best recipe's SLU-F1
LARGE_GAIN = 0.05  # a "large" gain in SLU-F1 over text-only: at least this much

UNIFORM, PROPORTIONAL, TEMPERATURE = "paper1-uniform", "paper1-proportional", "paper1-temperature"
ADS, TPC, HYBRID = "paper1-ads", "paper1-tpc", "paper1-hybrid"
ADAPTIVE = "paper1-adaptive"
BASELINES = [UNIFORM, PROPORTIONAL, TEMPERATURE]
TEXT_ONLY, MIX_2, MIX_5 = "paper2-text_only", "paper2-mix_2pct", "paper2-mix_5pct"
CURRICULUM, CROSSLINGUAL = "paper2-curriculum", "paper2-crosslingual"

Judgement = tuple[str, str, str]  # numbers, paired difference, verdict


@dataclass(frozen=True)
class Claim:
    """One claim: its text, the recipes it needs, and how to measure and judge it."""

    text: str
    recipes: tuple[str, ...]
    rule: Callable[[Summary], Judgement]

    def judge(self, summary: Summary) -> Judgement:
        missing = [r for r in self.recipes if r not in summary.recipes]
        if missing:
            return f"recipes not in the study: {', '.join(missing)}", "—", "not evaluated"
        return self.rule(summary)


def _tasks(summary: Summary, wanted: list[str]) -> list[str]:
    return [t for t in wanted if t in summary.tasks]


def _best_baseline(s: Summary, measure: Callable[[Run], float]) -> str:
    return s.best([b for b in BASELINES if b in s.recipes], measure)


def _versus(s: Summary, a: str, b: str, measure: Callable[[Run], float]) -> Paired:
    return Paired.between(s.per_seed(a, measure), s.per_seed(b, measure))


def _ads_reaches_targets_sooner(s: Summary) -> Judgement:
    if not s.targets:
        return "the study sets no learned-task bar", "—", INCONCLUSIVE

    def fewer_steps(run: Run) -> float:
        return -s.steps_to_bar(run)

    baseline = _best_baseline(s, fewer_steps)
    steps = {r: s.estimate(r, s.steps_to_bar) for r in (ADS, baseline)}
    paired = _versus(s, ADS, baseline, fewer_steps)
    numbers = (
        f"mean dev steps to the bar's targets ({', '.join(s.targets)}; never reached counts "
        f"one evaluation past the end): ADS {steps[ADS]}, best baseline {baseline} "
        f"{steps[baseline]}; difference = baseline − ADS"
    )
    return numbers, str(paired), paired.verdict


def _ads_paralinguistic(s: Summary) -> Judgement:
    parts, numbers, verdicts = [], [], []
    for task in _tasks(s, PARALINGUISTIC):
        measure = final_score([task])
        baseline = _best_baseline(s, measure)
        paired = _versus(s, ADS, baseline, measure)
        numbers.append(
            f"{task} F1: ADS {s.final(ADS, task)}, best baseline {baseline} "
            f"{s.final(baseline, task)}"
        )
        parts.append(f"{task} {paired}")
        verdicts.append(paired.verdict)
    return "; ".join(numbers), "; ".join(parts), both(*verdicts)


def _ads_volatility_hurts_generation(s: Summary) -> Judgement:
    tasks = _tasks(s, GENERATION)
    generation = final_score(tasks)
    volatility = _versus(s, ADS, UNIFORM, Run.volatility)
    loss = _versus(s, UNIFORM, ADS, generation)
    numbers = (
        f"grad-norm volatility (second half) ADS {s.estimate(ADS, Run.volatility)}, uniform "
        f"{s.estimate(UNIFORM, Run.volatility)}; generation (1−CER, ROUGE-L mean) ADS "
        f"{s.estimate(ADS, generation)}, uniform {s.estimate(UNIFORM, generation)}"
    )
    paired = f"volatility ADS − uniform {volatility}; generation uniform − ADS {loss}"
    return numbers, paired, both(volatility.verdict, loss.verdict)


def _tpc_asr_but_later_tasks_worse(s: Summary) -> Judgement:
    later = _tasks(s, ["ssum", *PARALINGUISTIC])
    asr, rest = final_score(["asr"]), final_score(later)
    keeps = _versus(s, TPC, UNIFORM, asr)
    costs = _versus(s, UNIFORM, TPC, rest)
    numbers = (
        f"ASR 1−CER: TPC {s.estimate(TPC, asr)}, uniform {s.estimate(UNIFORM, asr)}; later "
        f"tasks ({', '.join(later)}) mean: TPC {s.estimate(TPC, rest)}, uniform "
        f"{s.estimate(UNIFORM, rest)}"
    )
    paired = f"ASR TPC − uniform {keeps}; later tasks uniform − TPC {costs}"
    return numbers, paired, both(keeps.verdict, costs.verdict)


def _hybrid_best(s: Summary) -> Judgement:
    overall = final_score(s.tasks)
    runner_up = s.best([r for r in s.recipes if r != HYBRID], overall)
    paired = _versus(s, HYBRID, runner_up, overall)
    numbers = "mean score over all tasks: " + ", ".join(
        f"{r} {s.estimate(r, overall)}" for r in s.recipes
    )
    return numbers, f"hybrid − {runner_up} {paired}", paired.verdict


def _adaptive_beats_fixed(s: Summary) -> Judgement:
    overall = final_score(s.tasks)
    baseline = _best_baseline(s, overall)
    paired = _versus(s, ADAPTIVE, baseline, overall)
    numbers = (
        f"mean score over all tasks: adaptive {s.estimate(ADAPTIVE, overall)}, best fixed "
        f"baseline {baseline} {s.estimate(baseline, overall)}"
    )
    return numbers, f"adaptive − {baseline} {paired}", paired.verdict


def _slu(run: Run) -> float:
    return run.final.get("slu", math.nan)


def _text_only_competitive(s: Summary) -> Judgement:
    best = s.best([r for r in s.recipes if r != TEXT_ONLY], _slu)
    text, other = s.per_seed(TEXT_ONLY, _slu), s.per_seed(best, _slu)
    ratios = [
        text[seed] / other[seed] if other[seed] > 0 else math.nan
        for seed in sorted(text.keys() & other.keys())
    ]
    paired = Paired.of([ratio - COMPETITIVE for ratio in ratios])
    numbers = (
        f"SLU-F1 text-only {s.estimate(TEXT_ONLY, _slu)}; best other ({best}) "
        f"{s.estimate(best, _slu)}; per-seed ratio {Estimate.of(ratios)}"
    )
    return numbers, f"ratio − {COMPETITIVE} {paired}", paired.verdict


def _speech_gains(s: Summary) -> Judgement:
    def gain(recipe: str) -> Paired:
        text = s.per_seed(TEXT_ONLY, _slu)
        mixed = s.per_seed(recipe, _slu)
        return Paired.of(
            [mixed[seed] - text[seed] - LARGE_GAIN for seed in sorted(text.keys() & mixed.keys())]
        )

    two, five = gain(MIX_2), gain(MIX_5)
    numbers = (
        f"SLU-F1 text-only {s.estimate(TEXT_ONLY, _slu)}, 2% speech {s.estimate(MIX_2, _slu)}, "
        f"5% speech {s.estimate(MIX_5, _slu)}"
    )
    paired = f"gain − {LARGE_GAIN}: 2% {two}; 5% {five}"
    return numbers, paired, both(two.verdict, five.verdict)


def _curriculum_best(s: Summary) -> Judgement:
    runner_up = s.best([r for r in s.recipes if r != CURRICULUM], _slu)
    paired = _versus(s, CURRICULUM, runner_up, _slu)
    numbers = (
        f"SLU-F1 curriculum {s.estimate(CURRICULUM, _slu)}; best other ({runner_up}) "
        f"{s.estimate(runner_up, _slu)}"
    )
    return numbers, f"curriculum − {runner_up} {paired}", paired.verdict


def _crosslingual_adapts(s: Summary) -> Judgement:
    paired = _versus(s, CROSSLINGUAL, TEXT_ONLY, _slu)
    numbers = (
        f"SLU-F1 on Arabic speech: cross-lingual {s.estimate(CROSSLINGUAL, _slu)}, Arabic "
        f"text-only {s.estimate(TEXT_ONLY, _slu)}"
    )
    return numbers, f"cross-lingual − text-only {paired}", paired.verdict


CLAIMS: dict[str, list[Claim]] = {
    "paper1": [
        Claim(
            "C1 ADS reaches each task's dev target in fewer steps than the baselines",
            (ADS, UNIFORM),
            _ads_reaches_targets_sooner,
        ),
        Claim(
            "C2 ADS gives higher dialect and emotion F1 than the baselines",
            (ADS, UNIFORM),
            _ads_paralinguistic,
        ),
        Claim(
            "C3 in long training ADS has higher gradient volatility and lower generation "
            "scores (ASR, ssum) than uniform",
            (ADS, UNIFORM),
            _ads_volatility_hurts_generation,
        ),
        Claim(
            "C4 TPC keeps ASR better than uniform but the later tasks worse",
            (TPC, UNIFORM),
            _tpc_asr_but_later_tasks_worse,
        ),
        Claim(
            "C5 the TPC→ADS hybrid has the best mean score over tasks",
            (HYBRID, UNIFORM, TPC, ADS),
            _hybrid_best,
        ),
        Claim(
            "C10 adaptive mixing has a higher mean score over tasks than the best fixed baseline",
            (ADAPTIVE, UNIFORM),
            _adaptive_beats_fixed,
        ),
    ],
    "paper2": [
        Claim(
            f"C6 text-only reaches ≥ {COMPETITIVE:.0%} of the best SLU-F1 on speech",
            (TEXT_ONLY,),
            _text_only_competitive,
        ),
        Claim(
            f"C7 2% and 5% speech each gain ≥ {LARGE_GAIN} SLU-F1 over text-only",
            (TEXT_ONLY, MIX_2, MIX_5),
            _speech_gains,
        ),
        Claim(
            "C8 the text→speech curriculum is best when speech is scarce",
            (CURRICULUM,),
            _curriculum_best,
        ),
        Claim(
            "C9 the cross-lingual recipe adapts to Arabic speech (beats Arabic text-only)",
            (CROSSLINGUAL, TEXT_ONLY),
            _crosslingual_adapts,
        ),
    ],
}
