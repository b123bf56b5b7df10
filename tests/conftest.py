"""Shared fixtures: a small synthesized corpus and a tiny foundation, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from omnisched.lab.settings import LengthStage, PretrainSettings
from omnisched.lab.tiny import TinySize

MICRO = TinySize(
    audio_layers=1,
    audio_width=64,
    audio_heads=2,
    text_layers=1,
    text_width=64,
    text_heads=2,
    text_kv_heads=1,
)


# pre-training of the micro foundation: a few steps of each stage
MICRO_PRETRAIN = PretrainSettings(
    tokenizer_vocab=400,
    size=MICRO,
    steps=4,
    batch_size=4,
    warmup_steps=1,
    listen_steps=3,
    listen_batch_size=4,
    length_stages=[LengthStage(max_seconds=2.5, steps=2)],
    text_steps=3,
    text_batch_size=4,
    generic_test_rows=4,
)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real synthesized corpus with 12 train speech rows per task."""
    from omnisched.lab.synth.corpus import synthesize_corpus

    root = tmp_path_factory.mktemp("corpus") / "small"
    synthesize_corpus(root, size=12, seed=3, progress=False)
    return root


@pytest.fixture(scope="session")
def pretrain_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro foundation's own corpus: other rows than ``small_corpus``, as in the demo."""
    from omnisched.lab.synth.corpus import synthesize_corpus

    root = tmp_path_factory.mktemp("corpus") / "pretrain"
    synthesize_corpus(root, size=12, seed=4, progress=False)
    return root


@pytest.fixture(scope="session")
def micro_foundation(pretrain_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A micro foundation pre-trained for a few steps on ``pretrain_corpus`` (saved to disk)."""
    from omnisched.lab.pretrain import pretrain

    out = tmp_path_factory.mktemp("foundation")
    pretrain(pretrain_corpus, out, MICRO_PRETRAIN)
    return out


@pytest.fixture
def restore_known_tasks():
    """Tasks a test declares are forgotten after it (the registry is shared by the session)."""
    from omnisched.tasks import KNOWN_TASKS

    before = dict(KNOWN_TASKS)
    yield
    KNOWN_TASKS.clear()
    KNOWN_TASKS.update(before)
