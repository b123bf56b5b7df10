"""Sampler throughput, peak memory and restore time: ours beside PyTorch, datasets and lhotse.

For every pool size, each sampler runs in a fresh single-threaded process on the same synthetic
pool: four tasks of equal size (asr, ssum, dialect, emotion; dialect and emotion labelled),
durations drawn per task from a gamma distribution, and ADS aligner embeddings of width 256 as
our cache stores them: float16, clustered (64 centres, noise of a third of their spread).

- batches/s: CPU seconds (``time.process_time``) of a fixed number of batches of 64 after a
  warm-up, so a busy machine slows the figure less than wall time would;
- setup: CPU seconds to build the sampler (plans, k-means pseudo-labels, Arrow indices, lhotse's
  duration bins);
- peak memory: the resident set's high-water mark (Linux ``VmHWM``, reset before the sampler is
  built) above the resident set once the inputs exist (examples, durations, embeddings);
  ``tracemalloc`` where ``/proc`` is missing (it does not see torch or Arrow buffers);
- restore: CPU time of ``load_state_dict`` plus the first batch after it, at step 1,000,000.
  Ours replays nothing, so the state is the real one after the measured batches with its step
  counter moved to 1,000,000. lhotse's ``DynamicBucketingSampler`` replays every batch of the
  epoch on restore, and a weighted mux of repeated pools is one endless epoch; its restore is
  measured at ``--lhotse-restore-steps`` and projected linearly to 1,000,000.

Targets (issue 6): ADS ≤ 1 ms per batch at 1M on one core; peak memory ≤ 1.5× the embedding
matrix (the matrix plus what the sampler adds); restore ≤ 50 ms.

    python benchmarks/sampler.py [--sizes 10000 100000 1000000] [--batches 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

TASKS = ["asr", "ssum", "dialect", "emotion"]
MEAN_DURATION = {"asr": 3.2, "ssum": 5.3, "dialect": 2.7, "emotion": 3.6}  # the embedded corpus
WIDTH, BATCH, CENTRES = 256, 64, 64
RESTORE_STEP = 1_000_000
OURS = ["uniform", "tpc", "ads", "ads-w8", "hybrid"]
PEERS = ["torch", "datasets", "lhotse"]
WARMUP = 10


def synthetic_pool(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Task ids (equal shares, interleaved) and durations: gamma(shape 6) around each task's
    mean duration in the embedded corpus."""
    rng = np.random.default_rng(seed)
    tasks = np.arange(size) % len(TASKS)
    means = np.array([MEAN_DURATION[t] for t in TASKS])[tasks]
    durations = rng.gamma(6.0, means / 6.0) + 0.3
    return tasks, durations


def synthetic_embeddings(size: int, seed: int = 0) -> np.ndarray:
    """Clustered float16 rows, built in chunks so no float32 copy of the matrix exists."""
    rng = np.random.default_rng(seed + 1)
    centres = rng.standard_normal((CENTRES, WIDTH), dtype=np.float32)
    matrix = np.empty((size, WIDTH), dtype=np.float16)
    for start in range(0, size, 100_000):
        count = min(100_000, size - start)
        noise = rng.standard_normal((count, WIDTH), dtype=np.float32) / 3
        matrix[start : start + count] = centres[rng.integers(0, CENTRES, count)] + noise
    return matrix


class PeakMemory:
    """Peak resident memory above a baseline, reset at ``start``."""

    def __init__(self) -> None:
        self.proc = Path("/proc/self/clear_refs").exists()
        self.method = "RSS high-water mark" if self.proc else "tracemalloc"

    @staticmethod
    def _status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"/proc/self/status has no {field}")

    def start(self) -> None:
        if self.proc:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.base = self._status("VmRSS")
        else:
            tracemalloc.start()

    def peak(self) -> int:
        if self.proc:
            return self._status("VmHWM") - self.base
        return tracemalloc.get_traced_memory()[1]


