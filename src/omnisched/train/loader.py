"""The training data loader: the schedule's batches, loaded and collated by worker processes.

Workers read audio and collate ahead of the training step (``prefetch`` batches each); pinned
memory makes the host-to-GPU copy asynchronous, so it is used only when CUDA is there. The
sampler decides which examples come when; the loader never reorders or shards them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from omnisched.data.dataset import CachedAudioDataset, ExampleDataset, LoadedExample
from omnisched.data.example import Example
from omnisched.models.aligner_cache import AlignerCache


def make_loader(
    examples: list[Example],
    root: Path,
    batch_sampler: Iterable[list[int]],
    collate: Callable[[list[LoadedExample]], object],
    num_workers: int = 1,
    prefetch: int = 4,
    aligner_cache: AlignerCache | None = None,
) -> DataLoader:
    """A loader over ``examples`` (audio under ``root``) in the order of ``batch_sampler``.

    ``num_workers`` processes each keep ``prefetch`` batches ready (0: load in the training
    process); workers persist across epochs of the loader. With an ``aligner_cache`` speech
    comes as its cached aligner rows, not as audio."""
    dataset = (
        ExampleDataset(examples, root)
        if aligner_cache is None
        else CachedAudioDataset(examples, root, aligner_cache)
    )
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        collate_fn=collate,
        num_workers=num_workers,
        prefetch_factor=prefetch if num_workers else None,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
    )
