"""The fine-tuning loop, top to bottom: data, model, schedule, steps, logs, checkpoints.

Accelerate places the model and handles mixed precision and distributed gradients; our
ScheduledBatchSampler gives each rank its slice of every global batch, so the data loader is
not sharded again on top of it (it never goes through ``accelerator.prepare``). The loss is
the answer-token mean over the whole global batch, whatever its split over ranks, so a step
on ``w`` processes equals the single-process step.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
from peft import set_peft_model_state_dict
from safetensors.torch import load_file
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from omnisched.config import Recipe
from omnisched.data.example import Example
from omnisched.data.manifest import read_split, write_notes, write_quarantine
from omnisched.errors import ConfigError, TrainingError
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.aligner_cache import model_aligner_cache
from omnisched.models.embeddings import aligner_embeddings, load_embeddings, model_embeddings
from omnisched.models.features import EXTRACTOR_FILES
from omnisched.models.loading import load_pretrained
from omnisched.models.lora import is_peft, parameter_counts, prepare_for_finetuning
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import select_examples
from omnisched.train.checkpoint import (
    load_optimizer_state,
    load_trainer_state,
    save_checkpoint,
    set_rng_state,
)
from omnisched.train.loader import make_loader
from omnisched.train.metrics_log import MetricsLog
from omnisched.train.step import forward_backward

CHECKPOINTS = "checkpoints"
FINAL = "final"
KEEP_CHECKPOINTS = 2
AUXILIARY_FILE = "auxiliary.safetensors"
EMBEDDINGS = "embeddings"  # aligner embeddings refreshed during training, by step

# scores a model (with its tokenizer) on the recipe's dev subset at a step: one log record
DevEvaluation = Callable[[torch.nn.Module, Any, Recipe, int], dict]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    found = sorted((Path(run_dir) / CHECKPOINTS).glob("step-*"))
    return found[-1] if found else None


def _restore_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    if is_peft(model):
        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    else:
        model.load_state_dict(load_file(str(checkpoint / "model.safetensors")), strict=False)


def _prune_checkpoints(run_dir: Path) -> None:
    found = sorted((run_dir / CHECKPOINTS).glob("step-*"))
    for old in found[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)


def _check_sharded(accelerator: Accelerator, recipe: Recipe, resuming: bool) -> None:
    """What the loop does not do under FSDP or DeepSpeed (configs/accelerate/), said up front:
    resume (their optimizer state is sharded, a checkpoint holds rank 0's part only) and, under
    FSDP, evaluate during training (generation on rank 0 alone would wait for the others)."""
    kind = accelerator.distributed_type
    if kind not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return
    if resuming:
        raise ConfigError(
            f"resuming under {kind.value} is not supported (sharded optimizer state); "
            "start a fresh --run-dir or resume under DDP"
        )
    if kind == DistributedType.FSDP and recipe.eval.every:
        raise ConfigError("eval.every: evaluation during training is not supported under FSDP")


def _full_weights(accelerator: Accelerator, model: torch.nn.Module) -> dict | None:
    """Under FSDP the full state dict gathered from the shards (every rank must call this);
    otherwise None: save_pretrained reads the unwrapped model's own weights."""
    if accelerator.distributed_type != DistributedType.FSDP:
        return None
    return accelerator.get_state_dict(model)


def _global_task_means(
    accelerator: Accelerator, tasks: list[str], losses: list[float], names: list[str]
) -> dict[str, float]:
    """Each task's mean example loss in this step's global batch (the same on every rank)."""
    sums = torch.zeros(2, len(names), device=accelerator.device)
    for task, loss in zip(tasks, losses, strict=True):
        sums[0, names.index(task)] += loss
        sums[1, names.index(task)] += 1
    sums = accelerator.reduce(sums, reduction="sum")
    return {n: (sums[0, i] / sums[1, i]).item() for i, n in enumerate(names) if sums[1, i] > 0}


def _train_rows(
    recipe: Recipe, run_dir: Path, strict: bool, adapter: AudioLMAdapter, accelerator
) -> list[Example]:
    """The valid train rows; quarantined rows (with those whose target does not fit the
    model) go to ``quarantine.jsonl`` and notes to ``notes.jsonl`` in the run directory."""
    manifest = read_split(
        recipe.corpus,
        "train",
        strict,
        recipe.data,
        adapter.budget_check(recipe.train.max_target_tokens),
    )
    if accelerator.is_main_process:
        for name, rows, write in [
            ("quarantine.jsonl", manifest.quarantined, write_quarantine),
            ("notes.jsonl", manifest.notes, write_notes),
        ]:
            (run_dir / name).unlink(missing_ok=True)
            if rows:
                write(run_dir / name, rows)
                accelerator.print(f"{len(rows)} train row(s) in {run_dir / name}")
    return manifest.examples


def _all_finite(accelerator: Accelerator, loss: torch.Tensor, grad_norm: torch.Tensor) -> bool:
    """Whether the loss and gradient norm are finite on every process."""
    bad = (~torch.isfinite(loss) | ~torch.isfinite(torch.as_tensor(grad_norm))).float()
    return accelerator.reduce(bad.to(accelerator.device), reduction="sum").item() == 0


def _stop_if_diverged(nonfinite: int, limit: int, step: int) -> None:
    if nonfinite > limit:
        raise TrainingError(
            f"step {step}: loss or gradient not finite at {nonfinite} steps, more than "
            f"train.max_nonfinite_steps ({limit}); each was skipped without an update (see "
            "the nonfinite events in metrics.jsonl); lower train.lr or check the data"
        )


def train(
    recipe: Recipe,
    run_dir: Path,
    strict: bool = False,
    examples: list[Example] | None = None,
    auxiliary: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
    evaluate: DevEvaluation | None = None,
) -> Path:
    """Fine-tunes the recipe's model on its schedule; resumes from the last checkpoint of
    ``run_dir`` if there is one. Returns the directory of the final weights.

    ``examples`` replaces the corpus' train split (pre-training passes its ASR view of it).
    ``auxiliary`` builds, from the model, a module whose ``forward(inputs)`` is a loss added
    to the model's (pre-training's aligner CTC); it trains and checkpoints with the model but
    is not part of the saved weights.
    ``evaluate`` scores the model on the dev split every ``eval.every`` steps (the evaluation
    is passed in, so that training does not depend on it:
    ``omnisched.eval.runs.evaluate_on_dev``); a recipe with ``eval.every`` needs one.
    """
    if recipe.eval.every and evaluate is None:
        raise ConfigError(
            "eval.every is set: train() needs evaluate= (omnisched.eval.runs.evaluate_on_dev)"
        )
    run_dir = Path(run_dir)
    settings = recipe.train
    # split_batches: our sampler splits each global batch over the ranks, so the prepared
    # scheduler steps once per step (not once per rank, as for a loader Accelerate sharded)
    accelerator = Accelerator(dataloader_config=DataLoaderConfiguration(split_batches=True))
    set_seed(settings.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        (run_dir / "recipe.yaml").write_text(
            yaml.safe_dump(recipe.model_dump(mode="json"), allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )

    model, tokenizer = load_pretrained(recipe.model.path, recipe.model.dtype)
    if examples is None:
        examples = _train_rows(
            recipe, run_dir, strict, AudioLMAdapter(model, tokenizer), accelerator
        )
    examples = select_examples(recipe.schedule, examples)
    embeddings = None
    if recipe.schedule.uses_embeddings:
        embeddings = model_embeddings(
            recipe.model.path,
            examples,
            recipe.corpus,
            recipe.cache,
            adapter=AudioLMAdapter(model, tokenizer),
        )
    plan = build_plan(
        recipe.schedule.phases(),
        examples,
        settings.batch_size,
        settings.steps,
        settings.seed,
        embeddings,
    )
    audio_cache = None
    freeze = recipe.model.freeze
    frozen = freeze.audio_encoder and freeze.aligner and not plan.refresh_every
    if settings.aligner_cache and frozen and any(e.modality == "speech" for e in examples):
        adapter = AudioLMAdapter(model, tokenizer)
        with accelerator.main_process_first():  # one process fills it, the others read it
            audio_cache = model_aligner_cache(examples, recipe.corpus, recipe.cache, adapter)
    model = prepare_for_finetuning(model, recipe.model.freeze, recipe.model.lora, settings.seed)
    set_seed(settings.seed)  # dropout draws the same stream in every recipe of this seed
    if recipe.model.gradient_checkpointing:
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
    adapter = AudioLMAdapter(model, tokenizer)
    extra = auxiliary(model) if auxiliary is not None else None
    counts = parameter_counts(model)
    accelerator.print(
        "trainable parameters: "
        + ", ".join(f"{part} {c['trainable']:,}/{c['total']:,}" for part, c in counts.items())
    )

    sampler = ScheduledBatchSampler(
        plan,
        seed=settings.seed,
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
        feedback=True,
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable += list(extra.parameters()) if extra is not None else []
    optimizer = torch.optim.AdamW(
        trainable,
        lr=settings.lr,
        weight_decay=settings.weight_decay,
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, settings.warmup_steps, settings.steps)

    ids = [example.id for example in examples]
    checkpoint = latest_checkpoint(run_dir)
    nonfinite, rng = 0, None
    _check_sharded(accelerator, recipe, resuming=checkpoint is not None)
    if checkpoint is not None:
        _restore_weights(model, checkpoint)
        if extra is not None:
            extra.load_state_dict(load_file(str(checkpoint / AUXILIARY_FILE)))
        state = load_optimizer_state(checkpoint)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng = state.get("rng")
        trainer_state = load_trainer_state(checkpoint)
        sampler.load_state_dict(trainer_state["sampler"])
        nonfinite = trainer_state.get("nonfinite", 0)
        for refresh in sorted((run_dir / EMBEDDINGS).glob("step-*")):
            step_of = int(refresh.name.removeprefix("step-"))
            if step_of <= sampler.step and (found := load_embeddings(refresh, ids)) is not None:
                sampler.refresh_embeddings(step_of, found, replayed=True)
        accelerator.print(f"resuming from {checkpoint} at step {sampler.step}")

    if accelerator.state.deepspeed_plugin is not None:  # it asks for the per-rank batch
        accelerator.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = (
            settings.batch_size // accelerator.num_processes
        )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    trainable = [p for p in model.parameters() if p.requires_grad]  # FSDP swaps in shards
    trainable += list(extra.parameters()) if extra is not None else []
    if extra is not None:
        extra = extra.to(accelerator.device)
    loader = make_loader(
        examples,
        recipe.corpus,
        sampler,
        lambda items: (adapter.collate(items), [i.example.task for i in items]),
        num_workers=settings.num_workers,
        aligner_cache=audio_cache,
    )
    log = MetricsLog(run_dir / "metrics.jsonl")
    batch_log = MetricsLog(run_dir / "batches.jsonl") if settings.log_batches else None
    if accelerator.is_main_process and sampler.step == 0:
        log.write(
            {
                "event": "start",
                "parameters": counts,
                "examples": len(examples),
                "processes": accelerator.num_processes,
            }
        )
        log.write({"event": "plan", "phases": plan.describe()})

    model.train()
    task_losses: dict[str, list[float]] = defaultdict(list)
    window_start, window_examples = time.perf_counter(), 0
    progress = tqdm(
        total=settings.steps,
        initial=sampler.step,
        desc=f"train {recipe.name}",
        disable=not accelerator.is_main_process,
    )
    step = sampler.step
    task_names = sorted(recipe.schedule.tasks)
    current_phase = sampler.phase_at(step - 1) if step else None
    for inputs, tasks in loader:
        step += 1
        if rng is not None:  # resumed: dropout draws on from where the checkpoint left them
            set_rng_state(rng)
            rng = None
        inputs = adapter.to_model(inputs)
        result = forward_backward(accelerator, model, adapter, inputs, optimizer, extra)
        grad_norm = accelerator.clip_grad_norm_(trainable, settings.max_grad_norm)
        finite = _all_finite(accelerator, result.total_loss, grad_norm)
        if finite:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if not finite:
            nonfinite += 1
            record = {"loss": result.total_loss.item(), "grad_norm": float(grad_norm)}
            if accelerator.is_main_process:
                log.write({"event": "nonfinite", "step": step, **record, "count": nonfinite})
            _stop_if_diverged(nonfinite, settings.max_nonfinite_steps, step)
        if result.parts > 1 and accelerator.is_main_process:
            log.write({"event": "oom_split", "step": step, "parts": result.parts})
        if batch_log is not None and accelerator.is_main_process:
            batch_log.write({"step": step, "ids": [ids[i] for i in sampler.drawn_batch(step - 1)]})

        losses = result.example_losses
        for task, example_loss in zip(tasks, losses, strict=True):
            task_losses[task].append(example_loss)
        means = _global_task_means(accelerator, tasks, losses, task_names)
        sampler.observe(step, {t: m for t, m in means.items() if math.isfinite(m)})
        if plan.refresh_every and step % plan.refresh_every == 0 and step < settings.steps:
            fresh = aligner_embeddings(
                adapter,
                examples,
                recipe.corpus,
                run_dir / EMBEDDINGS / f"step-{step:06d}",
                progress=False,
            )
            sampler.refresh_embeddings(step, fresh)
        if (phase := sampler.phase_at(step - 1)) != current_phase:
            current_phase = phase
            if accelerator.is_main_process:
                log.write({"event": "phase", "step": step - 1, "phase": phase})
        window_examples += len(tasks) * accelerator.num_processes
        progress.update(1)
        progress.set_postfix(loss=f"{result.loss.item():.3f}")

        if step % settings.log_every == 0 or step == settings.steps:
            elapsed = time.perf_counter() - window_start
            record = {
                "step": step,
                "loss": result.loss.item(),
                "total_loss": result.total_loss.item(),
                "grad_norm": float(grad_norm),
                "lr": scheduler.get_last_lr()[0],
                "examples_per_s": window_examples / elapsed,
            }
            record.update({f"loss/{t}": sum(v) / len(v) for t, v in sorted(task_losses.items())})
            if accelerator.is_main_process:
                log.write(record)
            task_losses.clear()
            window_start, window_examples = time.perf_counter(), 0

        if recipe.eval.every and (step % recipe.eval.every == 0 or step == settings.steps):
            if accelerator.is_main_process:
                log.write(evaluate(accelerator.unwrap_model(model), tokenizer, recipe, step))
            model.train()
            accelerator.wait_for_everyone()

        if step % settings.checkpoint_every == 0 or step == settings.steps:
            weights = _full_weights(accelerator, model)
            if accelerator.is_main_process:
                save_checkpoint(
                    run_dir / CHECKPOINTS / f"step-{step:06d}",
                    accelerator.unwrap_model(model),
                    optimizer,
                    scheduler,
                    {"step": step, "sampler": sampler.state_dict(step), "nonfinite": nonfinite},
                    extra={AUXILIARY_FILE: extra.state_dict()} if extra is not None else None,
                    weights=weights,
                )
                _prune_checkpoints(run_dir)
    progress.close()

    final = run_dir / FINAL
    weights = _full_weights(accelerator, model)
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(final, state_dict=weights)
        tokenizer.save_pretrained(final)
        for name in EXTRACTOR_FILES:  # a real checkpoint's feature extractor goes along
            if (Path(recipe.model.path) / name).is_file():
                shutil.copy2(Path(recipe.model.path) / name, final / name)
    accelerator.wait_for_everyone()
    return final
