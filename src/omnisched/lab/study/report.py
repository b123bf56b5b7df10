"""The report of a study: final metrics with 95% intervals, the learned-task bar, steps to it,
learning curves, gradient-norm volatility, adaptive mixing's task weights, and a verdict on
each claim from paired seeds.

Runs of one seed share their LoRA initialization and every random draw their recipes have in
common, so recipes are compared seed by seed: a claim's verdict comes from the per-seed paired
differences (mean with its 95% t-interval and the effect size d_z), not from whether two
marginal intervals overlap. Generated from the runs' ``eval.json`` (test) and
``metrics.jsonl`` (dev evaluations, gradient norms); never edited by hand.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from omnisched.eval.run_report import plot_task_weights, task_series
from omnisched.eval.scorers import headline
from omnisched.tasks import get_task
from omnisched.train.metrics_log import read_metrics

VOLATILITY_WINDOW = 20
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


def higher_is_better(task: str) -> bool:
    return headline(get_task(task))[1]


def score(task: str, value: float) -> float:
    """A task's headline metric turned higher-is-better (1 − CER for ASR)."""
    return value if higher_is_better(task) else 1.0 - value


def reaches(task: str, value: float, target: float) -> bool:
    """Whether ``value`` of the task's headline metric is at least as good as ``target``."""
    return value >= target if higher_is_better(task) else value <= target


@dataclass
class Run:
    """One finished run: its final test metrics, dev curves and gradient norms."""

    recipe: str
    seed: int
    final: dict[str, float]
    curves: dict[str, list[tuple[int, float]]]
    grad_norms: list[tuple[int, float]]
    weights: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # adaptive

    def volatility(self) -> float:
        """Mean rolling std / mean of the gradient norm over the second half of training."""
        values = np.array([g for _, g in self.grad_norms], dtype=float)
        if len(values) < 2 * VOLATILITY_WINDOW:
            return math.nan
        windows = np.lib.stride_tricks.sliding_window_view(values, VOLATILITY_WINDOW)
        ratio = windows.std(axis=1) / np.maximum(windows.mean(axis=1), 1e-12)
        return float(ratio[len(ratio) // 2 :].mean())

    def steps_to(self, task: str, target: float) -> int | None:
        """The first dev evaluation step at which ``task`` reaches ``target``; None if none."""
        hits = [s for s, v in self.curves.get(task, []) if reaches(task, v, target)]
        return hits[0] if hits else None

    def censored_steps(self, task: str, target: float) -> float:
        """``steps_to``, or one evaluation interval past the last one when never reached (a
        lower bound on the true value, so a recipe that never gets there ranks last)."""
        found = self.steps_to(task, target)
        if found is not None:
            return float(found)
        steps = [s for s, _ in self.curves.get(task, [])]
        if not steps:
            return math.nan
        interval = steps[-1] - steps[-2] if len(steps) > 1 else steps[-1]
        return float(steps[-1] + interval)

    def last_dev(self, task: str) -> float:
        points = self.curves.get(task)
        return points[-1][1] if points else math.nan


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


@dataclass(frozen=True)
class Paired:
    """Per-seed differences: their mean, 95% t-interval and effect size d_z (mean / sd)."""

    mean: float
    low: float
    high: float
    effect: float
    n: int

    @classmethod
    def of(cls, differences: list[float]) -> Paired:
        values = np.array([d for d in differences if not math.isnan(d)], dtype=float)
        if len(values) < 2:
            mean = float(values[0]) if len(values) else math.nan
            return cls(mean, math.nan, math.nan, math.nan, len(values))
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(values) - 1)) * sd / math.sqrt(len(values))
        if sd > 1e-9 * max(1.0, abs(mean)):
            effect = mean / sd
        else:  # every seed the same difference (up to rounding)
            effect = math.copysign(math.inf, mean) if mean else 0.0
        return cls(mean, mean - half, mean + half, effect, len(values))

    @classmethod
    def between(cls, a: dict[int, float], b: dict[int, float]) -> Paired:
        """``a`` − ``b`` over the seeds both have."""
        return cls.of([a[seed] - b[seed] for seed in sorted(a.keys() & b.keys())])

    @property
    def verdict(self) -> str:
        """Supported when the whole interval is above 0, contradicted when below, else
        inconclusive (also with fewer than two seeds)."""
        if self.n < 2 or math.isnan(self.low):
            return INCONCLUSIVE
        if self.low > 0:
            return SUPPORTED
        if self.high < 0:
            return CONTRADICTED
        return INCONCLUSIVE

    def __str__(self) -> str:
        if self.n == 0:
            return "—"
        if self.n == 1:
            return f"{self.mean:+.3f} (n=1)"
        effect = f"{self.effect:.1f}"
        if not math.isfinite(self.effect):
            effect = "∞" if self.effect > 0 else "−∞"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}], d={effect}"


def both(*verdicts: str) -> str:
    """A claim made of parts: supported if all are, contradicted if any is."""
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return SUPPORTED if all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE


Measure = Callable[[Run], float]


