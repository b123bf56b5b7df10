"""Audio I/O: everything the models see is 16 kHz mono float32, checked and never truncated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from omnisched.errors import AudioError

SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0  # the Whisper-style feature extractor's window


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as its decoder reports it: frames, sample rate, channels."""

    frames: int
    rate: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def to_float(samples: np.ndarray) -> np.ndarray:
    """Int16 or float samples as float32 in [-1, 1]."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32, copy=False)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Float32 samples resampled from ``rate`` to ``target`` Hz with soxr (deterministic)."""
    if rate == target:
        return samples
    return soxr.resample(samples, rate, target, quality="HQ").astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Writes float32 mono samples as 16-bit FLAC or WAV, by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")


def _read(path: Path, start: int = 0, frames: int = -1) -> tuple[np.ndarray, int]:
    """(samples [frames, channels], rate) decoded from ``path``; AudioError when it cannot be
    decoded in full or holds non-finite samples."""
    try:
        samples, rate = sf.read(
            str(path), start=start, frames=frames, dtype="float32", always_2d=True
        )
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(path, f"unreadable audio ({error})") from None
    if samples.size == 0:
        raise AudioError(path, "zero-length audio")
    if not np.isfinite(samples).all():
        raise AudioError(path, "audio holds NaN or infinite samples")
    return samples, rate


def inspect_audio(path: Path, decode: bool = True) -> AudioInfo:
    """Frames, rate and channels of ``path``. ``decode`` reads every sample, which is the only
    way to find a truncated compressed file or NaN/infinite samples; without it only the
    header is read (fast, but such files fail later, when a batch loads them)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(path, f"unreadable audio ({error})") from None
    if info.frames == 0:
        raise AudioError(path, "zero-length audio")
    if decode:
        samples, _ = _read(path)
        return AudioInfo(samples.shape[0], info.samplerate, info.channels)
    return AudioInfo(info.frames, info.samplerate, info.channels)


def load_audio(
    path: Path,
    offset_s: float | None = None,
    duration_s: float | None = None,
    max_seconds: float = MAX_SECONDS,
) -> np.ndarray:
    """16 kHz mono float32 samples of ``path`` (or of the clip from ``offset_s`` lasting
    ``duration_s``); downmixes and resamples, never truncates."""
    start, frames = 0, -1
    if offset_s is not None:
        rate = inspect_audio(path, decode=False).rate
        start = round(offset_s * rate)
        frames = round(duration_s * rate) if duration_s is not None else -1
    samples, rate = _read(path, start, frames)
    mono = resample(samples.mean(axis=1), rate)
    seconds = mono.size / SAMPLE_RATE
    if seconds > max_seconds:
        raise AudioError(
            path,
            f"{seconds:.1f} s is longer than the {max_seconds:.0f} s feature window; "
            "split it before training (data.long_audio: split)",
        )
    return mono
