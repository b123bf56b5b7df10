"""The claims of the two source papers, each with the numbers that bear on it and a verdict.

A claim names the recipes it compares (by recipe name); if one of them is not in the study the
claim is reported as not evaluated. Thresholds that the papers leave open (what "competitive"
means) are stated in the claim's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from omnisched.study.report import Estimate, Summary, both, compare

GENERATION = ["asr", "ssum"]
PARALINGUISTIC = ["dialect", "emotion"]
COMPETITIVE = 0.8  # text-only is "competitive" at 80% or more of the best recipe's SLU-F1


@dataclass(frozen=True)
class Claim:
    """One claim: its text, the recipes it needs, and how to judge it."""

    text: str
    recipes: tuple[str, ...]
    rule: Callable[[Summary], tuple[str, str]]

    def judge(self, summary: Summary) -> tuple[str, str]:
        missing = [r for r in self.recipes if r not in summary.recipes]
        if missing:
            return f"recipes not in the study: {', '.join(missing)}", "not evaluated"
        return self.rule(summary)


def _tasks(summary: Summary, wanted: list[str]) -> list[str]:
    return [t for t in wanted if t in summary.tasks]


def _ads_faster_early(s: Summary) -> tuple[str, str]:
    ads, uniform = s.early("paper1-ads"), s.early("paper1-uniform")
    return f"mean dev score at the first evaluation: ADS {ads}, uniform {uniform}", compare(
        ads, uniform
    )


def _ads_paralinguistic(s: Summary) -> tuple[str, str]:
    tasks = _tasks(s, PARALINGUISTIC)
    ads, uniform = s.scored("paper1-ads", tasks), s.scored("paper1-uniform", tasks)
    return f"mean macro-F1 ({', '.join(tasks)}): ADS {ads}, uniform {uniform}", compare(
        ads, uniform
    )


def _ads_volatility_hurts(s: Summary) -> tuple[str, str]:
    tasks = _tasks(s, GENERATION)
    vol_ads, vol_uni = s.volatility("paper1-ads"), s.volatility("paper1-uniform")
    gen_ads, gen_uni = s.scored("paper1-ads", tasks), s.scored("paper1-uniform", tasks)
    evidence = (
        f"grad-norm volatility ADS {vol_ads}, uniform {vol_uni}; generation score "
        f"(1−CER, ROUGE-L) ADS {gen_ads}, uniform {gen_uni}"
    )
    return evidence, both(compare(vol_ads, vol_uni), compare(gen_uni, gen_ads))


def _tpc_asr_but_negative_transfer(s: Summary) -> tuple[str, str]:
    later = _tasks(s, ["ssum", *PARALINGUISTIC])
    asr_tpc, asr_uni = s.scored("paper1-tpc", ["asr"]), s.scored("paper1-uniform", ["asr"])
    later_tpc, later_uni = s.scored("paper1-tpc", later), s.scored("paper1-uniform", later)
    evidence = (
        f"ASR 1−CER: TPC {asr_tpc}, uniform {asr_uni}; later tasks ({', '.join(later)}): "
        f"TPC {later_tpc}, uniform {later_uni}"
    )
    return evidence, both(compare(asr_tpc, asr_uni), compare(later_uni, later_tpc))


def _hybrid_best(s: Summary) -> tuple[str, str]:
    tasks = s.tasks
    scores = {r: s.scored(r, tasks) for r in s.recipes}
    others = {r: e for r, e in scores.items() if r != "paper1-hybrid" and not math.isnan(e.mean)}
    runner_up = max(others, key=lambda r: others[r].mean)
    evidence = "mean score over all tasks: " + ", ".join(f"{r} {e}" for r, e in scores.items())
    return evidence, compare(scores["paper1-hybrid"], others[runner_up])


def _slu(s: Summary, recipe: str) -> Estimate:
    return s.final(recipe, "slu")


def _text_only_competitive(s: Summary) -> tuple[str, str]:
    text = _slu(s, "paper2-text_only")
    best_recipe = max(
        (r for r in s.recipes if r != "paper2-text_only"), key=lambda r: _slu(s, r).mean
    )
    best = _slu(s, best_recipe)
    bar = Estimate(COMPETITIVE * best.mean, COMPETITIVE * best.half_width, best.n)
    evidence = f"SLU-F1 text-only {text}; best other ({best_recipe}) {best}; bar {bar}"
    return evidence, compare(text, bar)


def _speech_gains(s: Summary) -> tuple[str, str]:
    text = _slu(s, "paper2-text_only")
    two, five = _slu(s, "paper2-mix_2pct"), _slu(s, "paper2-mix_5pct")
    evidence = f"SLU-F1 text-only {text}, 2% speech {two}, 5% speech {five}"
    return evidence, both(compare(two, text), compare(five, text))


def _curriculum_best(s: Summary) -> tuple[str, str]:
    others = {r: _slu(s, r) for r in s.recipes if r != "paper2-curriculum"}
    runner_up = max(others, key=lambda r: others[r].mean)
    curriculum = _slu(s, "paper2-curriculum")
    evidence = f"SLU-F1 curriculum {curriculum}; best other ({runner_up}) {others[runner_up]}"
    return evidence, compare(curriculum, others[runner_up])


def _crosslingual_adapts(s: Summary) -> tuple[str, str]:
    cross, text = _slu(s, "paper2-crosslingual"), _slu(s, "paper2-text_only")
    evidence = f"SLU-F1 on Arabic speech: cross-lingual {cross}, Arabic text-only {text}"
    return evidence, compare(cross, text)


PAPER1 = ("paper1-uniform", "paper1-tpc", "paper1-ads", "paper1-hybrid")
CLAIMS: dict[str, list[Claim]] = {
    "paper1": [
        Claim("ADS converges faster early", ("paper1-ads", "paper1-uniform"), _ads_faster_early),
        Claim(
            "ADS raises paralinguistic F1 (dialect, emotion)",
            ("paper1-ads", "paper1-uniform"),
            _ads_paralinguistic,
        ),
        Claim(
            "ADS's gradient volatility hurts generation (asr, ssum) in long training",
            ("paper1-ads", "paper1-uniform"),
            _ads_volatility_hurts,
        ),
        Claim(
            "TPC stabilizes ASR but transfers negatively to the later tasks",
            ("paper1-tpc", "paper1-uniform"),
            _tpc_asr_but_negative_transfer,
        ),
        Claim("the TPC→ADS hybrid is best overall", PAPER1, _hybrid_best),
    ],
    "paper2": [
        Claim(
            f"text-only is competitive (≥ {COMPETITIVE:.0%} of the best SLU-F1)",
            ("paper2-text_only",),
            _text_only_competitive,
        ),
        Claim(
            "2–5% speech brings large gains over text-only",
            ("paper2-text_only", "paper2-mix_2pct", "paper2-mix_5pct"),
            _speech_gains,
        ),
        Claim(
            "the text→speech curriculum is best when speech is scarce",
            ("paper2-curriculum",),
            _curriculum_best,
        ),
        Claim(
            "the cross-lingual recipe adapts to Arabic speech",
            ("paper2-crosslingual", "paper2-text_only"),
            _crosslingual_adapts,
        ),
    ],
}
