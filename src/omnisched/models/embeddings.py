"""Aligner embeddings for ADS: one vector per example, cached on disk.

Computed through the model adapter (mean-pooled projector output for speech, mean input-token
embedding for text), in batches of similar duration, streamed into a float16 memory-mapped
matrix with an id index. The cache is keyed by the model's weights and config and by the
examples (ids, audio files' sizes and times, input texts), so a change in either recomputes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from omnisched.cachedir import partial_dir, publish
from omnisched.data.dataset import LoadedExample, example_audio
from omnisched.data.example import Example

MATRIX = "embeddings.npy"
INDEX = "ids.json"


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def embedding_key(model_dir: Path, examples: list[Example], root: Path) -> str:
    """Identity of an embedding table: model weights and config, and the examples."""
    digest = hashlib.sha256()
    model_dir = Path(model_dir)
    for file in [*sorted(model_dir.glob("*.safetensors")), model_dir / "config.json"]:
        digest.update(_file_identity(file).encode())
    digest.update((model_dir / "config.json").read_bytes())
    for example in examples:
        audio = _file_identity(Path(root) / example.audio) if example.audio else ""
        digest.update(f"{example.id}\t{audio}\t{example.input_text or ''}\n".encode())
    return digest.hexdigest()[:16]


def load_embeddings(directory: Path, ids: list[str]) -> np.ndarray | None:
    """The cached matrix at ``directory`` (memory-mapped) if it holds exactly ``ids``."""
    directory = Path(directory)
    if not (directory / MATRIX).is_file() or not (directory / INDEX).is_file():
        return None
    if json.loads((directory / INDEX).read_text(encoding="utf-8")) != ids:
        return None
    return np.load(directory / MATRIX, mmap_mode="r")


def aligner_embeddings(
    adapter,
    examples: list[Example],
    root: Path,
    cache: Path,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """The [examples, width] float16 matrix of aligner embeddings, from ``cache`` or computed
    into it. ``adapter`` is a model adapter with ``embed(items)``."""
    ids = [example.id for example in examples]
    cache = Path(cache)
    if (found := load_embeddings(cache, ids)) is not None:
        return found
    partial = partial_dir(cache)

    order = sorted(range(len(examples)), key=lambda i: examples[i].duration_s or 0.0)
    matrix = None
    was_training = adapter.model.training
    adapter.model.eval()
    with tqdm(total=len(examples), desc="aligner embeddings", disable=not progress) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            items = [LoadedExample(examples[i], example_audio(examples[i], root)) for i in chunk]
            with torch.no_grad():
                vectors = adapter.embed(items).cpu().numpy()
            if matrix is None:
                matrix = np.lib.format.open_memmap(
                    partial / MATRIX,
                    mode="w+",
                    dtype=np.float16,
                    shape=(len(examples), vectors.shape[1]),
                )
            matrix[chunk] = vectors.astype(np.float16)
            bar.update(len(chunk))
    adapter.model.train(was_training)
    matrix.flush()
    del matrix
    (partial / INDEX).write_text(json.dumps(ids), encoding="utf-8")
    publish(partial, cache, lambda: load_embeddings(cache, ids) is not None)
    return np.load(cache / MATRIX, mmap_mode="r")


def model_embeddings(
    model_dir: Path, examples: list[Example], root: Path, cache_root: Path, adapter=None
) -> np.ndarray:
    """Aligner embeddings of ``examples`` under the model at ``model_dir``, cached under
    ``cache_root/embeddings/<key>``; loads the model unless an ``adapter`` for it is given."""
    directory = Path(cache_root) / "embeddings" / embedding_key(model_dir, examples, root)
    if (found := load_embeddings(directory, [e.id for e in examples])) is not None:
        return found
    if adapter is None:
        from omnisched.models.adapter import AudioLMAdapter
        from omnisched.models.loading import load_pretrained

        adapter = AudioLMAdapter(*load_pretrained(model_dir))
    return aligner_embeddings(adapter, examples, root, directory)
