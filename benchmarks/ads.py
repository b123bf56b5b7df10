"""ADS: what the strata and the picks each add, ms per batch beside a busy trainer, and padding
over a run with sort_window.

Three measurements, each appended to RESULTS.md as its own section:

1. Ablation. Synthetic aligner embeddings of width 256 (float16, as the cache stores them):
   12 clusters, one holding 70 % of the rows, each made of 8 sub-clusters; four tasks of equal
   size without labels, so ADS's strata are k-means clusters (8 per task, as in plans). Rows:
   balanced random batches (each task a quarter, examples at random), strata alone (window 1:
   no choice), picks alone (one stratum per task, window 32), both (the default) and both with
   window 128. Per batch, averaged: the mean pairwise cosine distance, each example's cosine
   distance to its nearest batch-mate, and the clusters and sub-clusters present. Every
   example is drawn once per epoch of its stratum whatever the picks, so over an epoch the
   picks cannot change what a batch is made of, only which examples share one; "most the picks
   can add" is that bound for the mean pairwise distance: the variance of a batch's sum of
   unit rows under random picks inside each stratum, Σ c_s (1 − |μ_s|²), over n(n − 1).
2. Threads. ms per batch at a pool of ``--pool`` (default 1,000,000; batch 64, width 256, the
   sampler benchmark's synthetic pool) in fresh processes: one BLAS/OpenMP thread against the
   defaults, on an idle machine and beside ``--busy`` busy-loop processes. Wall time per batch
   (what the trainer waits for) and CPU time; the load average next to each.
3. Padding. ADS with sort_window 64 on the sampler benchmark's synthetic pool (gamma durations
   per task): the padded share of the log-mel frames (10 ms hop) per 100 steps, and the size
   of the composer's state (JSON characters) at the end.

``--label`` names the code measured in the titles (e.g. to measure an older checkout through
PYTHONPATH).

    python benchmarks/ads.py [--parts ablation threads padding] [--pool 1000000] [--busy 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    from results import append
    from sampler import _examples, synthetic_embeddings, synthetic_pool
except ImportError:  # run as a module
    from benchmarks.results import append
    from benchmarks.sampler import _examples, synthetic_embeddings, synthetic_pool

WIDTH, BATCH = 256, 64
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
HOP_S = 0.01


def clustered(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float16 rows in 12 clusters (one holding 70 %), each of 8 sub-clusters; with the
    cluster and sub-cluster of every row."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, WIDTH))
    subs = centres[:, None] + 0.5 * rng.standard_normal((12, 8, WIDTH))
    shares = np.full(12, 0.3 / 11)
    shares[0] = 0.7
    cluster = rng.choice(12, size=size, p=shares)
    sub = rng.integers(0, 8, size)
    rows = subs[cluster, sub] + 0.25 * rng.standard_normal((size, WIDTH))
    return rows.astype(np.float16), cluster, sub


def _unit(matrix: np.ndarray) -> np.ndarray:
    rows = matrix.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def diversity(batches: list[list[int]], unit: np.ndarray, cluster, sub) -> dict[str, float]:
    """Per-batch means: pairwise and nearest batch-mate cosine distance, clusters present."""
    pairwise, nearest, clusters, subs = [], [], [], []
    for batch in batches:
        gaps = 1 - unit[batch] @ unit[batch].T
        pairwise.append(gaps[np.triu_indices(len(batch), 1)].mean())
        np.fill_diagonal(gaps, np.inf)
        nearest.append(gaps.min(axis=1).mean())
        clusters.append(len(set(cluster[batch].tolist())))
        subs.append(len(set((cluster[batch] * 8 + sub[batch]).tolist())))
    return {
        "pairwise": float(np.mean(pairwise)),
        "nearest": float(np.mean(nearest)),
        "clusters": float(np.mean(clusters)),
        "subs": float(np.mean(subs)),
    }


def pick_bound(strata, unit: np.ndarray) -> float:
    """The most any choice inside the strata could add to a batch's mean pairwise distance."""
    slots = BATCH / len(strata)
    spread = sum(slots * (1 - float(np.sum(unit[s.indices].mean(axis=0) ** 2))) for s in strata)
    return spread / (BATCH * (BATCH - 1))


