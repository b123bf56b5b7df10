"""The fine-tuning loop, top to bottom: data, model, schedule, steps, logs, checkpoints.

Accelerate places the model and handles mixed precision and distributed gradients; our
ScheduledBatchSampler gives each rank its slice of every global batch, so the data loader is
not sharded again on top of it (it never goes through ``accelerator.prepare``). The loss is
the answer-token mean over the whole global batch, whatever its split over ranks, so a step
on ``w`` processes equals the single-process step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
from safetensors.torch import load_file
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from omnisched.config import Recipe
from omnisched.data.example import Example
from omnisched.data.manifest import read_split, write_notes, write_quarantine
from omnisched.errors import ConfigError, TrainingError
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.aligner_cache import AlignerCache, model_aligner_cache
from omnisched.models.features import EXTRACTOR_FILES
from omnisched.models.loading import load_pretrained
from omnisched.train import checkpoint as checkpoints
from omnisched.train.loader import make_loader
from omnisched.train.metrics_log import RunLog
from omnisched.train.model import prepare_model
from omnisched.train.schedule import RunSchedule, build_schedule
from omnisched.train.step import TaskLosses, forward_backward, optimizer_step

FINAL = "final"
AUXILIARY_FILE = "auxiliary.safetensors"

# scores a model (with its tokenizer) on the recipe's dev subset at a step: one log record
DevEvaluation = Callable[[torch.nn.Module, Any, Recipe, int], dict]


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
        _write_recipe(recipe, run_dir)

    # data and schedule, read with the model as loaded (row checks, embeddings, audio cache)
    model, tokenizer = load_pretrained(recipe.model.path, recipe.model.dtype)
    loaded = AudioLMAdapter(model, tokenizer)
    if examples is None:
        examples = _train_rows(recipe, run_dir, strict, loaded, accelerator)
    schedule = build_schedule(
        recipe,
        examples,
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
        feedback=True,
        adapter=loaded,
    )
    audio_cache = _audio_cache(recipe, schedule, loaded, accelerator)

    # the model as it trains, its optimizer, and where a checkpoint left them
    model = prepare_model(model, recipe, settings.seed)
    set_seed(settings.seed)  # dropout draws the same stream in every recipe of this seed
    adapter = AudioLMAdapter(model, tokenizer)
    extra = auxiliary(model) if auxiliary is not None else None
    log = RunLog(run_dir, accelerator.is_main_process, schedule, settings.log_batches)
    log.parameters(model)
    trainable = _trainable(model, extra)
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, settings.warmup_steps, settings.steps)
    checkpoint = checkpoints.latest_checkpoint(run_dir)
    _check_sharded(accelerator, recipe, resuming=checkpoint is not None)
    nonfinite, rng = 0, None
    if checkpoint is not None:
        nonfinite, rng = _resume(checkpoint, run_dir, model, extra, optimizer, scheduler, schedule)
        accelerator.print(f"resuming from {checkpoint} at step {schedule.sampler.step}")

    if accelerator.state.deepspeed_plugin is not None:  # it asks for the per-rank batch
        accelerator.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = (
            settings.batch_size // accelerator.num_processes
        )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    trainable = _trainable(model, extra)  # FSDP swaps in shards
    if extra is not None:
        extra = extra.to(accelerator.device)
    loader = make_loader(
        schedule.examples,
        recipe.corpus,
        schedule.sampler,
        lambda items: (adapter.collate(items), [i.example.task for i in items]),
        num_workers=settings.num_workers,
        aligner_cache=audio_cache,
    )
    log.begin(accelerator.num_processes)
    model.train()
    losses = TaskLosses(sorted(recipe.schedule.tasks), accelerator.device)
    step = schedule.sampler.step
    progress = tqdm(
        total=settings.steps,
        initial=step,
        desc=f"train {recipe.name}",
        disable=not accelerator.is_main_process,
    )
    for inputs, tasks in loader:
        step += 1
        if rng is not None:  # resumed: dropout draws on from where the checkpoint left them
            checkpoints.set_rng_state(rng)
            rng = None
        result = forward_backward(
            accelerator, model, adapter, adapter.to_model(inputs), optimizer, extra
        )
        grad_norm, finite = optimizer_step(
            accelerator, trainable, optimizer, scheduler, result.total_loss, settings.max_grad_norm
        )
        if not finite:
            nonfinite += 1
            log.nonfinite(step, result, grad_norm, nonfinite)
            _stop_if_diverged(nonfinite, settings.max_nonfinite_steps, step)
        log.drawn(step, result, len(tasks) * accelerator.num_processes)
        losses.add(tasks, result.example_losses)
        schedule.after_step(step, losses.end_step(accelerator), adapter, run_dir)
        progress.update(1)
        progress.set_postfix(loss=f"{result.loss.item():.3f}")
        last = step == settings.steps
        if step % settings.log_every == 0 or last:
            log.window(step, result, grad_norm, scheduler.get_last_lr()[0], losses.window_means())
        if recipe.eval.every and (step % recipe.eval.every == 0 or last):
            if accelerator.is_main_process:
                log.write(evaluate(accelerator.unwrap_model(model), tokenizer, recipe, step))
            model.train()
            accelerator.wait_for_everyone()
        if step % settings.checkpoint_every == 0 or last:
            state = {
                "step": step,
                "sampler": schedule.sampler.state_dict(step),
                "nonfinite": nonfinite,
            }
            _save_checkpoint(accelerator, model, optimizer, scheduler, extra, run_dir, state)
    progress.close()
    return _save_final(accelerator, model, tokenizer, recipe, run_dir)


def _write_recipe(recipe: Recipe, run_dir: Path) -> None:
    (run_dir / "recipe.yaml").write_text(
        yaml.safe_dump(recipe.model_dump(mode="json"), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )


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


def _audio_cache(
    recipe: Recipe, schedule: RunSchedule, adapter: AudioLMAdapter, accelerator: Accelerator
) -> AlignerCache | None:
    """With the audio encoder and aligner frozen (and no embedding refreshes), their output
    for every speech example, computed once: training reads it instead of the audio."""
    freeze = recipe.model.freeze
    frozen = freeze.audio_encoder and freeze.aligner and not schedule.plan.refresh_every
    speech = any(e.modality == "speech" for e in schedule.examples)
    if not (recipe.train.aligner_cache and frozen and speech):
        return None
    with accelerator.main_process_first():  # one process fills it, the others read it
        return model_aligner_cache(schedule.examples, recipe.corpus, recipe.cache, adapter)


def _trainable(model: torch.nn.Module, extra: torch.nn.Module | None) -> list[torch.nn.Parameter]:
    parameters = [p for p in model.parameters() if p.requires_grad]
    return parameters + (list(extra.parameters()) if extra is not None else [])


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


def _resume(
    checkpoint: Path,
    run_dir: Path,
    model: torch.nn.Module,
    extra: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    schedule: RunSchedule,
) -> tuple[int, dict | None]:
    """Restores weights, the auxiliary module, optimizer, learning-rate schedule and sampler
    from ``checkpoint``. Returns the non-finite steps so far and the random generators' state
    to restore before the next step."""
    checkpoints.restore_weights(model, checkpoint)
    if extra is not None:
        extra.load_state_dict(load_file(str(checkpoint / AUXILIARY_FILE)))
    state = checkpoints.load_optimizer_state(checkpoint)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    trainer_state = checkpoints.load_trainer_state(checkpoint)
    schedule.resume(trainer_state["sampler"], run_dir)
    return trainer_state.get("nonfinite", 0), state.get("rng")


def _stop_if_diverged(nonfinite: int, limit: int, step: int) -> None:
    if nonfinite > limit:
        raise TrainingError(
            f"step {step}: loss or gradient not finite at {nonfinite} steps, more than "
            f"train.max_nonfinite_steps ({limit}); each was skipped without an update (see "
            "the nonfinite events in metrics.jsonl); lower train.lr or check the data"
        )


def _full_weights(accelerator: Accelerator, model: torch.nn.Module) -> dict | None:
    """Under FSDP the full state dict gathered from the shards (every rank must call this);
    otherwise None: save_pretrained reads the unwrapped model's own weights."""
    if accelerator.distributed_type != DistributedType.FSDP:
        return None
    return accelerator.get_state_dict(model)


def _save_checkpoint(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    extra: torch.nn.Module | None,
    run_dir: Path,
    state: dict,
) -> None:
    weights = _full_weights(accelerator, model)
    if not accelerator.is_main_process:
        return
    checkpoints.save_checkpoint(
        checkpoints.checkpoint_path(run_dir, state["step"]),
        accelerator.unwrap_model(model),
        optimizer,
        scheduler,
        state,
        extra={AUXILIARY_FILE: extra.state_dict()} if extra is not None else None,
        weights=weights,
    )
    checkpoints.prune_checkpoints(run_dir)


def _save_final(
    accelerator: Accelerator, model: torch.nn.Module, tokenizer, recipe: Recipe, run_dir: Path
) -> Path:
    """The final weights and tokenizer (with a real checkpoint's feature extractor)."""
    final = run_dir / FINAL
    weights = _full_weights(accelerator, model)
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(final, state_dict=weights)
        tokenizer.save_pretrained(final)
        for name in EXTRACTOR_FILES:
            if (Path(recipe.model.path) / name).is_file():
                shutil.copy2(Path(recipe.model.path) / name, final / name)
    accelerator.wait_for_everyone()
    return final
