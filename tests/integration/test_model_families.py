"""Bring your own checkpoint: each family saved as a user would have it, then loaded, trained and
evaluated through exactly the path a user takes (`omnisched train --model DIR`, `eval --run`).

The checkpoints are tiny random-config models of the real classes with their processors'
files (Whisper feature extractor, tokenizer), written by ``save_pretrained``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from tests.conftest import MICRO
from transformers import (
    Qwen2_5OmniConfig,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from omnisched.cli import main
from omnisched.data.dataset import CachedAudioDataset, ExampleDataset
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError
from omnisched.lab.pretrain import _tokenizer_texts
from omnisched.lab.tiny import build_tiny_qwen2_audio, tiny_config
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models import families
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.aligner_cache import fill_cache
from omnisched.models.families import QWEN2_5_OMNI, QWEN2_AUDIO, family_of, register_family
from omnisched.models.features import N_MELS
from omnisched.models.loading import load_pretrained
from omnisched.train.metrics_log import read_metrics

TASKS = ["asr", "dialect"]


def _extractor() -> WhisperFeatureExtractor:
    # a setting that differs from our default, to see that the checkpoint's own one is used
    return WhisperFeatureExtractor(feature_size=N_MELS, sampling_rate=16000, padding_value=0.5)


def _save_checkpoint(family: str, corpus: Path, out: Path) -> Path:
    torch.manual_seed(0)
    tokenizer = train_tokenizer(_tokenizer_texts(load_split(corpus, "train")), 400)
    if family == "qwen2_audio":
        build_tiny_qwen2_audio(tokenizer, MICRO).save_pretrained(out)
        Qwen2AudioProcessor(feature_extractor=_extractor(), tokenizer=tokenizer).save_pretrained(
            out
        )
    else:  # a whole Qwen2.5-Omni model, as released: the thinker inside a larger checkpoint
        config = Qwen2_5OmniConfig(
            thinker_config=tiny_config(tokenizer, MICRO).to_dict(), enable_audio_output=False
        )
        Qwen2_5OmniForConditionalGeneration(config).save_pretrained(out)
        _extractor().save_pretrained(out)
        tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("family", ["qwen2_5_omni", "qwen2_audio"])
def test_a_users_checkpoint_loads_trains_and_generates(
    family: str, small_corpus: Path, tmp_path: Path, capsys
):
    checkpoint = _save_checkpoint(family, small_corpus, tmp_path / "checkpoint")
    model, tokenizer = load_pretrained(checkpoint)
    assert family_of(model) is {"qwen2_5_omni": QWEN2_5_OMNI, "qwen2_audio": QWEN2_AUDIO}[family]
    adapter = AudioLMAdapter(model, tokenizer)
    assert adapter.features.extractor.padding_value == 0.5  # the checkpoint's extractor

    recipe = {
        "name": f"byo-{family}",
        "corpus": str(small_corpus),
        "model": {
            "path": "unused/overridden/by/--model",
            "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
            "freeze": {"audio_encoder": True, "aligner": False, "llm": True},
            "gradient_checkpointing": True,
        },
        "schedule": {"strategy": "uniform", "tasks": TASKS},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "log_every": 1},
        "eval": {"batch_size": 4, "max_new_tokens": 4, "limit_per_task": 2},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    run = tmp_path / "run"
    assert (
        main(["train", "--recipe", str(path), "--run-dir", str(run), "--model", str(checkpoint)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "trainable parameters: audio_encoder 0/" in printed

    records = read_metrics(run / "metrics.jsonl")
    counts = next(r for r in records if r.get("event") == "start")["parameters"]
    assert counts["aligner"]["trainable"] == counts["aligner"]["total"] > 0
    assert counts["audio_encoder"]["trainable"] == 0 and counts["lora"]["trainable"] > 0
    steps = [r for r in records if "step" in r and "loss" in r]
    assert [r["step"] for r in steps] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in steps)

    assert main(["eval", "--run", str(run), "--limit", "2"]) == 0
    results = json.loads((run / "eval.json").read_text(encoding="utf-8"))["tasks"]
    assert set(results) == set(TASKS)
    predictions = (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == 2 * len(TASKS)


def test_qwen2_audio_aligner_output_matches_its_own_forward(small_corpus: Path, tmp_path: Path):
    """Aligner embeddings for Qwen2-Audio are what its forward scatters into the prompt."""
    checkpoint = _save_checkpoint("qwen2_audio", small_corpus, tmp_path / "checkpoint")
    model, tokenizer = load_pretrained(checkpoint)
    model.eval()
    adapter = AudioLMAdapter(model, tokenizer)
    from omnisched.data.dataset import ExampleDataset

    rows = [e for e in load_split(small_corpus, "train") if e.modality == "speech"][:3]
    items = [ExampleDataset(rows, small_corpus)[i] for i in range(len(rows))]
    inputs = adapter.collate(items)
    assert inputs["input_features"].shape[-1] == QWEN2_AUDIO.fixed_frames
    captured = {}
    projector = model.model.multi_modal_projector
    handle = projector.register_forward_hook(lambda _m, _i, out: captured.update(out=out))
    with torch.no_grad():
        model(**inputs)
    handle.remove()
    counts = adapter.audio_token_counts(inputs["feature_attention_mask"].sum(-1))
    expected = torch.cat([row[:n] for row, n in zip(captured["out"], counts, strict=True)])
    with torch.no_grad():
        got = QWEN2_AUDIO.aligner_output(
            model, inputs["input_features"], inputs["feature_attention_mask"]
        )
    torch.testing.assert_close(got, expected)
    assert adapter.embed(items).shape == (3, model.config.text_config.hidden_size)


@pytest.mark.parametrize("family", ["qwen2_5_omni", "qwen2_audio"])
def test_cached_aligner_rows_give_the_losses_and_answers_of_the_audio(
    family: str, small_corpus: Path, tmp_path: Path
):
    """The frozen-encoder cache (float16 rows) against the encoder run on the audio: answer
    losses agree to 1e-3 (relative), also split in parts as on out-of-memory, and greedy
    answers are the same."""
    model, tokenizer = load_pretrained(_save_checkpoint(family, small_corpus, tmp_path / "ckpt"))
    model.eval()
    adapter = AudioLMAdapter(model, tokenizer)
    rows = [e for e in load_split(small_corpus, "train") if e.task in TASKS]
    rows = [e for e in rows if e.modality == "speech"][:6] + [
        e for e in rows if e.modality == "text"
    ][:2]
    cache = fill_cache(adapter, rows, small_corpus, tmp_path / "cache", progress=False)
    assert fill_cache(adapter, rows, small_corpus, tmp_path / "cache").directory == cache.directory
    assert len(cache.offsets) == 7  # six clips
    audio = ExampleDataset(rows, small_corpus)
    cached = CachedAudioDataset(rows, small_corpus, cache)
    items = {"audio": [audio[i] for i in range(8)], "cached": [cached[i] for i in range(8)]}
    losses = {}
    with torch.no_grad():
        for name, batch in items.items():
            inputs = adapter.collate(batch)
            logits = model(**adapter.forward_inputs(inputs)).logits
            losses[name] = float(adapter.answer_loss_sum(logits, inputs["labels"])[0])
            parts = adapter.split_batch(inputs, 3)
            split = sum(
                float(
                    adapter.answer_loss_sum(model(**adapter.forward_inputs(p)).logits, p["labels"])[
                        0
                    ]
                )
                for p in parts
            )
            assert split == pytest.approx(losses[name], rel=1e-4)
    assert losses["cached"] == pytest.approx(losses["audio"], rel=1e-3)
    assert adapter.generate(items["cached"], 6) == adapter.generate(items["audio"], 6)


@pytest.mark.parametrize("family", ["qwen2_5_omni", "qwen2_audio"])
def test_a_familys_audio_lengths_are_what_its_tower_computes(
    family: str, small_corpus: Path, tmp_path: Path
):
    """The family record's length function agrees with the audio tower's own (private) one."""
    model, _ = load_pretrained(_save_checkpoint(family, small_corpus, tmp_path / "checkpoint"))
    frames = torch.arange(1, 3001)
    ours = family_of(model).audio_lengths(frames)
    theirs = model.model.audio_tower._get_feat_extract_output_lengths(frames)
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference)


def test_a_family_declared_outside_the_package_loads_its_model_type(monkeypatch):
    monkeypatch.setattr(families, "FAMILIES", list(families.FAMILIES))
    mine = replace(QWEN2_AUDIO, name="my_audio_lm", model_types=("my_audio_lm",))
    assert register_family(mine) is families.family_for_type("my_audio_lm")
    with pytest.raises(ConfigError, match=r"model_type \['qwen2_audio'\] is already loaded"):
        register_family(replace(mine, name="again", model_types=("qwen2_audio",)))
