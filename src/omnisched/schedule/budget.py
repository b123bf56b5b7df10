"""Batches by budget: as many examples as fit a budget of padded audio seconds and padded
sequence tokens, instead of a fixed count.

A batch pads every clip to its longest and every sequence to its longest, so its cost is
``len(batch) × longest duration`` seconds and ``len(batch) × longest sequence`` tokens; a
batch fits when both are within ``batching.max_seconds`` and ``batching.max_tokens`` (a limit
left out does not bind) and it holds at most ``train.batch_size`` examples.

``BudgetCut`` gives a count-based composer (shuffle, random) budget batches while keeping its
rules: it takes the composer's batches ``window`` at a time (``sort_window``, at least one),
sorts their examples by length when ``sort_window`` is set, and cuts them in that order into
batches that fit. Every example the composer draws is served once, so its epochs and pool
shares hold over the stream: sorted, in the window it was drawn in (the last, short batch of
a window shares examples with the one before); unsorted, in the stream's order (the last,
short batch of a window opens the next). ``split_by_load`` deals a global
batch to ranks by token load.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.seeding import derive_rng


class Budget(BaseModel):
    """The most a global batch may cost: padded audio seconds and padded sequence tokens."""

    model_config = ConfigDict(extra="forbid")

    max_seconds: float | None = Field(
        None, gt=0, description="batch size × longest clip, in seconds of audio"
    )
    max_tokens: int | None = Field(
        None, gt=0, description="batch size × longest sequence (prompt, audio tokens, answer)"
    )

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.max_seconds is None and self.max_tokens is None:
            raise ValueError("batching needs max_seconds, max_tokens or both")
        return self


@dataclass(frozen=True)
class Costs:
    """What each example adds to a batch's padded cost: seconds of audio (0 for text) and
    sequence tokens (None when no token budget is set)."""

    seconds: np.ndarray
    tokens: np.ndarray | None

    def length(self, indices) -> np.ndarray:
        """The key batches are sorted by: tokens when known, else seconds."""
        return (self.tokens if self.tokens is not None else self.seconds)[indices]

    def load(self, indices) -> np.ndarray:
        """What an example weighs on the rank that trains it (tokens, else seconds, else 1)."""
        if self.tokens is not None:
            return self.tokens[indices].astype(np.float64)
        seconds = self.seconds[indices]
        return np.where(seconds > 0, seconds, 1.0)


def within(budget: Budget, count: int, seconds: float, tokens: float, cap: int) -> bool:
    """Whether ``count`` examples padded to ``seconds`` and ``tokens`` stay within ``budget``
    (and ``cap``)."""
    return (
        count <= cap
        and (budget.max_seconds is None or count * seconds <= budget.max_seconds)
        and (budget.max_tokens is None or count * tokens <= budget.max_tokens)
    )


def capacity(budget: Budget, seconds: float, tokens: float, cap: int) -> int:
    """How many examples padded to ``seconds`` and ``tokens`` the budget holds (1 to ``cap``)."""
    count = cap
    if budget.max_seconds is not None and seconds > 0:
        count = min(count, int(budget.max_seconds / seconds))
    if budget.max_tokens is not None and tokens > 0:
        count = min(count, int(budget.max_tokens / tokens))
    return max(1, count)


def _longest(costs: Costs, indices) -> tuple[float, float]:
    """The longest clip (seconds) and sequence (tokens, 0 unknown) among ``indices``."""
    tokens = 0 if costs.tokens is None else int(costs.tokens[indices].max())
    return float(costs.seconds[indices].max()), tokens


def fits(budget: Budget, costs: Costs, batch: list[int], cap: int) -> bool:
    """Whether ``batch`` (at most ``cap`` examples) stays within ``budget``."""
    return not batch or within(budget, len(batch), *_longest(costs, batch), cap)


def sure_fit(budget: Budget, costs: Costs, members: np.ndarray, cap: int) -> int:
    """How many examples any batch of ``members`` may hold and still fit: the budget over
    the longest of them (at most ``cap``)."""
    return capacity(budget, *_longest(costs, members), cap)


def check_budget(
    budget: Budget, costs: Costs, members: np.ndarray, examples: Sequence[Example], phase: str
) -> None:
    """Raises a ConfigError naming the longest of ``members`` (indices into ``examples``) if
    it alone exceeds the budget (no batch could hold it), or when a token budget has no token
    counts."""
    if budget.max_tokens is not None and costs.tokens is None:
        raise ConfigError(
            f"phase '{phase}': batching.max_tokens needs the examples' sequence lengths, "
            "which come from the model's tokenizer (build_schedule computes them)"
        )
    checks = [("max_seconds", costs.seconds, budget.max_seconds, "s of audio")]
    checks.append(("max_tokens", costs.tokens, budget.max_tokens, "tokens"))
    for name, values, limit, unit in checks:
        if limit is None:
            continue
        worst = int(members[np.argmax(values[members])])
        if values[worst] > limit:
            raise ConfigError(
                f"phase '{phase}': example '{examples[worst].id}' alone takes {values[worst]:g} "
                f"{unit}, more than batching.{name} ({limit:g}); raise the budget or leave the "
                "example out"
            )


def split_by_load(batch: list[int], loads: np.ndarray, world_size: int) -> list[list[int]]:
    """``batch`` dealt to ``world_size`` ranks with near-equal load: heaviest first, each to
    the rank with the least load so far (then the fewest examples, then the lowest rank).
    Every rank keeps its examples in batch order; the ranks' union is the batch."""
    if len(batch) < world_size:
        raise ConfigError(
            f"a budget batch of {len(batch)} example(s) cannot give each of {world_size} "
            "processes one; raise batching's limits"
        )
    order = sorted(range(len(batch)), key=lambda k: (-loads[k], k))
    totals, counts = [0.0] * world_size, [0] * world_size
    owner = [0] * len(batch)
    for k in order:
        rank = min(range(world_size), key=lambda r: (totals[r], counts[r], r))
        owner[k] = rank
        totals[rank] += float(loads[k])
        counts[rank] += 1
    return [[batch[k] for k in range(len(batch)) if owner[k] == r] for r in range(world_size)]