def ablation(args: argparse.Namespace, label: str) -> str:
    from omnisched.schedule.composers.ads import DiverseComposer, Stratum, _pseudo_labels

    size = 4 * args.per_task
    embeddings, cluster, sub = clustered(size)
    unit = _unit(embeddings)
    tasks = np.arange(size) % 4
    by_task = [np.flatnonzero(tasks == t) for t in range(4)]
    one = [Stratum(f"t{t}", "all", indices) for t, indices in enumerate(by_task)]
    kmeans = []
    for t, indices in enumerate(by_task):
        labels = _pseudo_labels(embeddings, indices, 8, 0)
        kmeans += [Stratum(f"t{t}", c, indices[labels == c]) for c in sorted(set(labels))]

    rng = np.random.default_rng(0)
    quarter = BATCH // 4
    random = [
        [int(i) for pool in by_task for i in rng.choice(pool, quarter, replace=False)]
        for _ in range(args.steps)
    ]
    configs = {
        "balanced random batches": None,
        "strata alone (k-means strata, window 1)": (kmeans, 1),
        "picks alone (one stratum per task, window 32)": (one, 32),
        "both (k-means strata, window 32: the default)": (kmeans, 32),
        "both, window 128": (kmeans, 128),
    }
    figures, table = {}, []
    for name, config in configs.items():
        if config is None:
            batches = random
        else:
            composer = DiverseComposer(config[0], embeddings, config[1], 0, 0)
            batches = [composer.compose(step, BATCH) for step in range(args.steps)]
        figures[name] = diversity(batches, unit, cluster, sub)
    base = figures["balanced random batches"]
    for name, config in configs.items():
        f = figures[name]
        bound = "—" if config is None else f"{pick_bound(config[0], unit) / f['pairwise']:.2%}"
        table.append(
            {
                "batches": name,
                "mean pairwise distance": f"{f['pairwise']:.4f}",
                "÷ random": f"{f['pairwise'] / base['pairwise']:.3f}",
                "nearest batch-mate distance": f"{f['nearest']:.4f}",
                "÷ random ": f"{f['nearest'] / base['nearest']:.3f}",
                "clusters / batch": f"{f['clusters']:.2f}",
                "sub-clusters / batch": f"{f['subs']:.1f}",
                "most the picks can add to the pairwise distance": bound,
            }
        )
    strata_alone = figures["strata alone (k-means strata, window 1)"]
    both = figures["both (k-means strata, window 32: the default)"]
    notes = [
        f"{size:,} rows of width {WIDTH} (float16): 12 clusters (one with 70 % of the rows) of 8 "
        f"sub-clusters each; 4 tasks of {args.per_task:,} without labels; batch {BATCH}, "
        f"{args.steps} steps ({args.steps * BATCH / size:.1f} passes over the pool)",
        f"picks (window 32) over strata alone: mean pairwise distance × "
        f"{both['pairwise'] / strata_alone['pairwise']:.3f}, nearest batch-mate distance × "
        f"{both['nearest'] / strata_alone['nearest']:.3f}",
        "the last column bounds what any picks could add to the mean pairwise distance, as a "
        "share of it: within a stratum's epoch the picks choose which examples share a batch, "
        "not which examples are drawn",
    ]
    return append(f"ADS ablation: strata and picks{label}", table, notes)


def _child(args: argparse.Namespace) -> dict:
    """ms per batch of ADS at ``--pool``, in this process (its thread settings as given)."""
    from omnisched.schedule.plan import build_plan
    from omnisched.schedule.sampler import ScheduledBatchSampler
    from omnisched.schedule.strategies import ADSSchedule

    tasks, durations = synthetic_pool(args.pool)
    examples = _examples(tasks, durations)
    embeddings = synthetic_embeddings(args.pool)
    schedule = ADSSchedule(strategy="ads")
    plan = build_plan(schedule.phases(), examples, BATCH, 10**9, 0, embeddings)
    stream = iter(ScheduledBatchSampler(plan, seed=0))
    for _ in range(10):
        next(stream)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.batches):
        next(stream)
    return {
        "wall_ms": (time.perf_counter() - wall) / args.batches * 1000,
        "cpu_ms": (time.process_time() - cpu) / args.batches * 1000,
        "load": os.getloadavg()[0],
    }


