"""Reading a large manifest twice: the first read decodes every audio file, the second reuses
the cached verdicts (``<corpus>/.audio-checks.json``); then one file is rewritten and read
again, which must decode that file alone.

The corpus is made here: ``--rows`` speech rows whose FLAC files are hard links to a few
3-second clips (writing 100k distinct clips takes hours here), so the first read decodes a
file that the page cache already holds and is far faster than on a real corpus of distinct
files; the cached reads do not decode at all and are representative.

    python benchmarks/manifest_read.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from omnisched.data.audio import write_audio
from omnisched.data.manifest import AUDIO_CACHE_NAME, read_manifest

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

LINKS_PER_CLIP = 50_000


def _corpus(root: Path, rows: int) -> Path:
    """``rows`` ASR speech rows under ``root``; returns the train manifest's path."""
    rng = np.random.default_rng(0)
    audio = root / "train" / "audio"
    audio.mkdir(parents=True)
    manifest = root / "train" / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as out:
        for i in range(rows):
            clip = root / f"clip-{i // LINKS_PER_CLIP}.flac"
            if not clip.exists():
                write_audio(clip, (0.1 * rng.standard_normal(48_000)).astype(np.float32))
            os.link(clip, audio / f"{i}.flac")
            row = {
                "id": f"asr-{i}",
                "task": "asr",
                "modality": "speech",
                "language": "ar",
                "audio": f"train/audio/{i}.flac",
                "duration_s": 3.0,
                "target": "نص",
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        manifest = _corpus(root, args.rows)
        for what in ("first read (every file decoded)", "second read (cached verdicts)", "after"):
            if what == "after":
                changed = root / "train" / "audio" / "0.flac"
                changed.unlink()  # a new file in its place: size, time and inode change
                shutil.copyfile(root / "clip-0.flac", changed)
                what = "third read, one file replaced"
            started = time.perf_counter()
            read = read_manifest(manifest)
            seconds = time.perf_counter() - started
            table.append(
                {
                    "read": what,
                    "rows kept": f"{len(read.examples):,}",
                    "quarantined": len(read.quarantined),
                    "seconds": f"{seconds:.1f}",
                }
            )
        cache_mb = (root / AUDIO_CACHE_NAME).stat().st_size / 1e6
    notes = [
        f"{args.rows:,} speech rows, hard links to {-(-args.rows // LINKS_PER_CLIP)} 3 s FLAC "
        "clips (a first read of distinct files takes far longer: every file is read from disk)",
        f"verdict cache: {cache_mb:.1f} MB; load average at the end {os.getloadavg()[0]:.2f}",
    ]
    print(append("Manifest reads with the audio verdict cache", table, notes))


if __name__ == "__main__":
    main()
