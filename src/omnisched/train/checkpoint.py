"""Atomic checkpoints: written to a temporary directory, fsynced, then renamed into place.

A checkpoint holds the trainable weights (safetensors, through ``save_pretrained``), the
optimizer and scheduler state (``torch.save`` of tensors only, loaded with
``weights_only=True``), and the sampler state, so a resumed run continues the same stream.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    directory = os.open(root, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Calls ``fill(tmp_dir)``, fsyncs it and renames it to ``target``, replacing any old one."""
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
    return target


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
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
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
    return torch.load(Path(checkpoint) / OPTIMIZER_FILE, weights_only=True)
