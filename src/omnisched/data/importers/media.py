"""Audio brought into a corpus: 16 kHz mono, never truncated, every change noted.

A whole source that is already 16 kHz mono WAV or FLAC is copied (or hard-linked) byte for
byte. Anything else — another rate, several channels, MP3 or Ogg, bytes embedded in a table,
a slice of a longer recording — is decoded, cut, downmixed (or one channel picked) and
resampled with soxr to 16 kHz mono FLAC, and the note says what was done. A slice that runs
past the end of its source, or audio longer than the feature window, is a RowProblem: the row is
quarantined, nothing is cut short.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from omnisched.data.audio import MAX_SECONDS, SAMPLE_RATE, resample, write_audio
from omnisched.data.importers.base import AudioRef, RowProblem

COPYABLE_FORMATS = {"WAV": ".wav", "FLAC": ".flac"}
READABLE = (
    f"soundfile {sf.__version__} with libsndfile {sf.__libsndfile_version__} reads "
    "WAV, FLAC, Ogg Vorbis/Opus and MP3 (MP3 since libsndfile 1.1), not AAC/M4A"
)


@dataclass(frozen=True)
class PlacedAudio:
    """Where the audio went, how long it is, and what was done: copied, linked, converted or
    cut; ``note`` describes any change for the row's meta."""

    path: Path
    duration_s: float
    action: str
    note: str | None


def _open(ref: AudioRef) -> sf.SoundFile:
    if ref.path is not None and not ref.path.is_file():
        raise RowProblem("audio", f"audio file not found: {ref.path}")
    if ref.path is None and not ref.data:
        raise RowProblem("audio", "the row holds no audio (neither a path nor bytes)")
    try:
        return sf.SoundFile(str(ref.path) if ref.path is not None else io.BytesIO(ref.data))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise RowProblem("audio", f"{ref.name}: unreadable audio ({error}); {READABLE}") from None


class _Source(NamedTuple):
    """What was read: samples [frames, channels] float32, and the source's properties."""

    samples: np.ndarray
    samplerate: int
    channels: int
    frames: int
    format: str


def _read(ref: AudioRef) -> _Source:
    """The samples ``ref`` points at, and the properties of the file they come from."""
    with _open(ref) as source:
        first = round(ref.start * source.samplerate)
        if not 0 <= first <= source.frames:
            raise RowProblem(
                "audio",
                f"{ref.name}: the slice starts at {ref.start:.3f} s, outside the source "
                f"({source.frames / source.samplerate:.3f} s)",
            )
        count = -1 if ref.duration is None else round(ref.duration * source.samplerate)
        source.seek(first)
        samples = source.read(count, dtype="float32", always_2d=True)
    if ref.duration is not None and len(samples) < count - 1:  # one sample of rounding slack
        raise RowProblem(
            "audio",
            f"{ref.name}: the slice {ref.start:.3f}–{ref.start + ref.duration:.3f} s runs past "
            f"the end of its source ({(first + len(samples)) / source.samplerate:.3f} s); "
            "nothing is truncated",
        )
    return _Source(samples, source.samplerate, source.channels, source.frames, source.format)


def _mono(samples: np.ndarray, ref: AudioRef) -> np.ndarray:
    if ref.channel is None:
        return samples.mean(axis=1)
    if not 0 <= ref.channel < samples.shape[1]:
        raise RowProblem(
            "audio", f"{ref.name}: channel {ref.channel} of a {samples.shape[1]}-channel source"
        )
    return samples[:, ref.channel]


def _copy(source: Path, destination: Path, link: bool) -> str:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.unlink(missing_ok=True)
    if link:
        try:
            os.link(source, destination)
            return "linked"
        except OSError:  # another file system: copy instead
            pass
    shutil.copyfile(source, destination)
    return "copied"


def place_audio(ref: AudioRef, stem: Path, link: bool = False) -> PlacedAudio:
    """Brings the audio of ``ref`` to ``stem`` + suffix as 16 kHz mono; see the module doc."""
    source = _read(ref)
    mono = _mono(source.samples, ref)
    if mono.size == 0:
        raise RowProblem("audio", f"{ref.name}: zero-length audio")
    if not np.isfinite(mono).all():
        raise RowProblem("audio", f"{ref.name}: audio holds NaN or infinite samples")
    seconds = mono.size / source.samplerate
    if seconds > MAX_SECONDS:
        raise RowProblem(
            "audio",
            f"{ref.name}: {seconds:.1f} s is longer than the {MAX_SECONDS:.0f} s feature window; "
            "split it into shorter segments before importing (nothing is truncated)",
        )
    whole = ref.start == 0 and (ref.duration is None or len(source.samples) == source.frames)
    if (
        whole
        and ref.path is not None
        and source.samplerate == SAMPLE_RATE
        and source.channels == 1
        and source.format in COPYABLE_FORMATS
    ):
        destination = stem.with_name(stem.name + COPYABLE_FORMATS[source.format])
        action = _copy(ref.path, destination, link)
        return PlacedAudio(destination, mono.size / SAMPLE_RATE, action, None)

    audio = resample(mono, source.samplerate)
    channels = (
        ""
        if source.channels == 1
        else f", channel {ref.channel} of {source.channels}"
        if ref.channel is not None
        else f", {source.channels} channels downmixed"
    )
    notes = [
        f"{source.samplerate} Hz {source.format}{channels} → {SAMPLE_RATE // 1000} kHz mono FLAC"
    ]
    if not whole:
        notes.insert(0, f"cut {ref.start:.3f}–{ref.start + seconds:.3f} s out of {ref.name}")
    peak = float(np.abs(audio).max())
    if peak > 1.0:
        notes.append(f"peak {peak:.3f} clipped to ±1 in 16-bit FLAC")
    destination = stem.with_name(stem.name + ".flac")
    write_audio(destination, audio)
    action = "converted" if whole else "cut"
    return PlacedAudio(destination, audio.size / SAMPLE_RATE, action, "; ".join(notes))
