"""Log-mel features exactly as the real Qwen2.5-Omni / Qwen2-Audio feature extractor makes them.

Each waveform is featurized on its own (no cross-example padding inside the STFT), so an
example's features do not depend on which batch it lands in; batches are then zero-padded and
masked, as the model's ``feature_attention_mask`` expects. A checkpoint's own extractor
(``preprocessor_config.json``) is used when it has one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from omnisched.data.audio import SAMPLE_RATE
from omnisched.errors import OmnischedError

N_MELS = 128
# where a checkpoint keeps its feature extractor's settings (older and newer transformers)
EXTRACTOR_FILES = ("preprocessor_config.json", "processor_config.json")


class LogMel:
    """128-bin Whisper-style log-mel at 16 kHz, 100 frames per second."""

    def __init__(
        self, extractor: WhisperFeatureExtractor | None = None, frames: int | None = None
    ) -> None:
        """``frames``: pad every batch to this many frames (Qwen2-Audio's encoder wants 3000)."""
        self.extractor = extractor or WhisperFeatureExtractor(
            feature_size=N_MELS, sampling_rate=SAMPLE_RATE
        )
        self.frames = frames

    @classmethod
    def for_checkpoint(cls, path: str | Path, frames: int | None = None) -> LogMel:
        """The checkpoint's own extractor if ``path`` has its settings (``EXTRACTOR_FILES``)."""
        if path and any((Path(path) / name).is_file() for name in EXTRACTOR_FILES):
            return cls(WhisperFeatureExtractor.from_pretrained(path, local_files_only=True), frames)
        return cls(frames=frames)

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [batch, mels, frames], mask [batch, frames]) for 16 kHz float waveforms."""
        mels = [
            self.extractor(
                w, sampling_rate=SAMPLE_RATE, padding=False, return_tensors="np"
            ).input_features[0]
            for w in waveforms
        ]
        frames = max(m.shape[1] for m in mels)
        if self.frames is not None:
            if frames > self.frames:
                raise OmnischedError(
                    f"audio of {frames} frames is longer than the encoder's window of "
                    f"{self.frames} frames; split it (it is never truncated)"
                )
            frames = self.frames
        features = torch.zeros(len(mels), mels[0].shape[0], frames)
        mask = torch.zeros(len(mels), frames, dtype=torch.long)
        for row, mel in enumerate(mels):
            features[row, :, : mel.shape[1]] = torch.from_numpy(mel)
            mask[row, : mel.shape[1]] = 1
        return features, mask
