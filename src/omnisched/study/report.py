"""The report of a study: final metrics with 95% confidence intervals, steps to target,
learning curves, gradient-norm volatility, and a verdict on each claim of the source papers.

Generated from the runs' ``eval.json`` (test) and ``metrics.jsonl`` (dev evaluations, gradient
norms); never edited by hand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from omnisched.eval.evaluate import HEADLINE
from omnisched.tasks import get_task
from omnisched.train.logging import read_metrics

VOLATILITY_WINDOW = 20


@dataclass
class Run:
    """One finished run: its final test metrics, dev curves and gradient norms."""

    recipe: str
    seed: int
    final: dict[str, float]
    curves: dict[str, list[tuple[int, float]]]
    grad_norms: list[tuple[int, float]]

    def volatility(self) -> float:
        """Mean rolling std / mean of the gradient norm over the second half of training."""
        values = np.array([g for _, g in self.grad_norms], dtype=float)
        if len(values) < 2 * VOLATILITY_WINDOW:
            return math.nan
        windows = np.lib.stride_tricks.sliding_window_view(values, VOLATILITY_WINDOW)
        ratio = windows.std(axis=1) / np.maximum(windows.mean(axis=1), 1e-12)
        return float(ratio[len(ratio) // 2 :].mean())


def higher_is_better(task: str) -> bool:
    return HEADLINE[get_task(task).kind][1]


def score(task: str, value: float) -> float:
    """A task's headline metric turned higher-is-better (1 − CER for ASR)."""
    return value if higher_is_better(task) else 1.0 - value


@dataclass(frozen=True)
class Estimate:
    """Mean over seeds and the half-width of its 95% t-interval (nan with one seed)."""

    mean: float
    half_width: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Estimate:
        values = [v for v in values if not math.isnan(v)]
        if not values:
            return cls(math.nan, math.nan, 0)
        if len(values) == 1:
            return cls(values[0], math.nan, 1)
        sem = float(np.std(values, ddof=1)) / math.sqrt(len(values))
        return cls(
            float(np.mean(values)), float(stats.t.ppf(0.975, len(values) - 1)) * sem, len(values)
        )

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return "—"
        if math.isnan(self.half_width):
            return f"{self.mean:.3f} (n=1)"
        return f"{self.mean:.3f} ± {self.half_width:.3f}"

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def compare(a: Estimate, b: Estimate) -> str:
    """Whether ``a`` is above ``b`` (higher is better): supported when the intervals do not
    overlap and a is higher, not supported when they do not overlap and a is lower, else
    inconclusive (also with fewer than two seeds)."""
    if any(math.isnan(x) for x in (a.mean, b.mean, a.half_width, b.half_width)):
        return "inconclusive"
    if a.low > b.high:
        return "supported"
    if a.high < b.low:
        return "not supported"
    return "inconclusive"


def both(*verdicts: str) -> str:
    """A claim made of parts: supported if all are, not supported if any is not."""
    if "not supported" in verdicts:
        return "not supported"
    return "supported" if all(v == "supported" for v in verdicts) else "inconclusive"


def load_runs(runs_root: Path) -> list[Run]:
    """Every finished run under ``runs_root/<recipe>/seed-<n>``."""
    import json

    runs = []
    for directory in sorted(Path(runs_root).glob("*/seed-*")):
        if not (directory / "eval.json").is_file():
            continue
        tasks = json.loads((directory / "eval.json").read_text(encoding="utf-8"))["tasks"]
        final = {task: scores[scores["headline"]] for task, scores in tasks.items()}
        curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
        grads = []
        for record in read_metrics(directory / "metrics.jsonl"):
            if record.get("event") == "eval":
                for key, value in record.items():
                    if "/" in key and value is not None:
                        curves[key.split("/")[0]].append((record["step"], value))
            elif "event" not in record and record.get("grad_norm") is not None:
                grads.append((record["step"], record["grad_norm"]))
        seed = int(directory.name.removeprefix("seed-"))
        runs.append(Run(directory.parent.name, seed, final, dict(curves), grads))
    return runs


@dataclass
class Summary:
    """Runs grouped by recipe, with the aggregates the report and the claims read."""

    runs: list[Run]
    recipes: list[str] = field(init=False)
    tasks: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.recipes = sorted({r.recipe for r in self.runs})
        self.tasks = sorted({t for r in self.runs for t in r.final})

    def of(self, recipe: str) -> list[Run]:
        return [r for r in self.runs if r.recipe == recipe]

    def final(self, recipe: str, task: str) -> Estimate:
        return Estimate.of([r.final[task] for r in self.of(recipe) if task in r.final])

    def scored(self, recipe: str, tasks: list[str]) -> Estimate:
        """Mean higher-is-better score over ``tasks``, per run, then over seeds."""
        per_run = [float(np.mean([score(t, r.final[t]) for t in tasks])) for r in self.of(recipe)]
        return Estimate.of(per_run)

    def early(self, recipe: str) -> Estimate:
        """Mean higher-is-better dev score over tasks at each run's first evaluation."""
        per_run = []
        for run in self.of(recipe):
            firsts = [score(t, points[0][1]) for t, points in run.curves.items() if points]
            if firsts:
                per_run.append(float(np.mean(firsts)))
        return Estimate.of(per_run)

    def volatility(self, recipe: str) -> Estimate:
        return Estimate.of([r.volatility() for r in self.of(recipe)])

    def steps_to_target(self, task: str) -> tuple[float, dict[str, str]]:
        """The target (90% of the best final dev value of any recipe) and, per recipe, the
        mean first evaluation step that reaches it ("k/n runs"); none when no recipe scored
        above 0 on a higher-is-better metric."""
        finals = {
            recipe: np.mean([r.curves[task][-1][1] for r in self.of(recipe) if r.curves.get(task)])
            for recipe in self.recipes
            if any(r.curves.get(task) for r in self.of(recipe))
        }
        if not finals:
            return math.nan, {}
        up = higher_is_better(task)
        best = max(finals.values()) if up else min(finals.values())
        if up and best <= 0:  # no recipe learned the task: every step would "reach" 0
            return 0.0, dict.fromkeys(self.recipes, "no recipe above 0")
        target = 0.9 * best if up else best / 0.9
        cells = {}
        for recipe in self.recipes:
            steps = []
            runs = [r for r in self.of(recipe) if r.curves.get(task)]
            for run in runs:
                hit = [s for s, v in run.curves[task] if (v >= target if up else v <= target)]
                if hit:
                    steps.append(hit[0])
            cells[recipe] = (
                f"{np.mean(steps):.0f} ({len(steps)}/{len(runs)} runs)" if steps else "not reached"
            )
        return target, cells