def final_score(tasks: list[str]) -> Measure:
    """The mean higher-is-better test score over ``tasks`` (1 − CER for ASR)."""
    return lambda run: float(np.mean([score(t, run.final.get(t, math.nan)) for t in tasks]))


def load_runs(runs_root: Path) -> list[Run]:
    """Every finished run under ``runs_root/<recipe>/seed-<n>``."""
    runs = []
    for directory in sorted(Path(runs_root).glob("*/seed-*")):
        if not (directory / "eval.json").is_file():
            continue
        tasks = json.loads((directory / "eval.json").read_text(encoding="utf-8"))["tasks"]
        final = {task: scores[scores["headline"]] for task, scores in tasks.items()}
        curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
        grads, windows = [], []
        for record in read_metrics(directory / "metrics.jsonl"):
            if record.get("event") == "eval":
                for key, value in record.items():
                    if "/" in key and value is not None:
                        curves[key.split("/")[0]].append((record["step"], value))
            elif "event" not in record and record.get("grad_norm") is not None:
                grads.append((record["step"], record["grad_norm"]))
                windows.append(record)
        seed = int(directory.name.removeprefix("seed-"))
        weights = task_series(windows, "weight")
        runs.append(Run(directory.parent.name, seed, final, dict(curves), grads, weights))
    return runs


@dataclass
class Summary:
    """Runs grouped by recipe, the learned-task bar, and the aggregates the claims read.

    ``bar_recipe`` and ``targets`` (task → value of its headline metric on dev) define the
    learned-task bar; ``foundation`` holds the foundation's test scores when known."""

    runs: list[Run]
    bar_recipe: str | None = None
    targets: dict[str, float] = field(default_factory=dict)
    foundation: dict[str, float] = field(default_factory=dict)
    recipes: list[str] = field(init=False)
    tasks: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.recipes = sorted({r.recipe for r in self.runs})
        self.tasks = sorted({t for r in self.runs for t in r.final})

    def of(self, recipe: str) -> list[Run]:
        return [r for r in self.runs if r.recipe == recipe]

    def per_seed(self, recipe: str, measure: Measure) -> dict[int, float]:
        return {run.seed: measure(run) for run in self.of(recipe)}

    def estimate(self, recipe: str, measure: Measure) -> Estimate:
        return Estimate.of(list(self.per_seed(recipe, measure).values()))

    def final(self, recipe: str, task: str) -> Estimate:
        return Estimate.of([r.final[task] for r in self.of(recipe) if task in r.final])

    def best(self, recipes: list[str], measure: Measure) -> str | None:
        """The recipe of ``recipes`` in the study with the highest mean of ``measure``."""
        means = {r: self.estimate(r, measure).mean for r in recipes if self.of(r)}
        means = {r: m for r, m in means.items() if not math.isnan(m)}
        return max(means, key=means.get) if means else None

    def steps_to_bar(self, run: Run) -> float:
        """A run's mean over the bar's tasks of the steps to reach each target (censored)."""
        values = [run.censored_steps(task, target) for task, target in self.targets.items()]
        return float(np.mean(values)) if values else math.nan

    def bar_met(self) -> tuple[bool | None, list[str]]:
        """Whether every run of the bar recipe reached every target at its last dev
        evaluation, and one line per seed saying so."""
        runs = self.of(self.bar_recipe) if self.bar_recipe else []
        if not runs or not self.targets:
            return None, []
        lines, met = [], True
        for run in sorted(runs, key=lambda r: r.seed):
            cells = []
            for task, target in self.targets.items():
                value = run.last_dev(task)
                ok = not math.isnan(value) and reaches(task, value, target)
                met &= ok
                cells.append(f"{task} {value:.3f} {'✓' if ok else '✗'}")
            lines.append(f"seed {run.seed}: " + ", ".join(cells))
        return met, lines


def plot_curves(summary: Summary, out: Path) -> Path:
    """Dev metric per task over steps: mean over seeds per recipe, band from min to max, the
    bar's target dashed."""
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
        if task in summary.targets:
            axis.axhline(summary.targets[task], color="grey", linestyle="--", linewidth=1)
        metric, _ = headline(get_task(task))
        axis.set(title=task, xlabel="step", ylabel=f"dev {metric}")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    return out


