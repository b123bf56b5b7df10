"""Preview of a recipe's schedule without training: per-phase shares and a plot over steps.

Walks the sampler through every step (phases that end on a loss plateau end at their
``max_fraction``, as there are no losses) and counts what each batch holds. It sits above the
scheduling core: it reads the corpus and, for ADS, the model's aligner embeddings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from omnisched.data.example import Example
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples


def walk(recipe, examples: list[Example], embeddings: np.ndarray | None = None):
    """(chosen examples, global batches, sampler) of the recipe's whole schedule."""
    chosen = select_examples(recipe.schedule, examples)
    settings = recipe.train
    plan = build_plan(
        recipe.schedule.phases(),
        chosen,
        settings.batch_size,
        settings.steps,
        settings.seed,
        embeddings,
    )
    sampler = ScheduledBatchSampler(plan, settings.seed)
    return chosen, list(sampler), sampler


def schedule(recipe, strict: bool = False):
    """(chosen examples, global batches, sampler) of the recipe's schedule over the train split
    of its corpus, built as training builds it (ADS recipes compute or reuse the aligner
    embeddings of the recipe's model)."""
    from omnisched.data.manifest import load_split
    from omnisched.models.embeddings import model_embeddings

    examples = load_split(recipe.corpus, "train", strict, settings=recipe.data)
    embeddings = None
    if recipe.schedule.uses_embeddings:
        chosen = select_examples(recipe.schedule, examples)
        embeddings = model_embeddings(recipe.model.path, chosen, recipe.corpus, recipe.cache)
    return walk(recipe, examples, embeddings)


def phase_table(chosen: list[Example], batches: list[list[int]], sampler) -> list[dict]:
    """Per phase: its steps, composer and the measured share of every pool."""
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
        rows.append(
            {
                "phase": phase.name,
                "steps": f"{start}–{end - 1}",
                "composer": phase.spec.composer,
                "shares": {pool: count / total for pool, count in sorted(drawn.items())},
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """The phase table as markdown: one line per phase and pool."""
    lines = ["| phase | steps | composer | pool | share |", "|---|---|---|---|---|"]
    for row in rows:
        for pool, share in row["shares"].items():
            lines.append(
                f"| {row['phase']} | {row['steps']} | {row['composer']} | {pool} | {share:.1%} |"
            )
    return "\n".join(lines)


def plot_shares(
    chosen: list[Example], batches: list[list[int]], sampler, out: Path, bins: int = 100
) -> Path:
    """PNG of task share and modality share over steps, with phase boundaries."""
    width = max(1, len(batches) // bins)
    figure = Figure(figsize=(11, 4.5))
    axes = figure.subplots(1, 2, sharex=True)
    for axis, field in zip(axes, ("task", "modality"), strict=True):
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
