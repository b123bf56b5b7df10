"""Log-mel features exactly as the real Qwen2.5-Omni / Qwen2-Audio feature extractor makes them.

Each waveform is featurized on its own (no cross-example padding inside the STFT), so an
example's features do not depend on which batch it lands in; batches are then zero-padded and
masked, as the model's ``feature_attention_mask`` expects.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from omnisched.data.audio import SAMPLE_RATE

N_MELS = 128


class LogMel:
    """128-bin Whisper-style log-mel at 16 kHz, 100 frames per second."""

    def __init__(self, extractor: WhisperFeatureExtractor | None = None) -> None:
        self.extractor = extractor or WhisperFeatureExtractor(
            feature_size=N_MELS, sampling_rate=SAMPLE_RATE
        )

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [batch, mels, frames], mask [batch, frames]) for 16 kHz float waveforms."""
        mels = [
            self.extractor(
                w, sampling_rate=SAMPLE_RATE, padding=False, return_tensors="np"
            ).input_features[0]
            for w in waveforms
        ]
        frames = max(m.shape[1] for m in mels)
        features = torch.zeros(len(mels), mels[0].shape[0], frames)
        mask = torch.zeros(len(mels), frames, dtype=torch.long)
        for row, mel in enumerate(mels):
            features[row, :, : mel.shape[1]] = torch.from_numpy(mel)
            mask[row, : mel.shape[1]] = 1
        return features, mask
