"""The model as a recipe fine-tunes it, prepared alike by ``omnisched train`` and
ScheduledTrainer."""

from __future__ import annotations

import torch

from omnisched.config import Recipe
from omnisched.models.lora import prepare_for_finetuning


def prepare_model(model: torch.nn.Module, recipe: Recipe, seed: int) -> torch.nn.Module:
    """``model`` with the recipe's parts frozen, its LoRA adapters (initialized from ``seed``)
    and, if asked, activation checkpointing (memory for compute)."""
    model = prepare_for_finetuning(model, recipe.model.freeze, recipe.model.lora, seed)
    if recipe.model.gradient_checkpointing:
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
    return model
