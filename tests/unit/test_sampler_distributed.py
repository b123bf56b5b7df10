"""Two real processes (torch.distributed, gloo on CPU): the union of the ranks' batches is the
single-process stream, for a stateless and a stateful composer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from omnisched.schedule.strategies import ADSSchedule, HybridSchedule, UniformSchedule
from schedule_helpers import PAPER1_POOLS, make_examples, sampler_for, stream

SCHEDULES = {
    "uniform": UniformSchedule(strategy="uniform"),
    "ads": ADSSchedule(strategy="ads"),
    "hybrid": HybridSchedule(strategy="hybrid", switch=0.4),
}


def _rank_main(rank: int, world: int, store: str, name: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    examples = make_examples(PAPER1_POOLS)
    sampler, _ = sampler_for(SCHEDULES[name], examples, 8, 40, 11, rank=rank, world_size=world)
    mine = stream(sampler)
    gathered: list = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        Path(out).write_text(json.dumps(gathered), encoding="utf-8")
    dist.destroy_process_group()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_two_gloo_processes_together_draw_the_single_process_stream(tmp_path, name):
    out = tmp_path / "gathered.txt"
    mp.spawn(_rank_main, args=(2, str(tmp_path / "store"), name, str(out)), nprocs=2, join=True)
    per_rank = json.loads(out.read_text(encoding="utf-8"))
    single = stream(sampler_for(SCHEDULES[name], make_examples(PAPER1_POOLS), 8, 40, 11)[0])
    assert len(per_rank[0]) == len(single) == 40
    for step, global_batch in enumerate(single):
        assert sorted(per_rank[0][step] + per_rank[1][step]) == sorted(global_batch)
        assert per_rank[0][step] == global_batch[0::2]
