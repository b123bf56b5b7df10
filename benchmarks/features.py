"""Log-mel examples per second on one core: omnisched's LogMel vs WhisperFeatureExtractor.

Both featurize the same synthesized clips (eSpeak NG speech from the embedded corpus generator):
the extractor one clip per call without padding to 30 s (how variable-length clips are
featurized for Qwen2.5-Omni's masked audio tower), and padded to 30 s in a batch (its default);
ours a batch per call. Target (issue 6): ≥ 3× the extractor clip by clip.

    python benchmarks/features.py [--clips 256] [--batch 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from omnisched.data.audio import SAMPLE_RATE, load_audio
from omnisched.data.synth.corpus import synthesize_corpus
from omnisched.models.features import LogMel

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append


def _rate(featurize, batches: list[list[np.ndarray]], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for batch in batches:
            featurize(batch)
        best = min(best, time.perf_counter() - started)
    return sum(map(len, batches)) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
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

    ours = _rate(log_mel, batches)
    single = _rate(clip_by_clip, batches)
    padded = _rate(padded_batch, batches, repeats=1)
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
        f"target ≥ 3× clip by clip: {'met' if ours / single >= 3 else 'missed'}",
    ]
    print(append("Log-mel features", table, notes))


if __name__ == "__main__":
    main()
