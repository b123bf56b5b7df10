"""The skeleton end to end on a real synthesized corpus: pretrain (cached), train, eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tests.conftest import MICRO_PRETRAIN

from omnisched.cli import main
from omnisched.data.manifest import load_split
from omnisched.lab.alignment import AlignerCTC
from omnisched.lab.generic import GENERIC_TASKS, text_examples
from omnisched.lab.pretrain import (
    _sentences,
    _tokenizer_texts,
    as_asr,
    listen_first,
    pretrain,
)
from omnisched.lab.tiny import build_tiny
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models.loading import load_finetuned, load_pretrained
from omnisched.train.metrics_log import read_metrics

TASKS = ["asr", "ssum", "dialect", "emotion"]


def test_pretrained_foundation_is_saved_and_reused(pretrain_corpus: Path, micro_foundation: Path):
    card = json.loads((micro_foundation / "foundation.json").read_text(encoding="utf-8"))
    test_rows = load_split(pretrain_corpus, "test")
    asr_speech = [e for e in test_rows if e.task == "asr" and e.modality == "speech"]
    assert card["asr_test"]["cer"] >= 0
    assert card["asr_test"]["num_pairs"] == len(asr_speech)  # text twins are not ASR
    weights = micro_foundation / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert pretrain(pretrain_corpus, micro_foundation, MICRO_PRETRAIN) == card
    assert weights.stat().st_mtime_ns == before
    assert not list(micro_foundation.glob("*.bin")) and not list(micro_foundation.glob("*.pt"))


def test_the_same_settings_pretrain_the_same_foundation(
    pretrain_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    again = tmp_path / "again"
    pretrain(pretrain_corpus, again, MICRO_PRETRAIN)
    for name in ("init/model.safetensors", "model.safetensors"):
        first, second = load_file(str(micro_foundation / name)), load_file(str(again / name))
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first), name


def test_pretraining_starts_on_short_utterances(pretrain_corpus: Path, micro_foundation: Path):
    (stage,) = MICRO_PRETRAIN.length_stages
    speech = [as_asr(e) for e in load_split(pretrain_corpus, "train") if e.modality == "speech"]
    short = [e for e in speech if e.duration_s <= stage.max_seconds]
    assert 0 < len(short) < len(speech)
    spoken = 4  # repeat, first_word, word_count, reverse: last_word is held out of speech
    written = len(text_examples(_sentences(speech)))
    for run, rows in (("run-at-most-2.5s", short), ("run-all", speech)):
        events = read_metrics(micro_foundation / run / "metrics.jsonl")
        (plan,) = [event["phases"] for event in events if event.get("event") == "plan"]
        assert [(p["phase"], p["examples"]) for p in plan] == [
            ("speech", len(rows) * (1 + spoken) + written)
        ]
    card = json.loads((micro_foundation / "foundation.json").read_text(encoding="utf-8"))
    assert card["listener_test_cer"] >= 0


def test_the_llm_reads_text_first_and_never_hears_the_held_out_task(
    pretrain_corpus: Path, micro_foundation: Path
):
    events = read_metrics(micro_foundation / "run-text" / "metrics.jsonl")
    (plan,) = [event["phases"] for event in events if event.get("event") == "plan"]
    assert {pool.split("/")[1] for pool in plan[0]["shares"]} == {"text"}
    assert {pool.split("/")[0] for pool in plan[0]["shares"]} == set(GENERIC_TASKS)
    events = read_metrics(micro_foundation / "run-all" / "metrics.jsonl")
    (plan,) = [event["phases"] for event in events if event.get("event") == "plan"]
    shares = plan[0]["shares"]
    assert "last_word/text/ar" in shares and "last_word/speech/ar" not in shares
    asr_share = 1 - MICRO_PRETRAIN.generic_speech_share - MICRO_PRETRAIN.text_replay
    assert sum(v for k, v in shares.items() if k.startswith("asr/")) == pytest.approx(asr_share)

    # the listener stays frozen: every speech stage reads one aligner cache of every clip
    (cache,) = (micro_foundation / "cache" / "aligner").iterdir()
    clips = {e.audio for e in load_split(pretrain_corpus, "train") if e.modality == "speech"}
    assert len(json.loads((cache / "ids.json").read_text(encoding="utf-8"))) == len(clips)

    card = json.loads((micro_foundation / "foundation.json").read_text(encoding="utf-8"))
    assert card["held_out"] == "last_word"
    assert set(card["generic_test"]) == set(GENERIC_TASKS) - {"continue"}
    assert all(set(scores) == {"text", "speech"} for scores in card["generic_test"].values())
    held = card["generic_test"]["last_word"]
    if held["text"]:
        assert card["transfer_ratio"] == pytest.approx(held["speech"] / held["text"])


def test_a_joint_last_stage_trains_the_listener_with_the_ctc(pretrain_corpus: Path, tmp_path: Path):
    out = tmp_path / "foundation"
    pretrain(pretrain_corpus, out, MICRO_PRETRAIN.model_copy(update={"joint_last_stage": True}))
    for run, listener_trains in (("run-at-most-2.5s", False), ("run-all", True)):
        events = read_metrics(out / run / "metrics.jsonl")
        trainable = events[0]["parameters"]["audio_encoder"]["trainable"]
        assert (trainable > 0) == listener_trains
        steps = [event for event in events if "total_loss" in event]
        with_ctc = [event["total_loss"] > event["loss"] for event in steps]
        assert with_ctc and all(with_ctc) == listener_trains


def test_the_listener_trains_every_step_on_batches_of_listen_batch_size(pretrain_corpus: Path):
    settings = MICRO_PRETRAIN.model_copy(update={"listen_batch_size": 3, "batch_size": 4})
    rows = load_split(pretrain_corpus, "train")
    speech = [as_asr(e) for e in rows if e.modality == "speech"]
    tokenizer = train_tokenizer(_tokenizer_texts(rows), settings.tokenizer_vocab)
    model = build_tiny(tokenizer, settings.size)
    ctc = AlignerCTC(model, tokenizer, {c for e in speech for c in e.target}, 1.0)
    batches, loss = [], ctc.loss

    def recording(hidden, lengths, targets):
        batches.append(len(targets))
        return loss(hidden, lengths, targets)

    ctc.loss = recording
    listen_first(model, ctc, speech, pretrain_corpus, settings)
    assert batches == [3] * settings.listen_steps


@pytest.fixture(scope="module")
def trained_run(small_corpus: Path, micro_foundation: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    recipe = {
        "name": "skeleton",
        "corpus": str(small_corpus),
        "model": {"path": str(micro_foundation)},
        "schedule": {"strategy": "uniform", "tasks": TASKS},
        "train": {"steps": 6, "batch_size": 8, "lr": 1e-2, "checkpoint_every": 2, "log_every": 1},
        "eval": {"batch_size": 16, "max_new_tokens": 8},
    }
    path = run / "recipe.in.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    assert main(["train", "--recipe", str(path), "--run-dir", str(run)]) == 0
    return run


def test_training_logs_per_task_metrics_and_checkpoints(trained_run: Path):
    log = read_metrics(trained_run / "metrics.jsonl")
    records = [r for r in log if "event" not in r]
    assert [r["phase"] for r in log if r.get("event") == "phase"] == ["uniform"]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    for record in records:
        assert record["grad_norm"] > 0 and record["lr"] > 0 and record["examples_per_s"] > 0
    seen = {key.removeprefix("loss/") for r in records for key in r if key.startswith("loss/")}
    assert seen == set(TASKS)
    assert sorted(p.name for p in (trained_run / "checkpoints").iterdir()) == [
        "step-000004",
        "step-000006",
    ]
    state = json.loads((trained_run / "checkpoints/step-000004/trainer_state.json").read_text())
    assert state["sampler"]["step"] == 4


def test_only_lora_weights_change(trained_run: Path, micro_foundation: Path):
    adapter = load_file(str(trained_run / "final" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in name for name in adapter)
    base, _ = load_pretrained(micro_foundation)
    tuned, _ = load_finetuned(micro_foundation, trained_run / "final")
    base_state, tuned_state = base.state_dict(), tuned.state_dict()
    for name, value in base_state.items():
        if "audio_tower" in name:  # encoder and aligner are frozen
            assert torch.equal(value, tuned_state[name]), name
    changed = [n for n, v in base_state.items() if not torch.equal(v, tuned_state[n])]
    assert changed and all("language_model" in n and "_proj" in n for n in changed)


def test_resume_continues_from_the_last_checkpoint(trained_run: Path, capsys):
    recipe = trained_run / "recipe.yaml"
    assert (
        main(["train", "--recipe", str(recipe), "--run-dir", str(trained_run), "--steps", "8"]) == 0
    )
    assert "resuming from" in capsys.readouterr().out
    log = read_metrics(trained_run / "metrics.jsonl")
    assert [r["step"] for r in log if "event" not in r] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r["phase"] for r in log if r.get("event") == "phase"] == ["uniform"]


def test_eval_writes_per_task_metrics(trained_run: Path):
    assert main(["eval", "--run", str(trained_run), "--limit", "6"]) == 0
    results = json.loads((trained_run / "eval.json").read_text(encoding="utf-8"))["tasks"]
    assert set(results) == set(TASKS)
    assert results["asr"]["cer"] >= 0
    assert 0 <= results["dialect"]["macro_f1"] <= 1
    assert len(results["emotion"]["confusion"]) == 5  # four labels and "unparsed"
    predictions = (trained_run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == 4 * 6
    assert "| dialect | macro_f1 ↑ |" in (trained_run / "eval.md").read_text(encoding="utf-8")


def test_eval_counts_and_warns_of_outputs_cut_at_the_answer_budget(
    micro_foundation: Path, small_corpus: Path, tmp_path: Path
):
    from omnisched.config import EvalSettings
    from omnisched.eval.runs import evaluate_model

    settings = EvalSettings(max_new_tokens=1)  # every transcript is longer than a token
    with pytest.warns(UserWarning, match=r"cut at eval.max_new_tokens=1 .*'asr': 3"):
        results = evaluate_model(
            micro_foundation, small_corpus, "test", ["asr", "dialect"], tmp_path, 3, settings
        )
    assert results["asr"]["cut_outputs"] == 3
    assert "cut_outputs" not in results["dialect"]  # a label word has its own budget


def test_run_report_has_the_table_and_learning_curves(trained_run: Path):
    from omnisched.eval.run_report import write_run_report

    scores = {
        "asr": {"headline": "cer", "cer": 0.5},
        "emotion": {"headline": "macro_f1", "macro_f1": 0.4},
    }
    report = write_run_report(trained_run, "skeleton", {"tuned": scores}, ["a note"])
    text = report.read_text(encoding="utf-8")
    assert "| asr | cer ↓ | 0.500 |" in text and "a note" in text
    assert (trained_run / "learning_curves.png").stat().st_size > 5_000