class BudgetCut:
    """Budget batches from a count-based composer's batches (see the module docstring).

    ``inner`` composes nominal batches of ``batch_size`` examples (the cap), numbered on
    their own; a window is ``window`` of them (unsorted, after what the previous window
    left). With ``sort`` the window is ordered by length and its batches are served in a
    random order (seeded by the window), so long and short batches alternate; copies of an
    example (a window spanning two epochs) go to different batches, which can leave a short
    batch where a window holds more than a pool. With adaptive mixing (``task_weights``) a
    window is drawn with the weights of the step it opens at. The state is the inner
    composer's as the window began, the examples carried into it, the step it opened at and
    how many of its batches were served."""

    def __init__(
        self,
        inner,
        budget: Budget,
        costs: Costs,
        sort_window: int,
        seed: int,
        phase: int,
    ) -> None:
        self.inner, self.budget, self.costs = inner, budget, costs
        self.cap, self.window, self.sort = 0, max(1, sort_window), sort_window > 0
        self.seed, self.phase = seed, phase
        self.task_weights = None
        self._start = {
            "inner": inner.state_dict(),
            "carried": [],
            "window": 0,
            "step": 0,
            "served": 0,
        }
        self._batches: list[list[int]] | None = None
        self._left: list[int] = []

    def _draw_window(self) -> None:
        """The window's batches, from the state it began with."""
        start = self._start
        if self.task_weights is not None:
            weights = self.task_weights(start["step"])
            self.inner.task_weights = lambda _: weights
        first = start["window"] * self.window
        members = list(start["carried"])
        members += [
            i for s in range(first, first + self.window) for i in self.inner.compose(s, self.cap)
        ]
        if self.sort:
            keys = self.costs.length(members)
            members = [members[k] for k in np.argsort(keys, kind="stable")]
        batches = self._cut(members)
        if self.sort:
            order = derive_rng(self.seed, "budget-window", self.phase, start["window"])
            batches = [batches[k] for k in order.permutation(len(batches))]
            self._left = []
        else:  # the stream's order: the last, short batch opens the next window
            self._left = batches.pop()
        self._batches = batches

    def _cut(self, members: list[int]) -> list[list[int]]:
        """``members`` in order, cut into batches that fit; a copy of an example already in
        the batch waits for the next one. Sorted, the last batch, short, takes examples from
        the end of the one before while it fits and is the smaller of the two."""
        seconds, tokens = self.costs.seconds, self.costs.tokens
        batches: list[list[int]] = []
        current: list[int] = []
        held: list[int] = []
        longest = (0.0, 0)  # the current batch's longest clip and sequence
        queue = deque(members)
        while queue:
            example = queue.popleft()
            grown = (
                max(longest[0], float(seconds[example])),
                max(longest[1], 0 if tokens is None else int(tokens[example])),
            )
            if example in current:  # its copy from another epoch: a later batch takes it
                held.append(example)
            elif within(self.budget, len(current) + 1, *grown, self.cap):
                current.append(example)
                longest = grown
            else:
                batches.append(current)
                queue.extendleft(reversed([*held, example]))
                current, held, longest = [], [], (0.0, 0)
            if not queue and held:
                batches.append(current)
                queue.extend(held)
                current, held, longest = [], [], (0.0, 0)
        batches.append(current)
        if self.sort and len(batches) > 1:
            before, last = batches[-2], batches[-1]
            for k in reversed(range(len(before))):
                if len(last) + 1 >= len(before):
                    break
                if before[k] not in last and fits(
                    self.budget, self.costs, [*last, before[k]], self.cap
                ):
                    last.append(before.pop(k))
        return batches

    def compose(self, step: int, batch_size: int) -> list[int]:
        self.cap = batch_size
        while True:
            if self._batches is None:
                self.inner.load_state_dict(copy.deepcopy(self._start["inner"]))
                self._draw_window()
            if self._start["served"] < len(self._batches):
                batch = self._batches[self._start["served"]]
                self._start["served"] += 1
                return batch
            self._start = {
                "inner": self.inner.state_dict(),
                "carried": self._left,
                "window": self._start["window"] + 1,
                "step": step,
                "served": 0,
            }
            self._batches = None

    def state_dict(self) -> dict:
        return copy.deepcopy(self._start)

    def load_state_dict(self, state: dict) -> None:
        self._start = copy.deepcopy(state)
        self._batches = None
