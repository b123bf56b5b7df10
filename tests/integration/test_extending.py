"""How to add a composer (and a strategy): register it in your own module, name it in a recipe,
and ``omnisched.train.loop.train`` trains on it. Nothing in the package changes.

The composer here, ``round_robin``, deals the phase's pools out in turn, one example of each,
every pool in its own fixed order: simple enough to check every batch training draws."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from omnisched.config import recipe_from_mapping
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError
from omnisched.schedule.phases import PhaseInput, PhaseSpec, register_composer
from omnisched.schedule.pools import PoolKey
from omnisched.schedule.strategies import Strategy, register_strategy
from omnisched.train.loop import train
from omnisched.train.metrics_log import read_metrics
from omnisched.train.schedule import build_schedule
from schedule_helpers import make_examples

TASKS = ["asr", "dialect"]


class RoundRobin:
    """The pools' examples interleaved (first of each pool, second of each, ...); batch ``s``
    is positions ``s·B .. s·B + B - 1`` of that order, repeated. Stateless, like ``shuffle``."""

    def __init__(self, pools: list[np.ndarray]) -> None:
        dealt = zip_longest(*(pool.tolist() for pool in pools))
        self.order = [index for turn in dealt for index in turn if index is not None]

    def compose(self, step: int, batch_size: int) -> list[int]:
        start = step * batch_size
        return [self.order[(start + k) % len(self.order)] for k in range(batch_size)]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def equal_shares(spec: PhaseSpec, sizes: dict[PoolKey, int]) -> dict[PoolKey, float]:
    """What the plan reports (and counts epochs by): every pool an equal share."""
    return {key: 1 / len(sizes) for key in sizes}


@register_composer("round_robin", shares=equal_shares)
def build_round_robin(phase: PhaseInput) -> RoundRobin:
    return RoundRobin(list(phase.pools.values()))


@register_strategy
class RoundRobinSchedule(Strategy):
    """One phase of ``round_robin`` over the schedule's tasks."""

    strategy: Literal["round_robin"]

    def phases(self) -> list[PhaseSpec]:
        return [self._phase("dealt", composer="round_robin")]


def _recipe(corpus: Path, foundation: Path, tmp_path: Path, schedule: dict):
    return recipe_from_mapping(
        {
            "name": "extending",
            "corpus": str(corpus),
            "model": {"path": str(foundation)},
            "cache": str(tmp_path / "cache"),
            "schedule": schedule,
            "train": {
                "steps": 4,
                "batch_size": 4,
                "warmup_steps": 1,
                "checkpoint_every": 2,
                "log_every": 1,
                "num_workers": 0,
                "log_batches": True,
            },
        },
        "test_extending",
    )


def test_a_composer_defined_here_trains_a_recipe_end_to_end(
    small_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    # text rows: the frozen audio tower is slow on CPU, and the composer ignores the modality
    plan = [{"name": "dealt", "tasks": TASKS, "modalities": ["text"], "composer": "round_robin"}]
    schedule = {"strategy": "phases", "tasks": TASKS, "modalities": ["text"], "plan": plan}
    recipe = _recipe(small_corpus, micro_foundation, tmp_path, schedule)
    run = tmp_path / "run"
    final = train(recipe, run)

    log = read_metrics(run / "metrics.jsonl")
    (phase,) = next(r for r in log if r.get("event") == "plan")["phases"]
    assert phase["composer"] == "round_robin"
    assert set(phase["shares"].values()) == {0.5}  # the composer's own shares
    assert [r["step"] for r in log if "event" not in r] == [1, 2, 3, 4]
    assert (final / "adapter_model.safetensors").is_file()

    # training drew exactly the composer's batches: the two tasks' pools dealt out in turn
    drawn = build_schedule(recipe, load_split(small_corpus, "train"))
    examples = drawn.examples
    expected = [[examples[i].id for i in batch] for batch in drawn.sampler]
    assert [r["ids"] for r in read_metrics(run / "batches.jsonl")] == expected
    assert [examples[i].task for i in drawn.sampler.drawn_batch(0)] == TASKS * 2


def test_a_strategy_defined_here_is_read_from_a_recipe_and_plans_its_composer(tmp_path: Path):
    schedule = {"strategy": "round_robin", "tasks": TASKS}
    recipe = _recipe(tmp_path, tmp_path, tmp_path, schedule)
    assert isinstance(recipe.schedule, RoundRobinSchedule)
    assert recipe.model_dump(mode="json")["schedule"] == recipe.schedule.model_dump(mode="json")
    examples = make_examples({(task, "speech", "ar"): 6 for task in TASKS})
    drawn = build_schedule(recipe, examples)
    assert [phase.spec.composer for phase in drawn.plan.phases] == ["round_robin"]
    assert [examples[i].task for i in drawn.sampler.next_global_batch()] == TASKS * 2


def test_an_unknown_composer_is_refused_naming_the_registered_ones(tmp_path: Path):
    plan = [{"name": "p", "tasks": TASKS, "composer": "round_robbin"}]
    with pytest.raises(ConfigError, match=r"unknown composer 'round_robbin'.*round_robin"):
        _recipe(tmp_path, tmp_path, tmp_path, {"strategy": "phases", "tasks": TASKS, "plan": plan})
