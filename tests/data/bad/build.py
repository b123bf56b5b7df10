"""Builds the bad-input corpus: the committed manifest, and audio written fresh (tiny files).

``build(root)`` copies ``train/manifest.jsonl`` to ``root/train/`` and writes every file its
rows point at under ``root/audio/`` (and ``root/../outside.wav``), each broken in the way its
row's id says.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).parent
RATE = 16_000


def _tone(seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def build(root: Path) -> Path:
    """Writes the bad corpus at ``root``; returns ``root``."""
    root = Path(root)
    (root / "train").mkdir(parents=True)
    shutil.copy(HERE / "train" / "manifest.jsonl", root / "train" / "manifest.jsonl")
    audio = root / "audio"
    audio.mkdir()
    sf.write(audio / "ok.wav", _tone(1.0), RATE, subtype="PCM_16")
    sf.write(audio / "44k.wav", _tone(1.0, 44_100), 44_100, subtype="PCM_16")
    sf.write(audio / "stereo.wav", _tone(1.0, channels=2), RATE, subtype="PCM_16")
    sf.write(audio / "long.flac", _tone(31.0 + 1 / RATE), RATE, subtype="PCM_16")  # odd length
    sf.write(audio / "empty.wav", np.zeros(0, np.float32), RATE, subtype="PCM_16")
    for name, value in [("nan.wav", np.nan), ("inf.wav", np.inf)]:
        samples = _tone(1.0)
        samples[100] = value
        sf.write(audio / name, samples, RATE, subtype="FLOAT")
    for suffix in ["flac", "wav"]:  # the header promises 1 s, half the bytes are there
        whole = audio / f"whole.{suffix}"
        sf.write(whole, _tone(1.0) + 0.01 * np.random.default_rng(0).standard_normal(RATE), RATE)
        data = whole.read_bytes()
        (audio / f"truncated.{suffix}").write_bytes(data[: len(data) // 2])
        whole.unlink()
    (audio / "garbage.wav").write_bytes(b"this is no audio file\n" * 50)
    os.symlink("loop-b.wav", audio / "loop-a.wav")
    os.symlink("loop-a.wav", audio / "loop-b.wav")
    sf.write(root.parent / "outside.wav", _tone(1.0), RATE, subtype="PCM_16")
    return root
