"""Atomic checkpoints: written to a temporary directory, fsynced, then renamed into place.

A checkpoint holds the trainable weights (safetensors, through ``save_pretrained``), the
optimizer and scheduler state and torch's random generators (``torch.save`` of tensors only,
loaded with ``weights_only=True``), and the sampler state, so a resumed run continues the same
stream with the same dropout draws.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file

from omnisched.errors import CheckpointError

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"


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
