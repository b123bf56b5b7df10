"""Loading an audio LM, its tokenizer and its feature extractor from a local directory.

Accepts what ``save_pretrained`` writes for a Qwen2.5-Omni thinker, a whole Qwen2.5-Omni
checkpoint (only the thinker is loaded: the talker and token2wav weights are skipped) or a
Qwen2-Audio checkpoint. Never reaches for a hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoTokenizer

from omnisched.errors import ConfigError
from omnisched.models.families import family_for_type

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _model_type(path: Path) -> str:
    config = path / "config.json"
    if not config.is_file():
        raise ConfigError(f"{path}: no model here (config.json missing); run `omnisched pretrain`")
    try:
        return json.loads(config.read_text(encoding="utf-8"))["model_type"]
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as error:
        raise ConfigError(f"{config}: field 'model_type' unreadable ({error})") from None


def load_pretrained(path: Path, dtype: str = "float32") -> tuple[torch.nn.Module, object]:
    """(model, tokenizer) from a local directory, the model in ``dtype``, loaded as its
    family loads it."""
    path = Path(path)
    model_type = _model_type(path)
    family = family_for_type(model_type, str(path / "config.json"))
    model = family.load(path, model_type, DTYPES[dtype])
    model.config.name_or_path = path  # where its feature extractor is, for the thinker too
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer


def load_finetuned(
    base: Path, adapter: Path, dtype: str = "float32"
) -> tuple[torch.nn.Module, object]:
    """The base model with a LoRA adapter merged in (or a run's full weights), and the base
    tokenizer."""
    if (Path(adapter) / "adapter_config.json").is_file():
        model, tokenizer = load_pretrained(base, dtype)
        return PeftModel.from_pretrained(model, adapter).merge_and_unload(), tokenizer
    model, _ = load_pretrained(adapter, dtype)
    return model, AutoTokenizer.from_pretrained(base, local_files_only=True)
