"""One training step, shared by ``omnisched train`` and (its loss bookkeeping) ScheduledTrainer:
forward and backward, split into parts when the batch does not fit; the optimizer update,
skipped when the loss or gradient is not finite; per-task losses summed over every rank.

The loss is the answer-token mean over the whole global batch: each rank's token sum over the
all-reduced token count, times the world size (DDP averages gradients), so a step on ``w``
processes equals the single-process step. On a CUDA out-of-memory error the batch is tried
again in 2, 4, … parts (consecutive rows of the collated batch) whose gradients accumulate;
each part's token sum over the same count adds up to the whole batch's loss. An auxiliary
loss (pre-training's aligner CTC, a mean over audio frames) is weighted by the part's share of
mel frames, which matches it up to the encoder's rounding of frame counts.
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

    loss: torch.Tensor  # answer-token mean over the global batch (detached, same on all ranks)
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
    # the answer-token count of the whole global batch, on every rank: each token weighs the
    # same however the batch is split over ranks and parts (times the world size because DDP
    # averages gradients over ranks)
    tokens = accelerator.reduce(_answer_tokens(inputs["labels"]).float(), reduction="sum")
    tokens = tokens.clamp(min=1)
    frames = _frames(inputs)
    answer_sum = extra_total = torch.zeros((), device=inputs["input_ids"].device)
    example_losses: list[float] = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        with nullcontext() if last else accelerator.no_sync(model):
            output = model(**adapter.forward_inputs(piece))
            part_sum, _ = adapter.answer_loss_sum(output.logits, piece["labels"])
            part_total = part_sum * accelerator.num_processes / tokens
            if auxiliary is not None:
                extra = auxiliary(piece)
                if parts > 1 and frames is not None and frames > 0:
                    piece_frames = _frames(piece)
                    extra = extra * (piece_frames / frames if piece_frames is not None else 0.0)
                part_total = part_total + extra
                extra_total = extra_total + extra.detach()
            accelerator.backward(part_total)
        with torch.no_grad():
            example_losses += adapter.per_example_loss(output.logits, piece["labels"]).tolist()
        answer_sum = answer_sum + part_sum.detach()
    loss = accelerator.reduce(answer_sum, reduction="sum") / tokens
    return StepResult(loss, loss + extra_total, example_losses, parts)


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


def optimizer_step(
    accelerator: Accelerator,
    parameters: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss: torch.Tensor,
    max_grad_norm: float,
) -> tuple[torch.Tensor, bool]:
    """Clips the gradients and updates the weights, unless the loss or the gradient norm is
    not finite on some process (then the step is skipped on all); the learning-rate schedule
    moves on either way. Returns the gradient norm and whether the update was made."""
    grad_norm = accelerator.clip_grad_norm_(parameters, max_grad_norm)
    bad = (~torch.isfinite(loss) | ~torch.isfinite(torch.as_tensor(grad_norm))).float()
    finite = accelerator.reduce(bad.to(accelerator.device), reduction="sum").item() == 0
    if finite:
        optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm, finite


class TaskLosses:
    """Per-task example losses summed over every rank: each step's means (for the sampler's
    plateau ends) and each log window's (``loss/<task>`` in the logs).

    ``add`` the examples of each (micro-)batch, ``end_step`` once the step is done on every
    rank, ``window_means`` when logging."""

    def __init__(self, tasks: list[str], device: torch.device) -> None:
        self.tasks = tasks
        self._step = torch.zeros(2, len(tasks), device=device)  # loss sums, example counts
        self._window = torch.zeros_like(self._step)

    def add(self, tasks: list[str], losses: list[float] | torch.Tensor) -> None:
        for task, loss in zip(tasks, losses, strict=True):
            column = self.tasks.index(task)
            self._step[0, column] += loss
            self._step[1, column] += 1

    def end_step(self, accelerator: Accelerator) -> dict[str, float]:
        """The step's mean loss of each task it drew, over every rank (all ranks call this)."""
        sums = accelerator.reduce(self._step, reduction="sum")
        self._step.zero_()
        self._window += sums
        return self._means(sums)

    def window_means(self) -> dict[str, float]:
        """Each task's mean loss since the last call, over every rank."""
        means = self._means(self._window)
        self._window.zero_()
        return means

    def _means(self, sums: torch.Tensor) -> dict[str, float]:
        return {
            task: (sums[0, i] / sums[1, i]).item()
            for i, task in enumerate(self.tasks)
            if sums[1, i] > 0
        }
