"""Padded share of the audio frames: random batching beside our composers, with and without
``sort_window`` (batches of similar duration).

A batch pads every clip's log-mel frames (10 ms hop) to its longest clip; the padded share is
padded frames / all frames over every batch. Durations are those of the train speech rows of
the embedded corpus (``--corpus``, the directory ``omnisched synth`` writes); without one they
are synthesized (four tasks of equal size, gamma(shape 6) around the embedded corpus' task
means of 3.2, 5.3, 2.7 and 3.6 s, plus 0.3 s) and the notes say so. ADS uses synthetic
clustered embeddings: padding depends on durations, not on where examples lie.

Target (issue 6): ≤ 5 % padding.

    python benchmarks/padding.py [--corpus runs/corpus] [--batch 16] [--sort-windows 16 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler

from omnisched.data.example import Example
from omnisched.data.manifest import load_split
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import (
    ADSSchedule,
    HybridSchedule,
    ProportionalSchedule,
    TemperatureSchedule,
    TPCSchedule,
    UniformSchedule,
)
from omnisched.tasks import TASKS

try:
    from results import append
    from sampler import TASKS as SYNTHETIC_TASKS
    from sampler import synthetic_embeddings, synthetic_pool
except ImportError:  # run as a module
    from benchmarks.results import append
    from benchmarks.sampler import TASKS as SYNTHETIC_TASKS
    from benchmarks.sampler import synthetic_embeddings, synthetic_pool

HOP_S = 0.01  # log-mel frame hop
PAPER1 = ["asr", "ssum", "dialect", "emotion"]


def padded_share(batches: list[list[int]], durations: np.ndarray) -> float:
    """Padded frames / all frames when every batch is padded to its longest clip."""
    frames = np.ceil(durations / HOP_S)
    padded = total = 0.0
    for batch in batches:
        lengths = frames[batch]
        padded += lengths.max() * len(lengths) - lengths.sum()
        total += lengths.max() * len(lengths)
    return padded / total


def corpus_examples(corpus: Path | None) -> tuple[list[Example], str]:
    """The train speech rows of the paper-1 tasks, or a synthetic pool of 3,200 rows."""
    if corpus is not None and (corpus / "train" / "manifest.jsonl").is_file():
        rows = load_split(corpus, "train")
        chosen = [e for e in rows if e.modality == "speech" and e.task in PAPER1]
        return chosen, f"durations: {len(chosen)} train speech rows of {corpus}"
    tasks, durations = synthetic_pool(3200)
    chosen = []
    for i, (task_id, duration) in enumerate(zip(tasks.tolist(), durations.tolist(), strict=True)):
        task = SYNTHETIC_TASKS[task_id]
        labels = TASKS[task].labels
        chosen.append(
            Example(
                id=f"{task}-{i}",
                task=task,
                modality="speech",
                language="ar",
                audio=f"{task}/{i}.flac",
                duration_s=duration,
                target="t",
                label=labels[i % len(labels)] if labels else None,
            )
        )
    return chosen, "durations: synthetic (no corpus manifest found; see the docstring)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sort-windows", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--epochs", type=float, default=2.0, help="batches drawn, in epochs")
    args = parser.parse_args()

    examples, source = corpus_examples(args.corpus)
    durations = np.asarray([e.duration_s for e in examples])
    steps = int(args.epochs * len(examples) / args.batch)
    embeddings = synthetic_embeddings(len(examples))

    generator = torch.Generator().manual_seed(0)
    random_batches = []
    while len(random_batches) < steps:
        sampler = RandomSampler(range(len(examples)), generator=generator)
        random_batches += list(BatchSampler(sampler, args.batch, drop_last=True))
    baseline = padded_share(random_batches[:steps], durations)
    table = [
        {
            "batching": "PyTorch RandomSampler + BatchSampler",
            "sort_window": "—",
            "padded share": f"{baseline:.1%}",
            "÷ random": "1.00",
        }
    ]
    strategies = {
        "uniform": UniformSchedule(strategy="uniform"),
        "proportional": ProportionalSchedule(strategy="proportional"),
        "temperature": TemperatureSchedule(strategy="temperature"),
        "tpc": TPCSchedule(strategy="tpc"),
        "ads": ADSSchedule(strategy="ads"),
        "hybrid": HybridSchedule(strategy="hybrid"),
    }
    verdicts = []
    for name, schedule in strategies.items():
        for window in (0, *args.sort_windows):
            specs = schedule.model_copy(update={"sort_window": window}).phases()
            plan = build_plan(specs, examples, args.batch, steps, 0, embeddings)
            share = padded_share(list(ScheduledBatchSampler(plan, seed=0)), durations)
            table.append(
                {
                    "batching": f"omnisched {name}",
                    "sort_window": window,
                    "padded share": f"{share:.1%}",
                    "÷ random": f"{share / baseline:.2f}",
                }
            )
            if window == max(args.sort_windows):
                verdicts.append(f"{name}: {share:.1%} ({'met' if share <= 0.05 else 'missed'})")
    by_task = {t: durations[[e.task == t for e in examples]].mean() for t in PAPER1}
    floor = 1 - durations.mean() / max(by_task.values())
    notes = [
        source,
        "mean duration by task: "
        + ", ".join(f"{t} {d:.2f} s" for t, d in by_task.items())
        + f"; batches holding every task equally (ADS) pad "
        f"at least 1 − mean / longest task's mean = {floor:.1%}",
        f"batch {args.batch}, {steps} batches ({args.epochs:g} epochs), {HOP_S * 1000:g} ms frames",
        f"target ≤ 5 % at sort_window {max(args.sort_windows)}: " + "; ".join(verdicts),
    ]
    print(append("Padding", table, notes))


if __name__ == "__main__":
    main()
