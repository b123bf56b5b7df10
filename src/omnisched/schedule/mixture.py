"""Mixtures: how much of each batch, on average, comes from each pool.

Pools are grouped (by task, by modality, by ``modality/language``, ...); the mixture gives every
group a weight, and inside a group pools share its weight in proportion to their size. So
``kind: explicit, group_by: [modality], weights: {speech: 0.05, text: 0.95}`` means five percent
speech, spread over the speech pools as their sizes dictate.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omnisched.errors import ConfigError
from omnisched.schedule.pools import PoolKey

GroupField = Literal["task", "modality", "language"]


class Mixture(BaseModel):
    """Weights over groups of pools.

    ``proportional``: by size (every example equally likely); ``balanced``: every group equally;
    ``temperature``: size ** (1 / temperature), between the two; ``explicit``: ``weights`` by
    group name (``asr``, ``speech``, ``speech/ar`` for ``group_by: [modality, language]``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["proportional", "balanced", "temperature", "explicit"] = "proportional"
    group_by: list[GroupField] = Field(default_factory=lambda: ["task"], min_length=1)
    temperature: float = Field(2.0, gt=0)
    weights: dict[str, float] = Field(default_factory=dict)


def pool_weights(mixture: Mixture, sizes: dict[PoolKey, int]) -> dict[PoolKey, float]:
    """The probability that a batch slot comes from each pool (pools of weight 0 left out)."""
    groups: dict[str, list[PoolKey]] = defaultdict(list)
    for key in sizes:
        groups[key.group(mixture.group_by)].append(key)
    group_sizes = {name: sum(sizes[key] for key in keys) for name, keys in groups.items()}

    if mixture.kind == "explicit":
        unknown = sorted(set(mixture.weights) - set(groups))
        if unknown:
            raise ConfigError(
                f"mixture.weights: no pool group named {unknown}; groups by "
                f"{'/'.join(mixture.group_by)} here: {', '.join(sorted(groups))}"
            )
        if any(weight < 0 for weight in mixture.weights.values()):
            raise ConfigError("mixture.weights: weights must not be negative")
        group_weight = {name: mixture.weights.get(name, 0.0) for name in groups}
    elif mixture.kind == "proportional":
        group_weight = {name: float(size) for name, size in group_sizes.items()}
    elif mixture.kind == "balanced":
        group_weight = {name: 1.0 for name in groups}
    else:
        group_weight = {
            name: size ** (1 / mixture.temperature) for name, size in group_sizes.items()
        }

    total = sum(group_weight.values())
    if total <= 0:
        raise ConfigError("mixture: every group has weight 0; nothing can be sampled")
    weights = {}
    for name, keys in groups.items():
        for key in keys:
            share = group_weight[name] / total * sizes[key] / group_sizes[name]
            if share > 0:
                weights[key] = share
    return dict(sorted(weights.items()))
