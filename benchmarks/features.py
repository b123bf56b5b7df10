"""Log-mel examples per second on one core: omnisched's LogMel vs WhisperFeatureExtractor.

Both featurize the same synthesized clips (eSpeak NG speech from the embedded corpus generator):
the extractor one clip per call without padding to 30 s (how variable-length clips are
featurized for Qwen2.5-Omni's masked audio tower), and padded to 30 s in a batch (its default);
ours a batch per call. Target (issue 6): ≥ 3× the extractor clip by clip.

    python benchmarks/features.py [--clips 256] [--batch 16] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from omnisched.data.audio import SAMPLE_RATE, load_audio
from omnisched.lab.synth.corpus import synthesize_corpus
from omnisched.models.features import LogMel

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append


def _rates(featurizers: dict, batches: list[list[np.ndarray]], repeats: int) -> dict[str, float]:
    """Examples per second of CPU time, each batch timed by its least process CPU time over
    ``repeats`` rounds. CPU time, not wall time, so that other processes on a shared machine
    do not count; the least, as the round they disturbed least (caches, preemption)."""
    best = {name: [float("inf")] * len(batches) for name in featurizers}
    for _ in range(repeats):
        for name, featurize in featurizers.items():
            for index, batch in enumerate(batches):
                started = time.process_time()
                featurize(batch)
                best[name][index] = min(best[name][index], time.process_time() - started)
    return {name: sum(map(len, batches)) / sum(times) for name, times in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        synthesize_corpus(corpus, size=max(args.clips // 5, 8), seed=0, progress=False)
        paths = sorted((corpus / "train" / "audio").rglob("*.flac"))[: args.clips]
        clips = [load_audio(path) for path in paths]
    batches = [clips[i : i + args.batch] for i in range(0, len(clips), args.batch)]
    seconds = sum(len(c) for c in clips) / SAMPLE_RATE
    log_mel = LogMel()
    extractor = log_mel.extractor

    def clip_by_clip(batch):
        for clip in batch:
            extractor(clip, sampling_rate=SAMPLE_RATE, padding=False, return_tensors="np")

    def padded_batch(batch):
        extractor(batch, sampling_rate=SAMPLE_RATE, return_tensors="np")

    rates = _rates({"ours": log_mel, "single": clip_by_clip}, batches, args.repeats)
    ours, single = rates["ours"], rates["single"]
    padded = _rates({"padded": padded_batch}, batches, repeats=1)["padded"]
    table = [
        {"featurizer": name, "examples/s per core": f"{rate:.0f}", "ratio (ours / it)": ratio}
        for name, rate, ratio in [
            ("omnisched LogMel", ours, "1.00"),
            ("WhisperFeatureExtractor, clip by clip", single, f"{ours / single:.2f}"),
            ("WhisperFeatureExtractor, batch padded to 30 s", padded, f"{ours / padded:.2f}"),
        ]
    ]
    notes = [
        f"{len(clips)} clips, {seconds / len(clips):.2f} s mean, batch {args.batch}, 1 thread",
        f"timed in process CPU time, each batch's least of {args.repeats} rounds (the padded "
        f"extractor: 1 round); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        f"target ≥ 3× clip by clip: {'met' if ours / single >= 3 else 'missed'}",
    ]
    print(append("Log-mel features", table, notes))


if __name__ == "__main__":
    main()
