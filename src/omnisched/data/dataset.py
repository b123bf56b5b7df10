"""A map-style dataset of examples with their audio loaded, for PyTorch data loaders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from omnisched.data.audio import load_audio
from omnisched.data.example import Example


@dataclass(frozen=True)
class LoadedExample:
    """An example with its waveform (16 kHz mono float32), or None for text rows.

    Speech read from an aligner cache has no waveform but its ``aligner`` rows (what the LLM
    receives in place of the audio) and its count of mel ``frames``."""

    example: Example
    waveform: np.ndarray | None
    aligner: np.ndarray | None = None
    frames: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.waveform is not None or self.aligner is not None


def example_audio(example: Example, root: Path) -> np.ndarray | None:
    """The waveform of a speech row (its clip, for rows cut from a longer file); None for text
    rows."""
    if example.audio is None:
        return None
    return load_audio(Path(root) / example.audio, example.offset_s, example.duration_s)


class ExampleDataset(Dataset):
    """Examples of one corpus; item ``i`` loads example ``i``'s audio from the corpus root."""

    def __init__(self, examples: list[Example], root: Path) -> None:
        self.examples = examples
        self.root = Path(root)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> LoadedExample:
        example = self.examples[index]
        return LoadedExample(example, example_audio(example, self.root))


class CachedAudioDataset(ExampleDataset):
    """Examples whose speech comes from an aligner cache (``models.aligner_cache``) instead of
    audio files: nothing is decoded, no features are computed."""

    def __init__(self, examples: list[Example], root: Path, cache) -> None:
        super().__init__(examples, root)
        self.cache = cache

    def __getitem__(self, index: int) -> LoadedExample:
        example = self.examples[index]
        if example.modality != "speech":
            return LoadedExample(example, None)
        rows, frames = self.cache.rows(example)
        return LoadedExample(example, None, rows, frames)
