"""One training step's forward and backward, split into parts when the batch does not fit.

On a CUDA out-of-memory error the batch is tried again in 2, 4, … parts (consecutive rows of
the collated batch) whose gradients accumulate, each from zero gradients. A part's loss is
weighted by its share of the batch's answer tokens, so the summed gradient equals the whole
batch's: the model's loss is a mean over answer tokens. An auxiliary loss (pre-training's
aligner CTC, a mean over audio frames) is weighted by the part's share of mel frames, which
matches it up to the encoder's rounding of frame counts.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from accelerate import Accelerator

from omnisched.errors import TrainingError
from omnisched.models.adapter import IGNORE_INDEX, AudioLMAdapter


@dataclass
class StepResult:
    """What the loop logs of one forward and backward."""

    loss: torch.Tensor  # the model's loss on the whole batch (detached)
    total_loss: torch.Tensor  # with the auxiliary loss (detached)
    example_losses: list[float]
    parts: int  # 1, or how many parts the batch was split into to fit in memory


def _answer_tokens(labels: torch.Tensor) -> torch.Tensor:
    return (labels[:, 1:] != IGNORE_INDEX).sum()


def _frames(inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
    mask = inputs.get("feature_attention_mask")
    return mask.sum() if mask is not None else None


def _attempt(
    accelerator: Accelerator,
    model: torch.nn.Module,
    adapter: AudioLMAdapter,
    inputs: dict[str, torch.Tensor],
    auxiliary: torch.nn.Module | None,
    parts: int,
) -> StepResult:
    pieces = adapter.split_batch(inputs, parts) if parts > 1 else [inputs]
    tokens, frames = _answer_tokens(inputs["labels"]).clamp(min=1), _frames(inputs)
    loss = total = torch.zeros((), device=inputs["input_ids"].device)
    example_losses: list[float] = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        with nullcontext() if last else accelerator.no_sync(model):
            output = model(**piece)
            part_loss = output.loss
            if parts > 1:
                part_loss = part_loss * (_answer_tokens(piece["labels"]) / tokens)
            part_total = part_loss
            if auxiliary is not None:
                extra = auxiliary(piece)
                if parts > 1 and frames is not None and frames > 0:
                    piece_frames = _frames(piece)
                    extra = extra * (piece_frames / frames if piece_frames is not None else 0.0)
                part_total = part_loss + extra
            accelerator.backward(part_total)
        with torch.no_grad():
            example_losses += adapter.per_example_loss(output.logits, piece["labels"]).tolist()
        loss, total = loss + part_loss.detach(), total + part_total.detach()
    return StepResult(loss, total, example_losses, parts)


def forward_backward(
    accelerator: Accelerator,
    model: torch.nn.Module,
    adapter: AudioLMAdapter,
    inputs: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    auxiliary: torch.nn.Module | None = None,
) -> StepResult:
    """Forward and backward of one batch, split in halves (then quarters, …) on out-of-memory
    until it fits; gradients are left in the parameters for the optimizer."""
    rows = inputs["input_ids"].shape[0]
    parts = 1
    while True:
        try:
            return _attempt(accelerator, model, adapter, inputs, auxiliary, parts)
        except torch.OutOfMemoryError:
            pass  # retried below, once the failed attempt's tensors are released
        optimizer.zero_grad(set_to_none=True)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if parts >= rows:
            raise TrainingError("out of memory on a single example; lower its length or the model")
        if accelerator.num_processes > 1:
            raise TrainingError(
                f"out of memory on a batch of {rows} rows per process; splitting it needs every "
                "process to split alike, so lower train.batch_size"
            )
        parts = min(2 * parts, rows)
