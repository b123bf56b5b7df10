"""Long runs: non-finite steps are skipped, logged and bounded; gradients are clipped as
configured; a batch that runs out of memory is split in parts with the same gradient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from accelerate import Accelerator
from safetensors.torch import load_file
from transformers import Qwen2_5OmniThinkerForConditionalGeneration as Thinker

from omnisched.cli import main
from omnisched.config import FreezeSettings, Recipe
from omnisched.data.dataset import ExampleDataset
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError, TrainingError
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.loading import load_pretrained
from omnisched.models.lora import prepare_for_finetuning
from omnisched.train.checkpoint import load_optimizer_state
from omnisched.train.loop import train
from omnisched.train.metrics_log import read_metrics
from omnisched.train.step import forward_backward


def _train(corpus: Path, foundation: Path, run: Path, **train) -> int:
    """``omnisched train`` on text rows (fast on CPU) with these train settings."""
    recipe = {
        "name": "long",
        "corpus": str(corpus),
        "model": {"path": str(foundation)},
        "schedule": {"tasks": ["asr", "dialect"], "modalities": ["text"]},
        "train": {"batch_size": 4, "lr": 1e-2, "warmup_steps": 0, "log_every": 1, **train},
    }
    path = run.parent / f"{run.name}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return main(["train", "--recipe", str(path), "--run-dir", str(run)])


@pytest.fixture
def nan_loss_at(monkeypatch):
    """Makes the thinker's logits (so its loss) NaN at the given (1-based) forward calls."""

    def install(*calls: int) -> None:
        forward, count = Thinker.forward, [0]

        def forward_with_nan(self, *args, **kwargs):
            output = forward(self, *args, **kwargs)
            count[0] += 1
            if count[0] in calls:
                output.logits = output.logits * float("nan")
            return output

        monkeypatch.setattr(Thinker, "forward", forward_with_nan)

    return install


def test_a_non_finite_step_is_skipped_without_an_update_and_logged(
    small_corpus: Path, micro_foundation: Path, tmp_path: Path, nan_loss_at
):
    nan_loss_at(3)
    run = tmp_path / "run"
    assert _train(small_corpus, micro_foundation, run, steps=3, checkpoint_every=1) == 0
    events = [r for r in read_metrics(run / "metrics.jsonl") if r.get("event") == "nonfinite"]
    assert [(e["step"], e["loss"], e["count"]) for e in events] == [(3, None, 1)]
    before, after = (run / "checkpoints" / f"step-00000{s}" for s in (2, 3))
    weights = [load_file(str(c / "adapter_model.safetensors")) for c in (before, after)]
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name
    optimizers = [load_optimizer_state(c) for c in (before, after)]
    assert [o["optimizer"]["state"][0]["step"].item() for o in optimizers] == [2, 2]
    assert [o["scheduler"]["last_epoch"] for o in optimizers] == [2, 3]  # the schedule goes on
    assert json.loads((after / "trainer_state.json").read_text())["nonfinite"] == 1


def test_too_many_non_finite_steps_stop_the_run_with_a_clear_error(
    small_corpus: Path, micro_foundation: Path, tmp_path: Path, nan_loss_at, capsys
):
    nan_loss_at(2, 3)
    run = tmp_path / "run"
    assert _train(small_corpus, micro_foundation, run, steps=6, max_nonfinite_steps=1) == 2
    error = capsys.readouterr().err
    assert "step 3: loss or gradient not finite at 2 steps" in error
    assert "train.max_nonfinite_steps (1)" in error
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records if r.get("event") == "nonfinite"] == [2, 3]


