"""ScheduledTrainer: ``transformers.Trainer`` on an omnisched recipe's schedule.

For users whose training already runs in ``transformers.Trainer`` (callbacks, hub pushing,
their own TrainingArguments). The Trainer's data comes from omnisched's ScheduledBatchSampler
(each rank its slice of every global batch; the loader is never sharded again), collated by the
model adapter; the loss is the answer-token mean over the whole global batch across ranks and
gradient-accumulation micro-batches, and ``loss/<task>`` is logged beside the Trainer's
``loss``. Every Trainer checkpoint carries the sampler state (``omnisched_sampler.json``), so
``train(resume_from_checkpoint=...)`` continues the same stream without replaying batches.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

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
from omnisched.models.embeddings import aligner_embeddings, load_embeddings, model_embeddings
from omnisched.models.loading import load_pretrained
from omnisched.models.lora import prepare_for_finetuning
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples

SAMPLER_FILE = "omnisched_sampler.json"
EMBEDDINGS = "embeddings"  # aligner embeddings refreshed during training, by step


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
    one optimizer step with gradient accumulation over ``parts`` is one global batch."""

    def __init__(self, sampler: ScheduledBatchSampler, parts: int) -> None:
        per_rank = sampler.batch_size // sampler.world_size
        if per_rank % parts:
            raise ConfigError(
                f"train.batch_size {sampler.batch_size} over {sampler.world_size} processes gives "
                f"{per_rank} examples per rank, not a multiple of gradient_accumulation_steps "
                f"{parts}"
            )
        self.sampler = sampler
        self.parts = parts
        self.size = per_rank // parts

    def __iter__(self):
        for batch in self.sampler:
            for start in range(0, len(batch), self.size):
                yield batch[start : start + self.size]

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
            text = json.dumps(self.trainer.sampler.state_dict(state.global_step), indent=2)
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
            model = prepare_for_finetuning(model, recipe.model.freeze, recipe.model.lora, args.seed)
            if recipe.model.gradient_checkpointing:
                model.activation_checkpointing_enable(
                    activation_checkpointing_kwargs={"use_reentrant": False}
                )
        elif tokenizer is None:
            raise ConfigError("ScheduledTrainer: a model given without its tokenizer")
        self.recipe = recipe
        self.adapter = AudioLMAdapter(model, tokenizer)
        if examples is None:
            examples = load_split(recipe.corpus, "train")
        self.examples = select_examples(recipe.schedule, examples)
        embeddings = None
        if recipe.schedule.uses_embeddings:
            embeddings = model_embeddings(
                recipe.model.path, self.examples, recipe.corpus, recipe.cache, self.adapter
            )
        settings = recipe.train
        self.plan = build_plan(
            recipe.schedule.phases(),
            self.examples,
            settings.batch_size,
            settings.steps,
            settings.seed,
            embeddings,
        )
        self.sampler = ScheduledBatchSampler(
            self.plan,
            seed=settings.seed,
            rank=args.process_index,
            world_size=args.world_size,
            feedback=True,
        )
        self.task_names = sorted(recipe.schedule.tasks)
        super().__init__(
            model=model,
            args=args,
            train_dataset=ExampleDataset(self.examples, recipe.corpus),
            data_collator=partial(_collate, self.adapter),
            processing_class=tokenizer,
            **kwargs,
        )
        # per task: summed example losses and example counts, for the step and the log window
        self._step_sums = torch.zeros(2, len(self.task_names), device=self.args.device)
        self._window_sums = torch.zeros_like(self._step_sums)
        self.add_callback(_ScheduleCallback(self))

    def get_train_dataloader(self) -> DataLoader:
        """Our sampler's batches for this rank, not sharded again by Accelerate."""
        workers = self.args.dataloader_num_workers
        return DataLoader(
            self.train_dataset,
            batch_sampler=MicroBatches(self.sampler, self.args.gradient_accumulation_steps),
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
            losses = self.adapter.per_example_loss(outputs.logits, labels)
        for task, example_loss in zip(tasks, losses, strict=True):
            column = self.task_names.index(task)
            self._step_sums[0, column] += example_loss
            self._step_sums[1, column] += 1
        return (loss, outputs) if return_outputs else loss

    def _end_step(self, step: int) -> None:
        """After optimizer step ``step`` on every rank: the global per-task means of its batch
        go to the sampler; ADS embeddings are refreshed when the plan asks."""
        sums = self.accelerator.reduce(self._step_sums, reduction="sum")
        self._step_sums.zero_()
        self._window_sums += sums
        self.sampler.observe(
            step,
            {
                name: (sums[0, i] / sums[1, i]).item()
                for i, name in enumerate(self.task_names)
                if sums[1, i] > 0
            },
        )
        every = self.plan.refresh_every
        if every and step % every == 0 and step < self.recipe.train.steps:
            fresh = aligner_embeddings(
                self.adapter,
                self.examples,
                self.recipe.corpus,
                Path(self.args.output_dir) / EMBEDDINGS / f"step-{step:06d}",
                progress=False,
            )
            self.sampler.refresh_embeddings(step, fresh)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds ``loss/<task>`` (mean example loss over the window, all ranks) to training logs."""
        if "loss" in logs:
            sums = self._window_sums
            logs.update(
                {
                    f"loss/{name}": (sums[0, i] / sums[1, i]).item()
                    for i, name in enumerate(self.task_names)
                    if sums[1, i] > 0
                }
            )
            self._window_sums.zero_()
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
        self.sampler.load_state_dict(json.loads(path.read_text(encoding="utf-8")))
        ids = [example.id for example in self.examples]
        for refresh in sorted((Path(self.args.output_dir) / EMBEDDINGS).glob("step-*")):
            step = int(refresh.name.removeprefix("step-"))
            if step <= self.sampler.step and (found := load_embeddings(refresh, ids)) is not None:
                self.sampler.refresh_embeddings(step, found, replayed=True)


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
