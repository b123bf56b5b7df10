"""Freezing and LoRA: which parts of the thinker train during fine-tuning.

Parts of an audio LM: the audio encoder (``audio_tower`` without the projector), the aligner
(the audio-to-LLM projector: ``audio_tower.proj`` in a Qwen2.5-Omni thinker,
``multi_modal_projector`` in Qwen2-Audio), the LLM (``language_model`` and ``lm_head``). LoRA
adapters go on the LLM's projections named in the recipe (attention by default).
"""

from __future__ import annotations

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from omnisched.config import FreezeSettings, LoraSettings
from omnisched.seeding import derive_rng

PARTS = ("audio_encoder", "aligner", "llm", "lora", "other")


def part_of(name: str) -> str:
    """Which part a parameter belongs to, by its name."""
    if "lora_" in name:
        return "lora"
    if "audio_tower.proj." in name or "multi_modal_projector." in name:
        return "aligner"
    if "audio_tower." in name:
        return "audio_encoder"
    if "language_model." in name or "lm_head." in name:
        return "llm"
    return "other"


def parameter_counts(model: torch.nn.Module) -> dict[str, dict[str, int]]:
    """Total and trainable parameter counts per part."""
    counts = {part: {"total": 0, "trainable": 0} for part in PARTS}
    for name, parameter in model.named_parameters():
        entry = counts[part_of(name)]
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
    frozen = {"audio_encoder": freeze.audio_encoder, "aligner": freeze.aligner, "llm": freeze.llm}
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not frozen.get(part_of(name), True)
    if lora is None:
        return model
    modules = "|".join(lora.target_modules)
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=rf".*language_model.*\.({modules})",
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
