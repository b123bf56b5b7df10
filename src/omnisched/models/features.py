"""Log-mel features exactly as the real Qwen2.5-Omni / Qwen2-Audio feature extractor makes them.

The whole batch is featurized in one pass with torch (one FFT over every clip's frames, one
banded mel product), following transformers' ``WhisperFeatureExtractor`` step by step with the
extractor's own settings. Each clip is reflect-padded and framed on its own (no cross-example
padding inside the STFT) and its dynamic-range floor comes from its own frames, so an example's
features do not depend on which batch it lands in; batches are then zero-padded and masked, as
the model's ``feature_attention_mask`` expects. A checkpoint's own extractor
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
# mels per block of the banded mel product (see ``_mel_blocks``)
MEL_BLOCK = 16


def _mel_blocks(mel_filters: np.ndarray) -> list[tuple[int, int, torch.Tensor]]:
    """The filter bank [bins, mels] as blocks of ``MEL_BLOCK`` consecutive mels, each over only
    the frequency bins it covers, as ``(start, stop, weights [mels, stop - start])``.

    A triangular mel filter covers a handful of the bins (at most 9 of 201 for Whisper's), so
    the blocks hold about 13% of the dense product's multiply-adds. The blocks index the
    interleaved ``(re², im²)`` columns of the spectrum: each bin's weight appears twice, which
    sums the two squares into the power inside the product."""
    weights = torch.from_numpy(mel_filters).float().repeat_interleave(2, dim=0)
    blocks = []
    for first in range(0, weights.shape[1], MEL_BLOCK):
        block = weights[:, first : first + MEL_BLOCK]
        covered = block.any(dim=1).nonzero().flatten()
        start, stop = (int(covered[0]), int(covered[-1]) + 1) if len(covered) else (0, 0)
        blocks.append((start, stop, block[start:stop].T.contiguous()))
    return blocks


class LogMel:
    """128-bin Whisper-style log-mel at 16 kHz, 100 frames per second."""

    def __init__(
        self, extractor: WhisperFeatureExtractor | None = None, frames: int | None = None
    ) -> None:
        """``frames``: pad every batch to this many frames (Qwen2-Audio's encoder wants 3000)."""
        self.extractor = extractor or WhisperFeatureExtractor(
            feature_size=N_MELS, sampling_rate=SAMPLE_RATE
        )
        if self.extractor.sampling_rate != SAMPLE_RATE:
            raise OmnischedError(
                f"the feature extractor expects {self.extractor.sampling_rate} Hz audio; "
                f"omnisched loads audio at {SAMPLE_RATE} Hz"
            )
        self.frames = frames
        self._window = torch.hann_window(self.extractor.n_fft)
        self._mel_blocks = _mel_blocks(self.extractor.mel_filters)

    @classmethod
    def for_checkpoint(cls, path: str | Path, frames: int | None = None) -> LogMel:
        """The checkpoint's own extractor if ``path`` has its settings (``EXTRACTOR_FILES``)."""
        if path and any((Path(path) / name).is_file() for name in EXTRACTOR_FILES):
            return cls(WhisperFeatureExtractor.from_pretrained(path, local_files_only=True), frames)
        return cls(frames=frames)

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [batch, mels, frames], mask [batch, frames]) for 16 kHz float waveforms.

        Clip by clip these are the extractor's features (``padding=False``) up to float
        rounding: frame ``t`` is centred on sample ``t * hop_length`` and the last frame, which
        the extractor drops, is never computed."""
        clips = [self._clip(row, waveform) for row, waveform in enumerate(waveforms)]
        if not clips:
            raise OmnischedError("no waveforms to featurize")
        counts = [len(clip) // self.extractor.hop_length for clip in clips]
        frames = max(counts)
        if self.frames is not None:
            if frames > self.frames:
                raise OmnischedError(
                    f"audio of {frames} frames is longer than the encoder's window of "
                    f"{self.frames} frames; split it (it is never truncated)"
                )
            frames = self.frames

        # one FFT over every clip's Hann-windowed frames [all frames, n_fft]
        windowed = torch.cat([self._frames(clip) for clip in clips]).mul_(self._window)
        # (re², im²) of each bin, side by side: the mel blocks sum them into the power
        squares = torch.view_as_real(torch.fft.rfft(windowed)).square_().flatten(1)
        mel = torch.cat(
            [weights @ squares.T[start:stop] for start, stop, weights in self._mel_blocks]
        )
        log_spec = mel.clamp_(min=1e-10).log10_()  # [mels, all frames]

        features = torch.empty(len(clips), mel.shape[0], frames)
        mask = torch.zeros(len(clips), frames, dtype=torch.long)
        loudest = log_spec.amax(dim=0).split(counts)  # each frame's loudest mel, clip by clip
        for row, clip_spec in enumerate(log_spec.split(counts, dim=1)):
            count = clip_spec.shape[1]
            valid = features[row, :, :count]
            torch.clamp(clip_spec, min=loudest[row].max() - 8.0, out=valid)  # 80 dB under its peak
            valid.add_(4.0).div_(4.0)
            features[row, :, count:] = 0.0
            mask[row, :count] = 1
        return features, mask

    def _frames(self, clip: torch.Tensor) -> torch.Tensor:
        """The clip's STFT frames [len // hop, n_fft] as views: reflect-padded by half a window
        as ``center=True`` does, without the last frame (the extractor drops it)."""
        half, hop = self.extractor.n_fft // 2, self.extractor.hop_length
        padded = torch.cat([clip[1 : half + 1].flip(0), clip, clip[-half - 1 : -1].flip(0)])
        return padded.unfold(0, self.extractor.n_fft, hop)[: len(clip) // hop]

    def _clip(self, row: int, waveform: np.ndarray) -> torch.Tensor:
        """One waveform as float32 (dithered when the extractor dithers), checked for the STFT."""
        clip = torch.as_tensor(waveform, dtype=torch.float32)
        if clip.dim() != 1:
            raise OmnischedError(
                f"waveform {row} of the batch has shape {tuple(clip.shape)}, not mono"
            )
        if len(clip) <= self.extractor.n_fft // 2:
            raise OmnischedError(
                f"waveform {row} of the batch has {len(clip)} samples; the STFT's reflect "
                f"padding needs more than {self.extractor.n_fft // 2}"
            )
        if self.extractor.dither:
            clip = clip + self.extractor.dither * torch.randn(clip.shape)
        return clip
