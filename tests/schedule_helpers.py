"""Helpers for schedule tests: synthetic example lists, clustered embeddings, sampler streams."""

from __future__ import annotations

import numpy as np

from omnisched.data.example import Example
from omnisched.schedule.phases import composer_kind
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples
from omnisched.tasks import TASKS


def make_examples(sizes: dict[tuple[str, str, str], int], labelled_shift: int = 0) -> list[Example]:
    """``sizes[(task, modality, language)]`` examples per pool, labels cycling over the task's
    set; speech rows point at audio that is never loaded."""
    examples = []
    for (task, modality, language), count in sizes.items():
        labels = TASKS[task].labels
        for i in range(count):
            speech = modality == "speech"
            examples.append(
                Example(
                    id=f"{task}-{modality}-{language}-{i}",
                    task=task,
                    modality=modality,
                    language=language,
                    audio=f"a/{task}-{i}.flac" if speech else None,
                    duration_s=1.0 + (i % 7) * 0.5 if speech else None,
                    input_text=None if speech else f"text {i}",
                    target="t",
                    label=labels[(i + labelled_shift) % len(labels)] if labels else None,
                )
            )
    return examples


PAPER1_POOLS = {
    ("asr", "speech", "ar"): 60,
    ("ssum", "speech", "ar"): 40,
    ("dialect", "speech", "ar"): 50,
    ("emotion", "speech", "ar"): 44,
}

PAPER2_POOLS = {
    ("slu", "speech", "ar"): 40,
    ("slu", "text", "ar"): 200,
    ("slu", "speech", "en"): 80,
    ("slu", "text", "en"): 80,
}


def clustered_embeddings(
    count: int, width: int = 16, clusters: int = 6, seed: int = 0, dominant: float | None = None
):
    """Rows drawn around ``clusters`` well-separated centres; with ``dominant``, that share of
    rows falls in the first cluster (redundant data) and the rest spread over the others."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, width)) * 4
    shares = np.full(clusters, 1 / clusters)
    if dominant is not None:
        shares = np.full(clusters, (1 - dominant) / (clusters - 1))
        shares[0] = dominant
    members = rng.choice(clusters, size=count, p=shares)
    return (centres[members] + rng.normal(size=(count, width)) * 0.3).astype(np.float16)


def sampler_for(
    schedule,
    examples: list[Example],
    batch_size: int = 8,
    steps: int = 50,
    seed: int = 0,
    embeddings: np.ndarray | None = None,
    rank: int = 0,
    world_size: int = 1,
    feedback: bool = False,
    tokens: np.ndarray | None = None,
) -> tuple[ScheduledBatchSampler, list[Example]]:
    """A fresh sampler for ``schedule`` (a strategy model or a list of PhaseSpec)."""
    specs = schedule if isinstance(schedule, list) else schedule.phases()
    chosen = examples if isinstance(schedule, list) else select_examples(schedule, examples)
    if embeddings is None and any(composer_kind(s.composer).needs_embeddings for s in specs):
        embeddings = clustered_embeddings(len(chosen), seed=seed)
    plan = build_plan(specs, chosen, batch_size, steps, seed, embeddings, tokens)
    sampler = ScheduledBatchSampler(plan, seed, rank, world_size, feedback=feedback)
    return sampler, chosen


def stream(sampler: ScheduledBatchSampler) -> list[list[int]]:
    return [list(batch) for batch in sampler]
