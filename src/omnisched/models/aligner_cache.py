"""Frozen-encoder cache: the aligner's output for every speech example, computed once.

When the audio encoder and the aligner are frozen (the LoRA default of both source papers),
what the LLM receives in place of each ``<|AUDIO|>`` span never changes, so training and
evaluation read it from disk instead of decoding audio, computing log-mel features and running
the encoder at every step. The cache is a directory: ``outputs.f16`` (the aligner rows of all
examples, float16, memory-mapped), ``offsets.npy`` (example ``i``'s rows are
``offsets[i]:offsets[i + 1]``), ``frames.npy`` (its count of mel frames, which Qwen2.5-Omni's
position ids need) and ``ids.json`` (one entry per distinct clip: rows that share audio, as
the generic tasks of pre-training do, share their cache rows). It is keyed by the listener
alone (the encoder's and the aligner's weights and the feature settings) and by the clips'
files, so every recipe, seed and stage that keeps the listener frozen reuses it, and a change
in either recomputes it. For Qwen2-Audio, whose encoder pads every clip to a 30 s window, the
cache holds the aligner rows of the clip only, never the padded features.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from omnisched.cachedir import partial_dir, publish
from omnisched.data.dataset import LoadedExample, example_audio
from omnisched.data.example import Example

OUTPUTS = "outputs.f16"
OFFSETS = "offsets.npy"
FRAMES = "frames.npy"
INDEX = "ids.json"


@dataclass(frozen=True)
class AlignerCache:
    """Aligner rows per example id, read from a cache directory."""

    directory: Path
    outputs: np.ndarray  # [rows of all examples, LLM width], float16, memory-mapped
    offsets: np.ndarray  # [examples + 1]
    frames: np.ndarray  # [examples] mel frames
    index: dict[str, int]

    def __contains__(self, example: Example) -> bool:
        return clip_key(example) in self.index

    def rows(self, example: Example) -> tuple[np.ndarray, int]:
        """The example's aligner rows [audio tokens, width] and its mel frame count."""
        i = self.index[clip_key(example)]
        return np.array(self.outputs[self.offsets[i] : self.offsets[i + 1]]), int(self.frames[i])

    @property
    def nbytes(self) -> int:
        """Bytes on disk of the aligner rows."""
        return int(self.outputs.nbytes)


def clip_key(example: Example) -> str:
    """What identifies a speech row's audio: its file and, for a cut, offset and duration."""
    if example.offset_s is None:
        return example.audio or ""
    return f"{example.audio}@{example.offset_s}+{example.duration_s}"


def listener_fingerprint(adapter) -> str:
    """A digest of what the aligner rows depend on: the audio encoder's and the aligner's
    weights, the model family and the log-mel settings."""
    digest = hashlib.sha256(adapter.family.name.encode())
    digest.update(repr(sorted(adapter.features.extractor.to_dict().items())).encode())
    for name, tensor in sorted(adapter.thinker.state_dict().items()):
        if adapter.family.audio_encoder_prefix in name or adapter.family.aligner_prefix in name:
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def open_cache(directory: Path, ids: list[str]) -> AlignerCache | None:
    """The cache at ``directory`` if it is complete and holds exactly ``ids``."""
    directory = Path(directory)
    files = [directory / name for name in (OUTPUTS, OFFSETS, FRAMES, INDEX)]
    if not all(file.is_file() for file in files):
        return None
    if json.loads((directory / INDEX).read_text(encoding="utf-8")) != ids:
        return None
    offsets = np.load(directory / OFFSETS)
    rows = int(offsets[-1])
    width = (directory / OUTPUTS).stat().st_size // 2 // max(rows, 1)
    outputs = np.memmap(directory / OUTPUTS, dtype=np.float16, mode="r", shape=(rows, width))
    index = {example_id: i for i, example_id in enumerate(ids)}
    return AlignerCache(directory, outputs, offsets, np.load(directory / FRAMES), index)


def fill_cache(
    adapter,
    examples: list[Example],
    root: Path,
    directory: Path,
    batch_size: int = 16,
    progress: bool = True,
) -> AlignerCache:
    """Computes the aligner rows of the speech ``examples`` into ``directory`` (atomically:
    a half-written cache is never opened) and opens it. ``adapter`` is a model adapter."""
    clips = {clip_key(e): e for e in examples if e.modality == "speech"}
    speech, ids = list(clips.values()), list(clips)
    directory = Path(directory)
    if (found := open_cache(directory, ids)) is not None:
        return found
    partial = partial_dir(directory)

    order = sorted(range(len(speech)), key=lambda i: speech[i].duration_s or 0.0)
    counts = np.zeros(len(speech), dtype=np.int64)
    frames = np.zeros(len(speech), dtype=np.int64)
    pieces: dict[int, tuple[int, int]] = {}  # example -> (start row in the file, rows)
    written = 0
    was_training = adapter.model.training
    adapter.model.eval()
    with (
        open(partial / "unordered.f16", "wb") as out,
        tqdm(total=len(speech), desc="aligner cache", disable=not progress) as bar,
    ):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            items = [LoadedExample(speech[i], example_audio(speech[i], root)) for i in chunk]
            with torch.no_grad():
                outputs, mel_frames = adapter.aligner_rows(items)
            for i, rows, n_frames in zip(chunk, outputs, mel_frames, strict=True):
                out.write(rows.cpu().to(torch.float16).numpy().tobytes())
                pieces[i] = (written, len(rows))
                counts[i], frames[i] = len(rows), n_frames
                written += len(rows)
            bar.update(len(chunk))
    adapter.model.train(was_training)
    width = (partial / "unordered.f16").stat().st_size // 2 // max(written, 1)
    unordered = np.memmap(partial / "unordered.f16", np.float16, "r", shape=(written, width))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    ordered = np.memmap(partial / OUTPUTS, np.float16, "w+", shape=(written, width))
    for i, (at, n) in pieces.items():
        ordered[offsets[i] : offsets[i] + n] = unordered[at : at + n]
    ordered.flush()
    del ordered, unordered
    (partial / "unordered.f16").unlink()
    np.save(partial / OFFSETS, offsets)
    np.save(partial / FRAMES, frames)
    (partial / INDEX).write_text(json.dumps(ids), encoding="utf-8")
    publish(partial, directory, lambda: open_cache(directory, ids) is not None)
    return open_cache(directory, ids)


def model_aligner_cache(
    examples: list[Example], root: Path, cache_root: Path, adapter
) -> AlignerCache:
    """The aligner cache of ``examples``' speech under ``adapter``'s listener, kept under
    ``cache_root/aligner/<key>`` (computed if missing)."""
    digest = hashlib.sha256(listener_fingerprint(adapter).encode())
    clips = sorted({clip_key(e): e for e in examples if e.modality == "speech"}.items())
    for key, example in clips:
        stat = (Path(root) / example.audio).stat()
        digest.update(f"{key}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    directory = Path(cache_root) / "aligner" / digest.hexdigest()[:16]
    return fill_cache(adapter, [example for _, example in clips], root, directory)
