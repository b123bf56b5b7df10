"""The shipped tiny foundation: the embedded default every demo, study and test starts from.

A tiny Qwen2.5-Omni thinker pre-trained by ``omnisched pretrain`` (text first, then speech
aligned to it; ``omnisched.lab.pretrain``) on the embedded pre-training corpus, saved with
``save_pretrained`` beside its tokenizer and its card (``foundation.json``: the command,
settings, corpus fingerprint, training time and test scores). ``make foundation`` rebuilds one
from scratch into ``runs/foundation``; copying its ``SHIPPED_FILES`` here replaces it.
"""

from __future__ import annotations

import json
from pathlib import Path

from omnisched.errors import ConfigError

FOUNDATION_DIR = Path(__file__).resolve().parent
SHIPPED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "foundation.json",
)


def shipped_foundation() -> Path:
    """The directory of the shipped foundation (loadable with ``load_pretrained``)."""
    missing = [name for name in SHIPPED_FILES if not (FOUNDATION_DIR / name).is_file()]
    if missing:
        raise ConfigError(
            f"this installation ships no foundation ({', '.join(missing)} missing in "
            f"{FOUNDATION_DIR}); build one with `make foundation` or `omnisched pretrain`"
        )
    return FOUNDATION_DIR


def shipped_card() -> dict:
    """The shipped foundation's card."""
    return json.loads((shipped_foundation() / "foundation.json").read_text(encoding="utf-8"))
