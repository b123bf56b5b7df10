"""The random composer (``composer: random``, the default): each batch's pool counts drawn from
the phase's mixture (multinomial), then the next examples of each pool's own epoch
permutation (``schedule.cursor``). With adaptive mixing the task weights of the batch's step
replace the mixture's task shares; inside a task the pools keep their shares.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from omnisched.schedule.budget import BudgetCut
from omnisched.schedule.composers.batching import spread_copies
from omnisched.schedule.cursor import Cursor
from omnisched.schedule.phases import PhaseInput, register_composer
from omnisched.schedule.pools import PoolKey
from omnisched.seeding import derive_rng


class RandomComposer:
    """Pool counts of each batch drawn from the mixture, examples from per-pool epochs.

    With ``sort_window`` W (and ``durations``), every W batches are drawn together and their
    speech examples dealt out again by duration, each batch keeping its number of speech and of
    text examples: the window keeps its pool counts and every batch its modality share. To
    resume inside a window, the state is the cursors' as the window began; a window is drawn
    with the task weights of its first step."""

    def __init__(
        self,
        pools: dict[PoolKey, np.ndarray],
        weights: dict[PoolKey, float],
        seed: int,
        phase: int,
        durations: np.ndarray | None = None,
        sort_window: int = 0,
    ) -> None:
        self.keys = list(weights)
        self.probabilities = np.array([weights[key] for key in self.keys])
        self.probabilities /= self.probabilities.sum()
        tasks = np.array([key.task for key in self.keys])
        task_total = {t: self.probabilities[tasks == t].sum() for t in set(tasks)}
        # each pool's share of its task: what adaptive task weights are spread by
        self.within = self.probabilities / np.array([task_total[t] for t in tasks])
        self.task_weights: Callable[[int], dict[str, float]] | None = None
        self.cursors = {key: Cursor(pools[key], seed, phase, str(key), "pool") for key in self.keys}
        self.sizes = np.array([len(pools[key]) for key in self.keys])
        self.seed, self.phase = seed, phase
        self.durations = durations
        self.sort_window = sort_window if durations is not None else 0
        self._window: tuple[int, list[list[int]], dict] = (-1, [], {})
        self._served = -1  # the window slot composed last

    def _probabilities(self, step: int) -> np.ndarray:
        """Each pool's chance of a slot in the batch of ``step``."""
        if self.task_weights is None:
            return self.probabilities
        weights = self.task_weights(step)
        shares = np.array([weights[key.task] for key in self.keys]) * self.within
        return shares / shares.sum()

    def _draw(self, step: int, batch_size: int, probabilities: np.ndarray) -> list[int]:
        rng = derive_rng(self.seed, "batch", self.phase, step)
        counts = rng.multinomial(batch_size, probabilities)
        while (excess := np.maximum(counts - self.sizes, 0).sum()) > 0:  # a pool's all at most
            counts = np.minimum(counts, self.sizes)
            room = probabilities * (counts < self.sizes)
            counts += rng.multinomial(excess, room / room.sum())
        return [
            i for key, n in zip(self.keys, counts, strict=True) for i in self.cursors[key].take(n)
        ]

    def _recut(self, window: int, batches: list[list[int]]) -> list[list[int]]:
        """The window's speech examples, sorted by duration, dealt to its batches' speech
        slots in a random order of batches; text examples stay where they are."""
        timed = [[i for i in batch if self.durations[i] > 0] for batch in batches]
        flat = np.asarray([i for batch in timed for i in batch], dtype=np.int64)
        ordered = flat[np.argsort(self.durations[flat], kind="stable")].tolist()
        order = derive_rng(self.seed, "window", self.phase, window).permutation(len(batches))
        dealt: list[list[int]] = [[] for _ in batches]
        for b in order:
            dealt[b], ordered = ordered[: len(timed[b])], ordered[len(timed[b]) :]
        spread_copies([dealt[b] for b in order])
        return [
            [i for i in batch if self.durations[i] <= 0] + dealt[b]
            for b, batch in enumerate(batches)
        ]

    def compose(self, step: int, batch_size: int) -> list[int]:
        if not self.sort_window:
            return self._draw(step, batch_size, self._probabilities(step))
        window, slot = divmod(step, self.sort_window)
        if self._window[0] != window:
            start = self._cursor_state()
            first = window * self.sort_window
            probabilities = self._probabilities(first)
            batches = [
                self._draw(s, batch_size, probabilities)
                for s in range(first, first + self.sort_window)
            ]
            self._window = (window, self._recut(window, batches), start)
        self._served = slot
        return self._window[1][slot]

    def _cursor_state(self) -> dict:
        return {str(key): cursor.state_dict() for key, cursor in self.cursors.items()}

    def state_dict(self) -> dict:
        if self.sort_window and self._window[0] >= 0 and self._served < self.sort_window - 1:
            return copy.deepcopy(self._window[2])  # inside a window: the state it began with
        return self._cursor_state()

    def load_state_dict(self, state: dict) -> None:
        for key, cursor in self.cursors.items():
            cursor.load_state_dict(state[str(key)])
        self._window, self._served = (-1, [], {}), -1


@register_composer("random", adaptive=True)
def build(phase: PhaseInput) -> RandomComposer | BudgetCut:
    """With ``batching``, its batches cut to the budget (``BudgetCut``)."""
    spec = phase.spec
    if spec.batching is None:
        return RandomComposer(
            phase.pools, phase.shares, phase.seed, phase.index, phase.durations, spec.sort_window
        )
    inner = RandomComposer(phase.pools, phase.shares, phase.seed, phase.index)
    return BudgetCut(inner, spec.batching, phase.costs, spec.sort_window, phase.seed, phase.index)
