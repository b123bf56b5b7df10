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
    """An example with its waveform (16 kHz mono float32), or None for text rows."""

    example: Example
    waveform: np.ndarray | None


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
