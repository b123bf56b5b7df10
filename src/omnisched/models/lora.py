"""Freezing and LoRA: which parts of an audio LM train during fine-tuning.

Parts of an audio LM: the audio encoder, the aligner (the audio-to-LLM projector), the LLM (the
language model and its output head), each found by the prefixes its family's record names.
LoRA adapters go on the LLM's projections named in the recipe (attention by default).
"""

from __future__ import annotations

import re

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from omnisched.config import FreezeSettings, LoraSettings
from omnisched.models.families import Family, family_of
from omnisched.seeding import derive_rng

PARTS = ("audio_encoder", "aligner", "llm", "lora", "other")


def part_of(name: str, family: Family) -> str:
    """Which part a parameter of a ``family`` model belongs to, by its name."""
    if "lora_" in name:
        return "lora"
    if family.aligner_prefix in name:
        return "aligner"
    if family.audio_encoder_prefix in name:
        return "audio_encoder"
    if any(prefix in name for prefix in family.llm_prefixes):
        return "llm"
    return "other"


def parameter_counts(model: torch.nn.Module) -> dict[str, dict[str, int]]:
    """Total and trainable parameter counts per part."""
    family = family_of(model)
    counts = {part: {"total": 0, "trainable": 0} for part in PARTS}
    for name, parameter in model.named_parameters():
        entry = counts[part_of(name, family)]
        entry["total"] += parameter.numel()
        entry["trainable"] += parameter.numel() if parameter.requires_grad else 0
    return counts


def prepare_for_finetuning(
    model: torch.nn.Module, freeze: FreezeSettings, lora: LoraSettings | None, seed: int = 0
) -> torch.nn.Module:
    """Freezes parts as asked and wraps the LLM's attention in LoRA; vision stays frozen.

    The adapters' initialization is drawn from ``seed`` alone, whatever the process drew
    before: runs of different recipes with the same seed start from the same weights, so a
    study can compare them seed by seed."""
    family = family_of(model)
    frozen = {"audio_encoder": freeze.audio_encoder, "aligner": freeze.aligner, "llm": freeze.llm}
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not frozen.get(part_of(name, family), True)
    if lora is None:
        return model
    llm = "|".join(re.escape(prefix) for prefix in family.llm_prefixes)
    modules = "|".join(lora.target_modules)
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=rf".*({llm}).*\.({modules})",
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(derive_rng(seed, "lora-init").integers(2**62)))
        peft_model = get_peft_model(model, config)
    for name, parameter in peft_model.named_parameters():
        if name.removeprefix("base_model.model.") in trainable:
            parameter.requires_grad = True
    return peft_model


def is_peft(model: torch.nn.Module) -> bool:
    """Whether ``model`` carries LoRA adapters."""
    return isinstance(model, PeftModel)