def _measure(args: argparse.Namespace, threads: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    if threads is not None:
        env |= dict.fromkeys(THREAD_VARIABLES, threads)
    command = [sys.executable, __file__, "--child", "--pool", str(args.pool)]
    command += ["--batches", str(args.batches)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def threads(args: argparse.Namespace, label: str) -> str:
    table, loads = [], []
    busy: list[subprocess.Popen] = []
    try:
        for state in ("idle", "loaded"):
            if state == "loaded":
                busy = [
                    subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(args.busy)
                ]
                time.sleep(args.settle)  # the load average follows within a minute
            for setting in ("1", None):
                before = os.getloadavg()[0]
                figures = _measure(args, setting)
                loads.append((state, before, figures["load"]))
                table.append(
                    {
                        "machine": state
                        if state == "idle"
                        else f"{args.busy} busy-loop processes beside it",
                        "threads": "1 (OMP/OpenBLAS/MKL)" if setting else "default",
                        "ms/batch (wall)": f"{figures['wall_ms']:.3f}",
                        "ms/batch (CPU)": f"{figures['cpu_ms']:.3f}",
                        "load average (1 min) before → after": f"{before:.2f} → "
                        f"{figures['load']:.2f}",
                    }
                )
                print(json.dumps(table[-1], ensure_ascii=False), flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    one_core = float(table[0]["ms/batch (CPU)"])
    notes = [
        f"ADSSchedule defaults (window 32, k-means strata), pool {args.pool:,} (the sampler "
        f"benchmark's synthetic pool and embeddings, width {WIDTH} float16), batch {BATCH}, "
        f"{args.batches} batches after 10 warm-up ones, each setting in a fresh process",
        f"{os.cpu_count()} cores; the machine is shared, so 'idle' means no load of ours",
        f"target ≤ 1 ms per batch on one core (one thread, no busy loops, CPU time): "
        f"{one_core:.3f} ms, {'met' if one_core <= 1 else 'missed'}",
    ]
    return append(f"ADS ms per batch beside other work{label}", table, notes)


def padding(args: argparse.Namespace, label: str) -> str:
    from omnisched.schedule.plan import build_plan
    from omnisched.schedule.sampler import ScheduledBatchSampler
    from omnisched.schedule.strategies import ADSSchedule

    table, notes = [], []
    for pool, batch, steps in args.padding_runs:
        tasks, durations = synthetic_pool(pool)
        examples = _examples(tasks, durations)
        embeddings = synthetic_embeddings(pool)
        schedule = ADSSchedule(strategy="ads", sort_window=64)
        plan = build_plan(schedule.phases(), examples, batch, steps, 0, embeddings)
        stream = iter(ScheduledBatchSampler(plan, seed=0))
        batches = [next(stream) for _ in range(10)]  # compiled code loaded before the timing
        started = time.process_time()
        batches += list(stream)
        per_batch = (time.process_time() - started) / (steps - 10) * 1000
        frames = np.ceil(durations / HOP_S)
        shares = []
        for start in range(0, steps, 100):
            chunk = batches[start : start + 100]
            padded = sum(frames[b].max() * len(b) - frames[b].sum() for b in chunk)
            shares.append(padded / sum(frames[b].max() * len(b) for b in chunk))
        state = len(json.dumps(plan.phases[0].composer.state_dict()))
        row = {"pool": f"{pool:,}", "batch": batch}
        starts = range(0, steps, 100)
        row |= {f"steps {s}–{s + 99}": f"{v:.1%}" for s, v in zip(starts, shares, strict=True)}
        row |= {"state (JSON chars)": f"{state:,}", "ms/batch (CPU)": f"{per_batch:.2f}"}
        table.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        notes.append(
            f"pool {pool:,}: {steps * batch / pool:.1f} passes over the pool; padding "
            f"{shares[0]:.1%} in the first 100 steps, {min(shares[1:], default=0):.1%} to "
            f"{max(shares[1:], default=0):.1%} per 100 steps after"
        )
    columns = {key for row in table for key in row}
    table = [{key: row.get(key, "—") for key in _ordered(columns)} for row in table]
    notes.insert(0, "ADSSchedule(sort_window=64), window 32; padded share of the frames")
    return append(f"ADS padding over a run, sort_window 64{label}", table, notes)


def _ordered(columns: set[str]) -> list[str]:
    steps = sorted(
        (c for c in columns if c.startswith("steps ")), key=lambda c: int(c[6:].split("–")[0])
    )
    return ["pool", "batch", *steps, "state (JSON chars)", "ms/batch (CPU)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["ablation", "threads", "padding"]
    parser.add_argument("--parts", nargs="+", default=parts, choices=parts)
    parser.add_argument("--per-task", type=int, default=5000, help="ablation: rows per task")
    parser.add_argument("--steps", type=int, default=600, help="ablation: batches")
    parser.add_argument("--pool", type=int, default=1_000_000, help="threads: pool size")
    parser.add_argument("--batches", type=int, default=300, help="threads: measured batches")
    parser.add_argument("--busy", type=int, default=2, help="threads: busy-loop processes")
    parser.add_argument("--settle", type=float, default=60.0, help="threads: seconds of load first")
    parser.add_argument(
        "--padding-runs",
        type=lambda text: tuple(int(v) for v in text.split(",")),
        nargs="+",
        default=[(3200, 16, 400), (100_000, 64, 1000)],
        help="padding: pool,batch,steps per run",
    )
    parser.add_argument("--label", default="", help="appended to the section titles")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    label = f" ({args.label})" if args.label else ""
    for part in args.parts:
        print({"ablation": ablation, "threads": threads, "padding": padding}[part](args, label))


if __name__ == "__main__":
    main()