def plot_curves(summary: Summary, out: Path) -> Path:
    """Dev metric per task over steps: mean over seeds per recipe, band from min to max."""
    tasks = [t for t in summary.tasks if any(r.curves.get(t) for r in summary.runs)]
    figure = Figure(figsize=(4.2 * max(1, len(tasks)), 3.8))
    axes = np.atleast_1d(figure.subplots(1, max(1, len(tasks))))
    for axis, task in zip(axes, tasks, strict=False):
        for recipe in summary.recipes:
            series = [r.curves[task] for r in summary.of(recipe) if r.curves.get(task)]
            if not series:
                continue
            length = min(len(s) for s in series)
            steps = [s for s, _ in series[0][:length]]
            values = np.array([[v for _, v in s[:length]] for s in series])
            axis.plot(steps, values.mean(0), label=recipe)
            axis.fill_between(steps, values.min(0), values.max(0), alpha=0.15)
        metric = HEADLINE[get_task(task).kind][0]
        axis.set(title=task, xlabel="step", ylabel=f"dev {metric}")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    return out


def plot_volatility(summary: Summary, out: Path) -> Path:
    """Rolling std / mean of the gradient norm over steps, mean over seeds per recipe."""
    figure = Figure(figsize=(7, 4))
    axis = figure.subplots()
    for recipe in summary.recipes:
        series = []
        for run in summary.of(recipe):
            values = np.array([g for _, g in run.grad_norms], dtype=float)
            if len(values) >= VOLATILITY_WINDOW:
                windows = np.lib.stride_tricks.sliding_window_view(values, VOLATILITY_WINDOW)
                series.append(windows.std(1) / np.maximum(windows.mean(1), 1e-12))
        if series:
            length = min(len(s) for s in series)
            steps = [s for s, _ in summary.of(recipe)[0].grad_norms][VOLATILITY_WINDOW - 1 :]
            axis.plot(steps[:length], np.mean([s[:length] for s in series], 0), label=recipe)
    axis.set(
        xlabel="step",
        ylabel=f"rolling std / mean of grad norm ({VOLATILITY_WINDOW} logs)",
        title="gradient-norm volatility",
    )
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    return out


def write_study_report(study) -> Path:
    """Writes ``<out>/REPORT.md`` with its plots; returns its path."""
    from omnisched.study.claims import CLAIMS

    out = Path(study.out)
    summary = Summary(load_runs(out / "runs"))
    lines = [
        f"# Study {study.name}",
        "",
        f"Generated by `omnisched study` from {len(summary.runs)} finished run(s): recipes "
        f"{', '.join(summary.recipes)}; seeds {study.seeds}. Test split, speech; mean ± half-"
        "width of the 95% t-interval over seeds. Never edited by hand.",
        "",
        "## Final metrics",
        "",
        "| task | metric | " + " | ".join(summary.recipes) + " |",
        "|---|---|" + "---|" * len(summary.recipes),
    ]
    for task in summary.tasks:
        metric, up = HEADLINE[get_task(task).kind]
        cells = [str(summary.final(recipe, task)) for recipe in summary.recipes]
        lines.append(f"| {task} | {metric} {'↑' if up else '↓'} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Steps to target",
        "",
        "First dev evaluation reaching 90% of the best final dev value of any recipe (for CER: "
        "within 1/0.9 of the best), mean over the runs that reach it.",
        "",
        "| task | target | " + " | ".join(summary.recipes) + " |",
        "|---|---|" + "---|" * len(summary.recipes),
    ]
    for task in summary.tasks:
        target, cells = summary.steps_to_target(task)
        if cells:
            row = [cells.get(recipe, "—") for recipe in summary.recipes]
            lines.append(f"| {task} | {target:.3f} | " + " | ".join(row) + " |")
    curves = plot_curves(summary, out / "learning_curves.png")
    volatility = plot_volatility(summary, out / "volatility.png")
    lines += [
        "",
        "## Learning curves (dev)",
        "",
        f"![learning curves]({curves.name})",
        "",
        "## Gradient-norm volatility",
        "",
        f"![volatility]({volatility.name})",
        "",
        "| recipe | volatility (second half) |",
        "|---|---|",
        *[f"| {recipe} | {summary.volatility(recipe)} |" for recipe in summary.recipes],
        "",
        "## Claims",
        "",
        "Verdicts compare 95% intervals over seeds: supported (the claimed direction, intervals "
        "apart), not supported (the opposite direction, intervals apart), inconclusive "
        "(intervals overlap, or fewer than two seeds).",
        "",
        "| claim | numbers | verdict |",
        "|---|---|---|",
    ]
    for claim in CLAIMS[study.claims]:
        evidence, verdict = claim.judge(summary)
        lines.append(f"| {claim.text} | {evidence} | **{verdict}** |")
    report = out / "REPORT.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
