"""Loading a thinker and its tokenizer from a local directory written by ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoTokenizer, Qwen2_5OmniThinkerForConditionalGeneration

from omnisched.errors import ConfigError


def load_pretrained(path: Path) -> tuple[torch.nn.Module, object]:
    """(thinker, tokenizer) from a local directory; never reaches for a hub."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"{path}: no model here (config.json missing); run `omnisched pretrain`")
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer


def load_finetuned(base: Path, adapter: Path) -> tuple[torch.nn.Module, object]:
    """The base thinker with a LoRA adapter merged in, and the base tokenizer."""
    model, tokenizer = load_pretrained(base)
    if (Path(adapter) / "adapter_config.json").is_file():
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    else:
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
            adapter, local_files_only=True
        )
    return model, tokenizer
