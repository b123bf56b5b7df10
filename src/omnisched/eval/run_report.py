"""The report of one run: per-task table against the foundation, learning curves, timings."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from omnisched.eval.evaluate import headline_table, normalization_note
from omnisched.train.metrics_log import read_metrics


def task_series(records: list[dict], prefix: str) -> dict[str, list[tuple[int, float]]]:
    """Per task, (step, value) of the metrics records' ``<prefix>/<task>`` entries."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for record in records:
        for key, value in record.items():
            if key.startswith(f"{prefix}/") and value is not None and "step" in record:
                series[key.removeprefix(f"{prefix}/")].append((record["step"], value))
    return dict(series)


def plot_task_weights(axis, weights: dict[str, list[tuple[int, float]]], title: str) -> None:
    """Adaptive mixing's task weights over steps as stacked shares on ``axis``."""
    tasks = sorted(weights)
    steps = [step for step, _ in weights[tasks[0]]]
    axis.stackplot(steps, *[[w for _, w in weights[t]] for t in tasks], labels=tasks)
    axis.set(xlabel="step", ylabel="task weight", title=title, ylim=(0, 1))
    axis.legend(loc="lower left", fontsize=8)


def plot_learning_curves(metrics_path: Path, out: Path) -> Path:
    """PNG of per-task training loss and gradient norm over steps, and (adaptive mixing) the
    task weights over steps."""
    records = [r for r in read_metrics(metrics_path) if "event" not in r]
    curves = task_series(records, "loss")
    weights = task_series(records, "weight")
    figure = Figure(figsize=(16 if weights else 11, 4))
    loss_axis, grad_axis, *weight_axis = figure.subplots(1, 3 if weights else 2)
    for task, points in sorted(curves.items()):
        steps, values = zip(*points, strict=True)
        loss_axis.plot(steps, values, label=task)
    loss_axis.set(xlabel="step", ylabel="training loss (answer tokens)", title="loss per task")
    loss_axis.set_yscale("log")
    loss_axis.legend()
    grad_axis.plot([r["step"] for r in records], [r["grad_norm"] for r in records], color="gray")
    grad_axis.set(xlabel="step", ylabel="gradient norm", title="gradient norm")
    if weights:
        plot_task_weights(weight_axis[0], weights, "adaptive task weights")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    return out


def write_run_report(
    run_dir: Path,
    title: str,
    results: dict[str, dict[str, dict]],
    notes: list[str],
) -> Path:
    """Writes ``REPORT.md`` with the headline table of every evaluated model, the learning
    curves (with adaptive mixing's task weights) and free-form notes (timings, settings)."""
    run_dir = Path(run_dir)
    curves = plot_learning_curves(run_dir / "metrics.jsonl", run_dir / "learning_curves.png")
    lines = [
        f"# {title}",
        "",
        "## Per-task results (test split, speech)",
        "",
        headline_table(results),
        "",
        normalization_note(results),
        "ROUGE-L F with a Unicode tokenizer; macro-F1 over the full label set, unparseable "
        "outputs counted wrong.",
        "",
        "## Learning curves",
        "",
        f"![learning curves]({curves.name})",
        "",
        "## Run",
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    report = run_dir / "REPORT.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report
