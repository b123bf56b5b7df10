"""A run's schedule, built in one place: the examples its strategy draws from, their aligner
embeddings when a composer needs them (ADS), the plan and this rank's sampler.

``omnisched train``, ``ScheduledTrainer``, ``omnisched preview`` and ``omnisched export`` all
build it with ``build_schedule``, so all four draw the same batches for a recipe and seed. The
two training front doors also share what training does to it (``RunSchedule.after_step``,
``RunSchedule.resume``): per-task losses fed back for plateau phase ends, aligner embeddings
refreshed on the plan's cadence and replayed on resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnisched.config import Recipe
from omnisched.data.example import Example
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.embeddings import aligner_embeddings, load_embeddings, model_embeddings
from omnisched.models.loading import load_pretrained
from omnisched.schedule.plan import Plan, build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples

EMBEDDINGS = "embeddings"  # aligner embeddings refreshed during training, by step, in a run


@dataclass
class RunSchedule:
    """The examples a run draws from (the sampler's indices point into them), its plan and
    this rank's sampler; ``root`` is the corpus directory the examples' audio lives under."""

    examples: list[Example]
    plan: Plan
    sampler: ScheduledBatchSampler
    root: Path

    def after_step(
        self, step: int, task_means: dict[str, float], adapter: AudioLMAdapter, run_dir: Path
    ) -> None:
        """Training has finished ``step`` on every rank: the batch's per-task mean losses (the
        same on every rank; non-finite ones left out) go to the sampler, and on the plan's
        cadence fresh aligner embeddings are computed with ``adapter``, saved under
        ``run_dir/embeddings/step-N`` so that a resumed run replays them."""
        self.sampler.observe(step, {t: m for t, m in task_means.items() if math.isfinite(m)})
        every = self.plan.refresh_every
        if every and step % every == 0 and step < self.plan.total_steps:
            directory = Path(run_dir) / EMBEDDINGS / f"step-{step:06d}"
            fresh = aligner_embeddings(adapter, self.examples, self.root, directory, progress=False)
            self.sampler.refresh_embeddings(step, fresh)

    def resume(self, sampler_state: dict, run_dir: Path) -> None:
        """Continues from a checkpoint's sampler state, with the embedding refreshes that
        ``after_step`` saved in ``run_dir`` up to that step."""
        self.sampler.load_state_dict(sampler_state)
        ids = [example.id for example in self.examples]
        for refresh in sorted((Path(run_dir) / EMBEDDINGS).glob("step-*")):
            step = int(refresh.name.removeprefix("step-"))
            if step <= self.sampler.step and (found := load_embeddings(refresh, ids)) is not None:
                self.sampler.refresh_embeddings(step, found, replayed=True)


def build_schedule(
    recipe: Recipe,
    examples: list[Example],
    *,
    rank: int = 0,
    world_size: int = 1,
    feedback: bool = False,
    adapter: AudioLMAdapter | None = None,
) -> RunSchedule:
    """The recipe's schedule over ``examples`` (its train rows), for ``rank`` of
    ``world_size`` processes.

    When a composer needs aligner embeddings they come from the recipe's cache, or are
    computed with ``adapter`` (the model being trained; without it the recipe's model is
    loaded), and so do the sequence lengths a ``batching.max_tokens`` budget counts.
    ``feedback``: training reports per-task losses through ``after_step``, so that phases
    ending on a plateau end there and adaptive phases adapt (previews and exports end them at
    their ``max_fraction`` and keep the starting weights)."""
    chosen = select_examples(recipe.schedule, examples)
    specs = recipe.schedule.phases()
    embeddings = tokens = None
    counts_tokens = any(spec.batching and spec.batching.max_tokens for spec in specs)
    if counts_tokens and adapter is None:
        adapter = AudioLMAdapter(*load_pretrained(recipe.model.path))
    if recipe.schedule.uses_embeddings:
        embeddings = model_embeddings(
            recipe.model.path, chosen, recipe.corpus, recipe.cache, adapter=adapter
        )
    if counts_tokens:
        tokens = np.array([adapter.sequence_length(example)[0] for example in chosen])
    settings = recipe.train
    plan = build_plan(
        specs, chosen, settings.batch_size, settings.steps, settings.seed, embeddings, tokens
    )
    sampler = ScheduledBatchSampler(plan, settings.seed, rank, world_size, feedback=feedback)
    return RunSchedule(chosen, plan, sampler, recipe.corpus)
