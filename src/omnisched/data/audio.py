"""Audio I/O: everything the models see is 16 kHz mono float32, checked and never truncated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from omnisched.errors import AudioError

SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0  # the Whisper-style feature extractor's window


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


def load_audio(path: Path, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """16 kHz mono float32 samples of ``path``; downmixes and resamples, never truncates."""
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(f"{path}: unreadable audio ({error})") from None
    mono = samples.mean(axis=1)
    if mono.size == 0:
        raise AudioError(f"{path}: zero-length audio")
    if not np.isfinite(mono).all():
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    mono = resample(mono, rate)
    seconds = mono.size / SAMPLE_RATE
    if seconds > max_seconds:
        raise AudioError(
            f"{path}: {seconds:.1f} s is longer than the {max_seconds:.0f} s feature window; "
            "split it before training"
        )
    return mono
