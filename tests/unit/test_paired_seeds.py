"""Paired seeds: runs of different recipes with the same seed start from the same LoRA."""

from __future__ import annotations

from pathlib import Path

import torch

from omnisched.config import FreezeSettings, LoraSettings
from omnisched.models.loading import load_pretrained
from omnisched.models.lora import prepare_for_finetuning


def _lora_start(foundation: Path, seed: int, draws_before: int) -> dict[str, torch.Tensor]:
    """The LoRA weights at initialization, after a recipe drew ``draws_before`` random numbers
    of its own (ADS embeddings, caches: what differs between recipes)."""
    model, _ = load_pretrained(foundation)
    torch.rand(draws_before)
    model = prepare_for_finetuning(model, FreezeSettings(), LoraSettings(), seed=seed)
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_lora_initialization_depends_on_the_seed_alone(micro_foundation: Path):
    first = _lora_start(micro_foundation, seed=0, draws_before=1)
    other_recipe = _lora_start(micro_foundation, seed=0, draws_before=1000)
    other_seed = _lora_start(micro_foundation, seed=1, draws_before=1)
    assert first and first.keys() == other_recipe.keys()
    assert all(torch.equal(first[n], other_recipe[n]) for n in first)
    assert not all(torch.equal(first[n], other_seed[n]) for n in first)
