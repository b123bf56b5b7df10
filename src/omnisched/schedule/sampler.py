"""ScheduledBatchSampler: a deterministic stream of global batches, sliced per rank.

Uniform mixing is the proportional mixture with the random composer: batches walk through a
fresh permutation of the chosen examples every epoch, so pools appear in proportion to their
size and no example repeats inside an epoch. Global batch ``s`` depends only on
``(seed, s)``, so restoring at any step is O(1) and the global stream does not depend on the
number of ranks; rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of every global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from omnisched.errors import ConfigError


class ScheduledBatchSampler:
    """Yields, for ``steps`` steps, this rank's share of each global batch of indices."""

    def __init__(
        self,
        indices: Sequence[int],
        batch_size: int,
        steps: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not indices:
            raise ConfigError("the schedule selects no examples: check tasks and modalities")
        if batch_size % world_size:
            raise ConfigError(
                f"batch_size {batch_size} must be a multiple of the world size {world_size}"
            )
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size}")
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size
        self.steps = steps
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.step = 0
        self._epoch_order: tuple[int, np.ndarray] = (-1, self.indices)

    def _permutation(self, epoch: int) -> np.ndarray:
        """The order of epoch ``epoch``; the last one is kept, as batches walk epochs in turn."""
        if self._epoch_order[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch_order = (epoch, self.indices[rng.permutation(len(self.indices))])
        return self._epoch_order[1]

    def global_batch(self, step: int) -> list[int]:
        """The indices of global batch ``step`` across all ranks."""
        size = len(self.indices)
        start = step * self.batch_size
        batch: list[int] = []
        while len(batch) < self.batch_size:
            epoch, offset = divmod(start + len(batch), size)
            take = min(self.batch_size - len(batch), size - offset)
            batch.extend(self._permutation(epoch)[offset : offset + take].tolist())
        return batch

    def __iter__(self) -> Iterator[list[int]]:
        while self.step < self.steps:
            batch = self.global_batch(self.step)[self.rank :: self.world_size]
            self.step += 1
            yield batch

    def __len__(self) -> int:
        return self.steps - self.step

    def state_dict(self, step: int | None = None) -> dict[str, int]:
        """What resuming needs: the next step and the stream's identity.

        Data loaders draw batches ahead of training, so the trainer passes the number of
        batches it has consumed as ``step``; by default, the number this sampler has yielded.
        """
        step = self.step if step is None else step
        return {"step": step, "seed": self.seed, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continues at ``state['step']`` without replaying earlier batches."""
        if state["seed"] != self.seed or state["batch_size"] != self.batch_size:
            raise ConfigError(
                "sampler state was saved with another seed or batch size; "
                f"saved {state}, this run has seed {self.seed}, batch_size {self.batch_size}"
            )
        self.step = int(state["step"])
