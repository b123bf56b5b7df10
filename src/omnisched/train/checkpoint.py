"""Atomic checkpoints: written to a temporary directory, fsynced, then renamed into place.

A checkpoint holds the trainable weights (safetensors, through ``save_pretrained``), the
optimizer and scheduler state and torch's random generators (``torch.save`` of tensors only,
loaded with ``weights_only=True``), and the sampler state, so a resumed run continues the same
stream with the same dropout draws. A run keeps its newest ``KEEP_CHECKPOINTS`` under
``checkpoints/step-NNNNNN``.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load_file, save_file

from omnisched.errors import CheckpointError
from omnisched.models.lora import is_peft

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Where a run keeps its checkpoint of ``step``."""
    return Path(run_dir) / CHECKPOINTS / f"step-{step:06d}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    found = sorted((Path(run_dir) / CHECKPOINTS).glob("step-*"))
    return found[-1] if found else None


def prune_checkpoints(run_dir: Path) -> None:
    """Removes all but the newest ``KEEP_CHECKPOINTS`` checkpoints of a run."""
    found = sorted((Path(run_dir) / CHECKPOINTS).glob("step-*"))
    for old in found[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)


def _fsync_directory(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_directory(root)


def write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Calls ``fill(tmp_dir)``, fsyncs it and renames it to ``target``, replacing any old one.

    A crash never leaves a partial ``target``, only perhaps a hidden ``.<name>.tmp`` that the
    next write removes; replacing an existing ``target``, a crash between the two renames
    leaves the old one at ``.<name>.old``."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    _fsync_tree(tmp)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old)
    else:
        tmp.rename(target)
    _fsync_directory(target.parent)
    return target


def rng_state() -> dict:
    """The state of torch's random generators (dropout draws from them), as tensors."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Puts torch's random generators back where ``rng_state`` found them."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    target: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict,
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Writes an atomic checkpoint of the trainable weights, optimizer and trainer state;
    ``weights`` is the model's state dict when it is not the model's own (gathered from FSDP
    shards), ``extra`` maps file names to further tensor dicts (saved as safetensors)."""

    def fill(directory: Path) -> None:
        model.save_pretrained(directory, state_dict=weights)
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng_state(),
            },
            directory / OPTIMIZER_FILE,
        )
        (directory / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
        for name, tensors in (extra or {}).items():
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(directory / name))

    return write_atomically(target, fill)


def restore_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """Loads a checkpoint's trainable weights (LoRA adapters, or the model's) into ``model``."""
    if is_peft(model):
        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    else:
        model.load_state_dict(load_file(str(checkpoint / "model.safetensors")), strict=False)


def load_trainer_state(checkpoint: Path) -> dict:
    """The trainer state (step, sampler state) of a checkpoint."""
    return json.loads((Path(checkpoint) / STATE_FILE).read_text(encoding="utf-8"))


def load_optimizer_state(checkpoint: Path) -> dict:
    """Optimizer and scheduler state, loaded without unpickling arbitrary objects."""
    path = Path(checkpoint) / OPTIMIZER_FILE
    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).splitlines()[0]
        raise CheckpointError(
            f"{path}: holds more than tensors; not loaded ({first_line})"
        ) from None
