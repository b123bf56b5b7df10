"""Preview of a recipe's schedule without training: per-phase shares and a plot over steps.

Draws every step of the schedule ``omnisched train`` would build (phases that end on a loss
plateau end at their ``max_fraction``, and adaptive phases keep their starting weights, as
there are no losses) and counts what each batch holds. It sits above the scheduling core: it
reads the corpus and, for ADS, the model's aligner embeddings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from omnisched.config import Recipe
from omnisched.data.example import Example
from omnisched.data.manifest import load_split
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.train.schedule import build_schedule


class SchedulePreview(NamedTuple):
    """A recipe's whole schedule, drawn: the examples it draws from, every global batch
    (indices into ``examples``) and the sampler that drew them (its phase boundaries)."""

    examples: list[Example]
    batches: list[list[int]]
    sampler: ScheduledBatchSampler


def schedule(recipe: Recipe, strict: bool = False) -> SchedulePreview:
    """The recipe's schedule over the train split of its corpus, built as training builds it
    (ADS recipes compute or reuse the aligner embeddings of the recipe's model)."""
    examples = load_split(recipe.corpus, "train", strict, settings=recipe.data)
    run = build_schedule(recipe, examples)
    return SchedulePreview(run.examples, list(run.sampler), run.sampler)


def phase_table(
    chosen: list[Example], batches: list[list[int]], sampler: ScheduledBatchSampler
) -> list[dict]:
    """Per phase: its steps, composer, examples per batch and the measured share of every
    pool."""
    rows = []
    bounds = [start for start, _ in sampler.boundaries] + [len(batches)]
    for (start, index), end in zip(sampler.boundaries, bounds[1:], strict=True):
        phase = sampler.plan.phases[index]
        drawn = Counter(
            f"{chosen[i].task}/{chosen[i].modality}/{chosen[i].language}"
            for batch in batches[start:end]
            for i in batch
        )
        total = sum(drawn.values())
        sizes = [len(batch) for batch in batches[start:end]]
        rows.append(
            {
                "phase": phase.name,
                "steps": f"{start}–{end - 1}",
                "composer": phase.spec.composer,
                "batch": f"{min(sizes)}–{max(sizes)} (mean {np.mean(sizes):.1f})"
                if phase.spec.batching is not None
                else str(sizes[0]),
                "shares": {pool: count / total for pool, count in sorted(drawn.items())},
            }
        )
    return rows


def adaptive_notes(sampler: ScheduledBatchSampler) -> list[str]:
    """For every adaptive phase: its starting task weights, and that they will adapt."""
    notes = []
    for phase in sampler.plan.phases:
        if phase.spec.adaptive is not None:
            start = ", ".join(f"{t} {w:.1%}" for t, w in sorted(phase.task_shares.items()))
            notes.append(
                f"phase '{phase.name}' mixes adaptively ({phase.spec.adaptive.method}): it "
                f"starts at {start} and moves every {phase.spec.adaptive.every} steps with the "
                "training losses, so its shares in training differ from these"
            )
    return notes


def format_table(rows: list[dict]) -> str:
    """The phase table as markdown: one line per phase and pool."""
    lines = [
        "| phase | steps | composer | examples per batch | pool | share |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        for pool, share in row["shares"].items():
            lines.append(
                f"| {row['phase']} | {row['steps']} | {row['composer']} | {row['batch']} | "
                f"{pool} | {share:.1%} |"
            )
    return "\n".join(lines)


def plot_shares(
    chosen: list[Example],
    batches: list[list[int]],
    sampler: ScheduledBatchSampler,
    out: Path,
    bins: int = 100,
) -> Path:
    """PNG of task share and modality share over steps, with phase boundaries, and with
    budget batches the examples per batch."""
    width = max(1, len(batches) // bins)
    budgeted = any(phase.spec.batching is not None for phase in sampler.plan.phases)
    figure = Figure(figsize=(16 if budgeted else 11, 4.5))
    axes = figure.subplots(1, 3 if budgeted else 2, sharex=True)
    if budgeted:
        axes[2].plot(range(len(batches)), [len(batch) for batch in batches], linewidth=0.6)
        axes[2].set(xlabel="step", ylabel="examples", title="examples per batch (budget)")
        axes[2].set_ylim(bottom=0)
    for axis, field in zip(axes, ("task", "modality"), strict=False):
        names = sorted({getattr(chosen[i], field) for batch in batches for i in batch})
        steps, shares = [], {name: [] for name in names}
        for start in range(0, len(batches), width):
            counts = Counter(
                getattr(chosen[i], field) for batch in batches[start : start + width] for i in batch
            )
            total = sum(counts.values())
            steps.append(start)
            for name in names:
                shares[name].append(counts[name] / total)
        axis.stackplot(steps, *shares.values(), labels=names, step="post")
        for start, _ in sampler.boundaries[1:]:
            axis.axvline(start, color="black", linestyle="--", linewidth=1)
        axis.set(xlabel="step", ylabel="share of the batch", title=f"{field} share", ylim=(0, 1))
        axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    return Path(out)