def test_gradients_are_clipped_to_max_grad_norm(
    small_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    """Adam's first update is lr·g/(|g| + eps): about lr per weight for a gradient clipped to
    norm 1, but about lr·g/eps, a 10⁵ times smaller step, for one clipped to norm 1e-12."""
    changes, norms = [], []
    for max_norm in (1.0, 1e-12):
        run = tmp_path / f"clip-{max_norm}"
        assert _train(small_corpus, micro_foundation, run, steps=1, max_grad_norm=max_norm) == 0
        update = load_file(str(run / "final" / "adapter_model.safetensors"))
        b_weights = [v for name, v in update.items() if "lora_B" in name]  # B starts at zero
        changes.append(max(v.abs().max().item() for v in b_weights))
        norms.append([r for r in read_metrics(run / "metrics.jsonl") if "grad_norm" in r])
    assert norms[0][0]["grad_norm"] == pytest.approx(norms[1][0]["grad_norm"], rel=1e-5)
    assert norms[0][0]["grad_norm"] > 1e-3  # the logged norm is the one before clipping
    assert changes[0] > 1e-3 and changes[1] < 1e-4 * changes[0]


@pytest.fixture(scope="module")
def full_model(micro_foundation: Path):
    """The micro thinker with every part trainable, its adapter, and a mixed batch (speech
    and text rows interleaved, so features must follow their rows when split)."""
    model, tokenizer = load_pretrained(micro_foundation)
    model = prepare_for_finetuning(model, FreezeSettings(audio_encoder=False, llm=False), None)
    model.eval()  # no dropout: both gradients come from the same function
    return model, AudioLMAdapter(model, tokenizer)


def _mixed_batch(corpus: Path, adapter: AudioLMAdapter) -> dict[str, torch.Tensor]:
    rows = load_split(corpus, "train")
    speech = [e for e in rows if e.modality == "speech"][:3]
    text = [e for e in rows if e.modality == "text"][:3]
    chosen = [speech[0], text[0], speech[1], text[1], text[2], speech[2]]
    dataset = ExampleDataset(chosen, corpus)
    return adapter.collate([dataset[i] for i in range(len(chosen))])


def _gradients(model, adapter, inputs, monkeypatch=None, max_rows=None):
    if max_rows is not None:
        forward = Thinker.forward

        def forward_or_oom(self, *args, **kwargs):
            if kwargs["input_ids"].shape[0] > max_rows:
                raise torch.OutOfMemoryError("CUDA out of memory (injected)")
            return forward(self, *args, **kwargs)

        monkeypatch.setattr(Thinker, "forward", forward_or_oom)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    optimizer.zero_grad(set_to_none=True)
    result = forward_backward(Accelerator(cpu=True), model, adapter, inputs, optimizer)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    optimizer.zero_grad(set_to_none=True)
    if monkeypatch is not None:
        monkeypatch.undo()
    return result, grads


@pytest.mark.parametrize(("max_rows", "parts"), [(4, 2), (1, 8)])
def test_out_of_memory_splits_the_batch_with_the_same_gradient(
    full_model, small_corpus: Path, monkeypatch, max_rows: int, parts: int
):
    model, adapter = full_model
    inputs = _mixed_batch(small_corpus, adapter)
    whole, expected = _gradients(model, adapter, inputs)
    split, grads = _gradients(model, adapter, inputs, monkeypatch, max_rows)
    assert (whole.parts, split.parts) == (1, min(parts, 6))
    assert any("audio_tower" in name for name in expected) and grads.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(grads[name], value, rtol=1e-4, atol=1e-6, msg=name)
    torch.testing.assert_close(split.loss, whole.loss)
    assert split.example_losses == pytest.approx(whole.example_losses, rel=1e-5)


def test_out_of_memory_on_a_single_example_is_an_error(full_model, small_corpus, monkeypatch):
    model, adapter = full_model
    inputs = _mixed_batch(small_corpus, adapter)
    with pytest.raises(TrainingError, match="single example"):
        _gradients(model, adapter, inputs, monkeypatch, max_rows=0)


def test_training_logs_the_split_and_goes_on(
    small_corpus: Path, micro_foundation: Path, tmp_path: Path, monkeypatch
):
    forward = Thinker.forward

    def forward_or_oom(self, *args, **kwargs):
        if kwargs["input_ids"].shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Thinker, "forward", forward_or_oom)
    run = tmp_path / "run"
    assert _train(small_corpus, micro_foundation, run, steps=2) == 0
    records = read_metrics(run / "metrics.jsonl")
    assert [(r["step"], r["parts"]) for r in records if r.get("event") == "oom_split"] == [
        (1, 2),
        (2, 2),
    ]
    assert [r["step"] for r in records if "loss" in r and r.get("event") is None] == [1, 2]


def test_evaluation_during_training_is_passed_in_and_required_by_eval_every(tmp_path: Path):
    """The loop does not import the evaluation: a recipe that evaluates every few steps is
    refused up front when none is given."""
    recipe = Recipe(name="dev", eval={"every": 5})
    with pytest.raises(ConfigError, match="evaluate_on_dev"):
        train(recipe, tmp_path / "run")
    assert not (tmp_path / "run").exists()
