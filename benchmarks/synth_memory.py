"""Peak memory of building a 100k-example corpus (issue 7 target: < 2 GB).

Three measurements, each in a fresh process so that its peak RSS is its own:

- ``real``: ``synthesize_corpus`` as users run it (eSpeak NG speaking every utterance) at a
  small size: the memory of the rendering processes, which does not grow with the corpus.
- ``build``: ``synthesize_corpus`` at the size that gives 100,000 speech examples (and their
  100,000 text twins), every line of its code as users run it except the speaking: the
  renderer is replaced by one that hard-links a real rendered utterance (one of those of
  ``real``) to each audio path (speaking 100k utterances takes over an hour on this
  machine). So scripts, rows, manifests, the card and the fingerprint (which reads every
  audio file) run at full scale.
- ``validate``: reading that corpus back as training does (``read_split`` of every split,
  every audio file decoded): the rows a run holds in memory, and what full decoding costs.

Peak RSS is the process's own maximum (``ru_maxrss``) and the largest sum over the process
tree (it and its workers, sampled every 0.1 s with psutil).

    nice -n 15 python benchmarks/synth_memory.py [--examples 100000] [--real-size 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from functools import partial
from pathlib import Path

import psutil

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

TARGET_GB = 2.0


class TreePeak:
    """The largest RSS sum over this process and its descendants, sampled in a thread."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # ended between listing and reading
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.every)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def link_block(scripts, out: Path, noise_snr_db=None, *, sources: list[tuple[str, int]]):
    """Stands in for ``render_block``: links one of the real utterances ``sources`` (path,
    frames; several, since a file takes at most 65,000 links) to every script's audio path."""
    frames = []
    for script in scripts:
        source, count = sources[zlib.crc32(script.id.encode()) % len(sources)]
        target = Path(out) / script.audio_path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        frames.append(count)
    return frames


def size_for(examples: int) -> int:
    """The smallest synth size whose corpus has at least ``examples`` speech examples."""
    from omnisched.lab.synth.scripts import split_sizes, task_count
    from omnisched.tasks import TASKS

    def speech(size: int) -> int:
        return sum(task_count(t, n) for n in split_sizes(size).values() for t in TASKS)

    size = max(1, examples // 7)
    while speech(size) < examples:
        size += 1
    return size


def scenario(name: str, corpus: Path, size: int, source: Path | None) -> dict:
    """Runs one measurement in this process; returns its figures."""
    import omnisched.lab.synth.corpus as synth
    from omnisched.data.audio import inspect_audio
    from omnisched.data.manifest import SPLITS, read_split

    started = time.perf_counter()
    with TreePeak() as tree:
        if name == "real":
            rows = synth.synthesize_corpus(corpus, size, seed=0, progress=False)
        elif name == "build":
            sources = [
                (str(path), inspect_audio(path).frames) for path in sorted(source.rglob("*.flac"))
            ]
            synth.render_block = partial(link_block, sources=sources)
            rows = synth.synthesize_corpus(corpus, size, seed=0, progress=False)
        else:
            manifests = {split: read_split(corpus, split) for split in SPLITS}
            rows = {split: len(m.examples) for split, m in manifests.items()}
            rows["quarantined"] = sum(len(m.quarantined) for m in manifests.values())
    return {
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "tree_peak_mb": tree.peak / 2**20,
    }


def _run(name: str, corpus: Path, size: int, source: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--scenario", name, "--corpus", str(corpus)]
    command += ["--size", str(size)] + (["--source", str(source)] if source else [])
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="speech examples")
    parser.add_argument("--real-size", type=int, default=60, help="size of the real synthesis")
    parser.add_argument("--scenario", choices=["real", "build", "validate"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args.scenario, args.corpus, args.size, args.source)))
        return

    size = size_for(args.examples)
    with tempfile.TemporaryDirectory() as tmp:
        real = _run("real", Path(tmp) / "real", args.real_size)
        source = Path(tmp) / "real" / "train" / "audio"
        build = _run("build", Path(tmp) / "big", size, source)
        validate = _run("validate", Path(tmp) / "big", size)

    def row(what: str, figures: dict) -> dict:
        peak = max(figures["self_peak_mb"], figures["tree_peak_mb"])
        return {
            "measurement": what,
            "rows (train/dev/test)": "/".join(
                str(figures["rows"][s]) for s in ("train", "dev", "test")
            ),
            "seconds": f"{figures['seconds']:.0f}",
            "peak RSS, process (MB)": f"{figures['self_peak_mb']:.0f}",
            "peak RSS, largest worker (MB)": f"{figures['children_peak_mb']:.0f}",
            "peak RSS, process tree (MB)": f"{figures['tree_peak_mb']:.0f}",
            f"< {TARGET_GB:g} GB": "met" if peak < TARGET_GB * 1024 else "missed",
        }

    speech = sum(build["rows"].values()) // 2
    table = [
        row(f"real synthesis, size {args.real_size}", real),
        row(f"build, size {size} ({speech:,} speech examples), audio linked", build),
        row("read back as training does (every file decoded)", validate),
    ]
    notes = [
        f"build: synthesize_corpus at size {size} with the eSpeak NG renderer replaced by "
        "hard links to the real utterances of the first row (speaking them all takes over an "
        "hour here); "
        "scripts, rows, manifests, card and fingerprint at full scale",
        f"read back: {validate['rows']['quarantined']} row(s) quarantined",
        "process-tree peak: sum of RSS over the process and its workers, sampled every 0.1 s "
        "(shared pages counted once per process, so it overstates)",
    ]
    print(append("Corpus build: peak memory at 100k examples", table, notes))


if __name__ == "__main__":
    main()