def plot_weights(summary: Summary, out: Path) -> Path | None:
    """Adaptive recipes' task weights over steps, mean over seeds, one panel per recipe;
    None when no recipe adapts."""
    adaptive = [r for r in summary.recipes if any(run.weights for run in summary.of(r))]
    if not adaptive:
        return None
    figure = Figure(figsize=(5 * len(adaptive), 3.8))
    axes = np.atleast_1d(figure.subplots(1, len(adaptive)))
    for axis, recipe in zip(axes, adaptive, strict=True):
        runs = [run for run in summary.of(recipe) if run.weights]
        mean = {}
        for task in runs[0].weights:
            length = min(len(run.weights[task]) for run in runs)
            steps = [step for step, _ in runs[0].weights[task][:length]]
            values = np.mean([[w for _, w in run.weights[task][:length]] for run in runs], 0)
            mean[task] = list(zip(steps, values.tolist(), strict=True))
        plot_task_weights(axis, mean, f"{recipe} (mean of {len(runs)} seeds)")
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


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def report_lines(summary: Summary, claims: list, title: str, seeds: list[int]) -> list[str]:
    """The report's Markdown, figures referenced by file name."""
    met, bar_lines = summary.bar_met()
    lines = [
        f"# Study {title}",
        "",
        f"Generated by `omnisched study` from {len(summary.runs)} finished run(s): recipes "
        f"{', '.join(summary.recipes)}; seeds {seeds}. Final metrics on the test split "
        "(speech, held-out speakers): mean ± half-width of the 95% t-interval over seeds. "
        "Never edited by hand.",
        "",
        "## Learned-task bar",
        "",
    ]
    if met is None:
        lines.append("No bar set in the study (`bar`), or its recipe has no finished run.")
    else:
        goals = ", ".join(
            f"{t} {'≥' if higher_is_better(t) else '≤'} {v:.3f}" for t, v in summary.targets.items()
        )
        verdict = "**met**" if met else "**not met**"
        lines += [
            f"At its last dev evaluation, every run of `{summary.bar_recipe}` should reach "
            f"{goals}. {verdict}:",
            "",
            *[f"- {line}" for line in bar_lines],
        ]
    header = ["task", "metric"] + (["foundation"] if summary.foundation else []) + summary.recipes
    rows = []
    for task in summary.tasks:
        metric, up = headline(get_task(task))
        known = summary.foundation.get(task)
        cells = [f"{known:.3f}" if known is not None else "—"] if summary.foundation else []
        cells += [str(summary.final(recipe, task)) for recipe in summary.recipes]
        rows.append([task, f"{metric} {'↑' if up else '↓'}", *cells])
    lines += ["", "## Final metrics (test)", "", *_table(header, rows)]
    if summary.targets:
        rows = []
        for task, target in summary.targets.items():
            cells = []
            for recipe in summary.recipes:
                runs = summary.of(recipe)
                hits = [s for r in runs if (s := r.steps_to(task, target)) is not None]
                reached = f"{np.mean(hits):.0f} ({len(hits)}/{len(runs)})" if hits else "—"
                cells.append(reached if hits else f"not reached (0/{len(runs)})")
            rows.append([task, f"{target:.3f}", *cells])
        lines += [
            "",
            "## Steps to the bar (dev)",
            "",
            "The first dev evaluation at which a task reaches the bar's target: mean over the "
            "runs that reach it (runs that reach it / runs).",
            "",
            *_table(["task", "target", *summary.recipes], rows),
        ]
    volatility = [[r, str(summary.estimate(r, Run.volatility))] for r in summary.recipes]
    lines += [
        "",
        "## Learning curves (dev)",
        "",
        "![learning curves](learning_curves.png)",
        "",
        "## Gradient-norm volatility",
        "",
        "![volatility](volatility.png)",
        "",
        *_table(["recipe", "volatility (second half)"], volatility),
        "",
    ]
    if any(run.weights for run in summary.runs):
        lines += [
            "## Adaptive task weights",
            "",
            "The task weights adaptive mixing drew each step's batch with, mean over seeds.",
            "",
            "![task weights](task_weights.png)",
            "",
        ]
    lines += [
        "## Claims",
        "",
        "Each claim is a measurement on paired seeds: the per-seed difference in the claimed "
        "direction, its mean, 95% t-interval and effect size d_z. **supported**: the interval "
        "lies above 0; **contradicted**: below 0; **inconclusive**: it contains 0. Where a "
        "claim is against the baselines, the comparison is with the best baseline on that "
        "measure.",
        "",
        *_table(
            ["claim", "numbers", "paired difference", "verdict"],
            [[claim.text, *claim.judge(summary)] for claim in claims],
        ),
    ]
    return lines


def foundation_scores(out: Path, split: str) -> dict[str, float]:
    """The foundation's headline metric per task on ``split``, as the study evaluated it
    (``<out>/foundation/<split>/eval.json``); empty when it was not evaluated."""
    path = Path(out) / "foundation" / split / "eval.json"
    if not path.is_file():
        return {}
    tasks = json.loads(path.read_text(encoding="utf-8"))["tasks"]
    return {task: scores[scores["headline"]] for task, scores in tasks.items()}


def write_study_report(study, claims: list) -> Path:
    """Writes ``<out>/REPORT.md`` with its plots and the verdicts of ``claims``; returns its
    path. A bar target given as ``foundation`` is the foundation's own dev value of that task."""
    out = Path(study.out)
    targets = {}
    if study.bar is not None:
        dev = foundation_scores(out, "dev")
        for task, target in study.bar.targets.items():
            targets[task] = dev.get(task, math.nan) if target == "foundation" else target
    summary = Summary(
        load_runs(out / "runs"),
        bar_recipe=study.bar.recipe if study.bar is not None else None,
        targets=targets,
        foundation=foundation_scores(out, "test"),
    )
    plot_curves(summary, out / "learning_curves.png")
    plot_volatility(summary, out / "volatility.png")
    plot_weights(summary, out / "task_weights.png")
    lines = report_lines(summary, claims, study.name, study.seeds)
    report = out / "REPORT.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
