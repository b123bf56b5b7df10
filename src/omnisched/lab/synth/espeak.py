"""eSpeak NG through ctypes, from the library and voice data inside the ``espeakng-loader`` wheel.

eSpeak NG keeps global state (one voice, one set of parameters, one callback), so one
``Speaker`` per process is enough and calls are serialized with a lock.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache

import espeakng_loader
import numpy as np

from omnisched.errors import OmnischedError

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_CHARS_UTF8 = 1
_SSML = 0x10
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Prosody:
    """eSpeak NG voice parameters: rate in words/min (80-450), pitch and range 0-100,
    volume 0-200, extra gap between words in units of 10 ms."""

    rate: int = 175
    pitch: int = 50
    range: int = 50
    volume: int = 100
    wordgap: int = 0


class Speaker:
    """Synthesizes text with a named eSpeak NG voice (``"ar+f3"``) into int16 samples."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.sample_rate <= 0:
            raise OmnischedError(f"eSpeak NG failed to initialize from {data.decode()}")
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), n: int, _events: int) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def synthesize(self, text: str, voice: str, prosody: Prosody, ssml: bool = False) -> np.ndarray:
        """Int16 samples at ``self.sample_rate`` for ``text`` spoken by ``voice``."""
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise OmnischedError(f"eSpeak NG has no voice '{voice}'")
            for name, value in vars(prosody).items():
                self._lib.espeak_SetParameter(_PARAM[name], int(value), 0)
            self._chunks = []
            data = text.encode()
            flags = _CHARS_UTF8 | (_SSML if ssml else 0)
            status = self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, flags, None, None)
            self._lib.espeak_Synchronize()
            if status != 0 or not self._chunks:
                raise OmnischedError(f"eSpeak NG could not speak {text!r} with voice '{voice}'")
            return np.concatenate(self._chunks)


@cache
def speaker() -> Speaker:
    """The process-wide eSpeak NG speaker."""
    return Speaker()


def voice_variants() -> list[str]:
    """Names of the voice variants shipped in the wheel (``m1``, ``f3``, ``klatt2`` ...)."""
    from pathlib import Path

    root = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return sorted(p.name for p in root.iterdir() if p.is_file())
