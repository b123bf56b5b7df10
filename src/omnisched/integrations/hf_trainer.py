"""ScheduledTrainer: ``transformers.Trainer`` on an omnisched recipe's schedule.

For users whose training already runs in ``transformers.Trainer`` (callbacks, hub pushing,
their own TrainingArguments). The Trainer's data comes from omnisched's ScheduledBatchSampler
(each rank its slice of every global batch; the loader is never sharded again), collated by the
model adapter; the loss is the answer-token mean over the whole global batch across ranks and
gradient-accumulation micro-batches, and ``loss/<task>`` is logged beside the Trainer's
``loss``. Every Trainer checkpoint carries the sampler state (``omnisched_sampler.json``), so
``train(resume_from_checkpoint=...)`` continues the same stream without replaying batches.
The model's preparation, the schedule, the per-task loss bookkeeping, the embedding refreshes
and their replay on resume are ``omnisched train``'s own (``omnisched.train``).
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from omnisched.config import Recipe
from omnisched.data.dataset import ExampleDataset, LoadedExample
from omnisched.data.example import Example
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError
from omnisched.models.adapter import IGNORE_INDEX, AudioLMAdapter
from omnisched.models.loading import load_pretrained
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.train.model import prepare_model
from omnisched.train.schedule import build_schedule
from omnisched.train.step import TaskLosses

SAMPLER_FILE = "omnisched_sampler.json"


def training_arguments(recipe: Recipe, output_dir: Path, **overrides) -> TrainingArguments:
    """TrainingArguments that train as ``omnisched train`` does: the recipe's steps, optimizer,
    cosine schedule with warmup, clipping, logging and checkpoint cadence, seed."""
    settings = recipe.train
    world = PartialState().num_processes
    values = {
        "output_dir": str(output_dir),
        "max_steps": settings.steps,
        "per_device_train_batch_size": settings.batch_size // world,
        "learning_rate": settings.lr,
        "weight_decay": settings.weight_decay,
        "warmup_steps": settings.warmup_steps,
        "lr_scheduler_type": "cosine",
        "optim": "adamw_torch",
        "max_grad_norm": settings.max_grad_norm,
        "logging_steps": settings.log_every,
        "save_steps": settings.checkpoint_every,
        "seed": settings.seed,
        "dataloader_num_workers": settings.num_workers,
        "remove_unused_columns": False,
        "ignore_data_skip": True,
        "report_to": "none",
    }
    return TrainingArguments(**(values | overrides))


class MicroBatches:
    """This rank's slice of every global batch as ``parts`` consecutive micro-batches, so that
    one optimizer step with gradient accumulation over ``parts`` is one global batch (of a
    budget batch, ``parts`` near-equal ones)."""

    def __init__(self, sampler: ScheduledBatchSampler, parts: int) -> None:
        self.sampler = sampler
        self.parts = parts
        self.size: int | None = None  # budget batches: their size varies
        if any(phase.spec.batching is not None for phase in sampler.plan.phases):
            return
        per_rank = sampler.batch_size // sampler.world_size
        if per_rank % parts:
            raise ConfigError(
                f"train.batch_size {sampler.batch_size} over {sampler.world_size} processes gives "
                f"{per_rank} examples per rank, not a multiple of gradient_accumulation_steps "
                f"{parts}"
            )
        self.size = per_rank // parts

    def __iter__(self):
        for batch in self.sampler:
            if self.size is not None:
                for start in range(0, len(batch), self.size):
                    yield batch[start : start + self.size]
                continue
            if len(batch) < self.parts:
                raise ConfigError(
                    f"a budget batch gives this rank {len(batch)} example(s), fewer than "
                    f"gradient_accumulation_steps {self.parts}; raise batching's limits"
                )
            for chunk in np.array_split(np.asarray(batch), self.parts):
                yield chunk.tolist()

    def __len__(self) -> int:
        return len(self.sampler) * self.parts


def _collate(adapter: AudioLMAdapter, items: list[LoadedExample]) -> dict:
    inputs = adapter.collate(items)
    inputs["tasks"] = [item.example.task for item in items]
    inputs["example_ids"] = [item.example.id for item in items]
    return inputs


class _ScheduleCallback(TrainerCallback):
    """Feeds each step's per-task losses back to the sampler (loss-plateau phase ends),
    refreshes ADS embeddings on the plan's cadence, and saves the sampler with checkpoints."""

    def __init__(self, trainer: ScheduledTrainer) -> None:
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer._end_step(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            sampler = self.trainer.schedule.sampler
            text = json.dumps(sampler.state_dict(state.global_step), indent=2)
            tmp = checkpoint / f".{SAMPLER_FILE}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, checkpoint / SAMPLER_FILE)


class ScheduledTrainer(Trainer):
    """A ``transformers.Trainer`` whose batches are an omnisched recipe's schedule.

    ``model`` and ``tokenizer`` default to the recipe's model (frozen parts and LoRA as the
    recipe says); ``args`` to :func:`training_arguments` of the recipe. Given ``args`` must keep
    ``max_steps`` at the recipe's steps, ``remove_unused_columns=False`` and
    ``ignore_data_skip=True``. ``examples`` replaces the corpus' train split.
    """

    # compute_loss divides by the answer-token count of the whole accumulated global batch
    loss_is_scaled_for_ga = True

    def __init__(
        self,
        recipe: Recipe,
        model: torch.nn.Module | None = None,
        tokenizer=None,
        args: TrainingArguments | None = None,
        output_dir: Path | None = None,
        examples: list[Example] | None = None,
        **kwargs,
    ) -> None:
        if args is None:
            args = training_arguments(recipe, output_dir or Path("runs") / recipe.name)
        _check_arguments(recipe, args)
        if model is None:
            model, tokenizer = load_pretrained(recipe.model.path, recipe.model.dtype)
            model = prepare_model(model, recipe, args.seed)
        elif tokenizer is None:
            raise ConfigError("ScheduledTrainer: a model given without its tokenizer")
        self.recipe = recipe
        self.adapter = AudioLMAdapter(model, tokenizer)
        if examples is None:
            examples = load_split(recipe.corpus, "train")
        self.schedule = build_schedule(
            recipe,
            examples,
            rank=args.process_index,
            world_size=args.world_size,
            feedback=True,
            adapter=self.adapter,
        )
        super().__init__(
            model=model,
            args=args,
            train_dataset=ExampleDataset(self.schedule.examples, recipe.corpus),
            data_collator=partial(_collate, self.adapter),
            processing_class=tokenizer,
            **kwargs,
        )
        self.losses = TaskLosses(sorted(recipe.schedule.tasks), self.args.device)
        self.add_callback(_ScheduleCallback(self))

    def get_train_dataloader(self) -> DataLoader:
        """Our sampler's batches for this rank, not sharded again by Accelerate."""
        workers = self.args.dataloader_num_workers
        return DataLoader(
            self.train_dataset,
            batch_sampler=MicroBatches(
                self.schedule.sampler, self.args.gradient_accumulation_steps
            ),
            collate_fn=self.data_collator,
            num_workers=workers,
            prefetch_factor=4 if workers else None,
            pin_memory=self.args.dataloader_pin_memory,
        )

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """The step's micro-batches and their answer-token count summed over every rank."""
        batches, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        count = sum((batch["labels"][:, 1:] != IGNORE_INDEX).sum() for batch in batches)
        count = torch.as_tensor(count, device=device)
        return batches, self.accelerator.reduce(count, reduction="sum")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """This micro-batch's summed answer cross-entropy over the global answer-token count,
        times the world size (DDP averages gradients over ranks)."""
        tasks = inputs.pop("tasks")
        inputs.pop("example_ids")
        labels = inputs.pop("labels")
        outputs = model(**self.adapter.to_model(inputs))
        total, count = self.adapter.answer_loss_sum(outputs.logits, labels)
        if num_items_in_batch is None:  # outside training: this batch alone
            num_items_in_batch = count
        loss = total * self.accelerator.num_processes / num_items_in_batch
        with torch.no_grad():
            self.losses.add(tasks, self.adapter.per_example_loss(outputs.logits, labels))
        return (loss, outputs) if return_outputs else loss

    def _end_step(self, step: int) -> None:
        """After optimizer step ``step`` on every rank: the global per-task means of its batch
        go to the sampler; aligner embeddings are refreshed when the plan asks."""
        means = self.losses.end_step(self.accelerator)
        self.schedule.after_step(step, means, self.adapter, Path(self.args.output_dir))

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds ``loss/<task>`` (mean example loss over the window, all ranks) to training logs."""
        if "loss" in logs:
            logs.update({f"loss/{task}": m for task, m in self.losses.window_means().items()})
        super().log(logs, start_time)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """``transformers.Trainer.train``; resuming also restores the sampler from the
        checkpoint, so training continues the same stream of global batches."""
        if resume_from_checkpoint is True:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ConfigError(f"{self.args.output_dir}: no checkpoint to resume from")
        if resume_from_checkpoint:
            self._restore_sampler(Path(resume_from_checkpoint))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def _restore_sampler(self, checkpoint: Path) -> None:
        path = checkpoint / SAMPLER_FILE
        if not path.is_file():
            raise ConfigError(
                f"{path}: missing; the checkpoint was not written by ScheduledTrainer"
            )
        state = json.loads(path.read_text(encoding="utf-8"))
        self.schedule.resume(state, Path(self.args.output_dir))


def _check_arguments(recipe: Recipe, args: TrainingArguments) -> None:
    """The TrainingArguments fields that would break the schedule, named."""
    if args.max_steps != recipe.train.steps:
        raise ConfigError(
            f"TrainingArguments.max_steps {args.max_steps}: the schedule is planned for "
            f"train.steps {recipe.train.steps}"
        )
    if args.remove_unused_columns:
        raise ConfigError("TrainingArguments.remove_unused_columns must be False (examples)")
    if not args.ignore_data_skip:
        raise ConfigError(
            "TrainingArguments.ignore_data_skip must be True: the sampler resumes by its state"
        )