def _examples(tasks: np.ndarray, durations: np.ndarray) -> list:
    from omnisched.data.example import Example
    from omnisched.tasks import TASKS as REGISTRY

    rows = []
    for i, (task_id, duration) in enumerate(zip(tasks.tolist(), durations.tolist(), strict=True)):
        task = TASKS[task_id]
        labels = REGISTRY[task].labels
        rows.append(
            Example.model_construct(
                id=f"{task}-{i}",
                task=task,
                modality="speech",
                language="ar",
                audio=f"{task}/{i}.flac",
                duration_s=duration,
                input_text=None,
                target="t",
                label=labels[(i // len(TASKS)) % len(labels)] if labels else None,
                meta={},
            )
        )
    return rows


def _time_batches(stream: Iterator, batches: int) -> float:
    """CPU seconds for ``batches`` batches of ``stream``, after WARMUP untimed ones."""
    for _ in range(WARMUP):
        next(stream)
    started = time.process_time()
    for _ in range(batches):
        next(stream)
    return time.process_time() - started


def _ours(name: str, size: int, batches: int, memory: PeakMemory) -> dict:
    import sklearn.cluster  # noqa: F401  (imported before the memory baseline)

    from omnisched.schedule.phases import DiversitySettings
    from omnisched.schedule.plan import build_plan
    from omnisched.schedule.sampler import ScheduledBatchSampler
    from omnisched.schedule.strategies import (
        ADSSchedule,
        HybridSchedule,
        TPCSchedule,
        UniformSchedule,
    )

    schedule = {
        "uniform": UniformSchedule(strategy="uniform"),
        "tpc": TPCSchedule(strategy="tpc"),
        "ads": ADSSchedule(strategy="ads"),
        "ads-w8": ADSSchedule(strategy="ads", diversity=DiversitySettings(window=8)),
        "hybrid": HybridSchedule(strategy="hybrid", switch=0.5),
    }[name]
    tasks, durations = synthetic_pool(size)
    examples = _examples(tasks, durations)
    embeddings = synthetic_embeddings(size) if schedule.uses_embeddings else None
    steps = WARMUP + batches

    def build() -> ScheduledBatchSampler:
        plan = build_plan(schedule.phases(), examples, BATCH, steps, 0, embeddings)
        return ScheduledBatchSampler(plan, seed=0)

    memory.start()
    started = time.process_time()
    sampler = build()
    setup = time.process_time() - started
    elapsed = _time_batches(iter(sampler), batches)
    peak = memory.peak()

    state = json.loads(json.dumps(sampler.state_dict()))
    state["step"] = RESTORE_STEP
    restored = build()
    restored.steps = RESTORE_STEP + 1
    started = time.process_time()
    restored.load_state_dict(state)
    next(iter(restored))
    restore = time.process_time() - started
    return {"setup": setup, "elapsed": elapsed, "peak": peak, "restore_ms": restore * 1000}


def _torch(size: int, batches: int, memory: PeakMemory) -> dict:
    import torch
    from torch.utils.data import BatchSampler, RandomSampler

    memory.start()
    started = time.process_time()
    generator = torch.Generator().manual_seed(0)
    sampler = BatchSampler(RandomSampler(range(size), generator=generator), BATCH, drop_last=True)
    stream = itertools.chain.from_iterable(itertools.repeat(sampler))  # epoch after epoch
    setup = time.process_time() - started
    return {"setup": setup, "elapsed": _time_batches(stream, batches), "peak": memory.peak()}


def _datasets(size: int, batches: int, memory: PeakMemory) -> dict:
    from datasets import Dataset, disable_progress_bars, interleave_datasets

    disable_progress_bars()
    tasks, durations = synthetic_pool(size)
    pools = [
        Dataset.from_dict({"index": np.flatnonzero(tasks == t), "duration": durations[tasks == t]})
        for t in range(len(TASKS))
    ]
    memory.start()
    started = time.process_time()
    shuffled = [pool.shuffle(seed=t) for t, pool in enumerate(pools)]
    mixed = interleave_datasets(
        shuffled, probabilities=[0.25] * 4, seed=0, stopping_strategy="all_exhausted"
    )
    epochs = itertools.repeat(mixed)
    stream = itertools.chain.from_iterable(m.iter(batch_size=BATCH) for m in epochs)
    setup = time.process_time() - started
    return {"setup": setup, "elapsed": _time_batches(stream, batches), "peak": memory.peak()}


class _LazyPool:
    """One task's cuts, made on the fly (a lazy manifest without file reading)."""

    def __init__(self, name: str, durations: np.ndarray) -> None:
        self.name, self.durations = name, durations

    def __iter__(self):
        from lhotse import MonoCut

        for i, duration in enumerate(self.durations.tolist()):
            yield MonoCut(id=f"{self.name}-{i}", start=0.0, duration=duration, channel=0)

    def __len__(self) -> int:
        return len(self.durations)


def _lhotse(size: int, batches: int, memory: PeakMemory, restore_steps: int) -> dict:
    from lhotse import CutSet
    from lhotse.dataset import DynamicBucketingSampler

    tasks, durations = synthetic_pool(size)
    pools = [_LazyPool(TASKS[t], durations[tasks == t]) for t in range(len(TASKS))]

    def build() -> DynamicBucketingSampler:
        repeated = [CutSet(pool).repeat(preserve_id=True) for pool in pools]
        mixed = CutSet.mux(*repeated, weights=[len(pool) for pool in pools], seed=0)
        return DynamicBucketingSampler(mixed, max_cuts=BATCH, shuffle=True, seed=0)

    memory.start()
    started = time.process_time()
    sampler = build()
    stream = iter(sampler)
    setup = time.process_time() - started
    elapsed = _time_batches(stream, batches)
    peak = memory.peak()

    sampler = build()
    stream = iter(sampler)
    for _ in range(restore_steps):
        next(stream)
    state = sampler.state_dict()
    restored = build()
    started = time.process_time()
    restored.load_state_dict(state)
    next(iter(restored))
    restore = time.process_time() - started
    return {
        "setup": setup,
        "elapsed": elapsed,
        "peak": peak,
        "restore_ms": restore * 1000 * RESTORE_STEP / restore_steps,
        "restore_measured_ms": restore * 1000,
    }


def child(name: str, size: int, batches: int, restore_steps: int) -> dict:
    """One sampler at one pool size, in this (fresh, single-threaded) process."""
    import torch

    torch.set_num_threads(1)
    np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)  # BLAS buffers before baseline
    memory = PeakMemory()
    if name in OURS:
        figures = _ours(name, size, batches, memory)
    elif name == "torch":
        figures = _torch(size, batches, memory)
    elif name == "datasets":
        figures = _datasets(size, batches, memory)
    else:
        figures = _lhotse(size, batches, memory, restore_steps)
    return figures | {"memory": memory.method}


def _run_child(name: str, size: int, args: argparse.Namespace) -> dict:
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    command = [sys.executable, __file__, "--child", name, "--sizes", str(size)]
    command += ["--batches", str(args.batches)]
    command += ["--lhotse-restore-steps", str(args.lhotse_restore_steps)]
    done = subprocess.run(
        command, env=os.environ | threads, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{name} at {size}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batches", type=int, default=300, help="measured batches per sampler")
    parser.add_argument("--samplers", nargs="+", default=OURS + PEERS, choices=OURS + PEERS)
    parser.add_argument(
        "--lhotse-restore-steps",
        type=int,
        default=1000,
        help="step at which lhotse's restore is measured (projected to 1,000,000)",
    )
    parser.add_argument("--child", choices=OURS + PEERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(args.child, args.sizes[0], args.batches, args.lhotse_restore_steps)
        print(json.dumps(figures))
        return

    table, verdicts = [], []
    for size in args.sizes:
        matrix = size * WIDTH * 2
        for name in args.samplers:
            figures = _run_child(name, size, args)
            per_batch = figures["elapsed"] / args.batches * 1000
            embedded = name in ("ads", "ads-w8", "hybrid")
            with_matrix = (matrix + figures["peak"]) / matrix if embedded else None
            restore = figures.get("restore_ms")
            label = {
                "torch": "PyTorch RandomSampler + BatchSampler",
                "datasets": "datasets.interleave_datasets",
                "lhotse": "lhotse CutSet.mux + DynamicBucketingSampler",
                "ads-w8": "omnisched ads, window 8",
            }.get(name, f"omnisched {name}")
            row = {
                "pool": f"{size:,}",
                "sampler": label,
                "setup s": f"{figures['setup']:.2f}",
                "batches/s": f"{1000 / per_batch:,.0f}",
                "ms/batch": f"{per_batch:.3f}",
                "peak MB above inputs": f"{figures['peak'] / 2**20:,.1f}",
                "(matrix + peak) / matrix": f"{with_matrix:.2f}" if with_matrix else "—",
                "restore at 1M, ms": "—" if restore is None else f"{restore:,.1f}",
            }
            if name == "lhotse":
                row["restore at 1M, ms"] = (
                    f"{restore:,.0f} (projected from {figures['restore_measured_ms']:,.0f} ms "
                    f"at step {args.lhotse_restore_steps:,})"
                )
            table.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if name.startswith("ads") and size == max(args.sizes):
                verdicts.append(
                    f"{label} at {size:,}: {per_batch:.2f} ms per batch (target ≤ 1 ms: "
                    f"{'met' if per_batch <= 1 else 'missed'})"
                )
            if with_matrix is not None and size == max(args.sizes):
                verdicts.append(
                    f"{name} at {size:,}: (matrix + peak) / matrix = {with_matrix:.2f} "
                    f"(target ≤ 1.5: {'met' if with_matrix <= 1.5 else 'missed'})"
                )
            if name in OURS and size == max(args.sizes):
                verdicts.append(
                    f"{name} restore at step 1,000,000: {restore:.1f} ms (target ≤ 50 ms: "
                    f"{'met' if restore <= 50 else 'missed'})"
                )
    memory = table and figures["memory"]
    notes = [
        f"batch {BATCH}, embedding width {WIDTH} (float16), {args.batches} measured batches "
        f"after {WARMUP} warm-up ones, one thread per sampler process; CPU time",
        f"peak memory: {memory} above the inputs; embedding matrix = pool × {WIDTH} × 2 bytes",
        f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
        *verdicts,
    ]
    print(append("Sampler throughput, memory and restore", table, notes))


if __name__ == "__main__":
    main()
