"""The audio-LM adapter on the real thinker class at micro size, with real eSpeak audio."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import MICRO

from omnisched.data.audio import resample, to_float
from omnisched.data.dataset import LoadedExample
from omnisched.data.example import Example
from omnisched.lab.synth.espeak import Prosody, speaker
from omnisched.lab.tiny import build_tiny
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models.adapter import IGNORE_INDEX, AudioLMAdapter
from omnisched.tasks import TASKS

SENTENCES = ["ذهب الولد إلى المدرسة", "شربت البنت القهوة في الصباح الباكر"]


def spoken(text: str) -> np.ndarray:
    voice = speaker()
    return resample(to_float(voice.synthesize(text, "ar+m3", Prosody())), voice.sample_rate)


@pytest.fixture(scope="module")
def adapter() -> AudioLMAdapter:
    torch.manual_seed(0)
    prompts = [task.prompt("ar") for task in TASKS.values()]
    tokenizer = train_tokenizer(SENTENCES * 5 + prompts, vocab_size=400)
    return AudioLMAdapter(build_tiny(tokenizer, MICRO).eval(), tokenizer)


@pytest.fixture(scope="module")
def items() -> list[LoadedExample]:
    speech = [
        LoadedExample(
            Example(
                id=f"s{i}",
                task="asr",
                modality="speech",
                language="ar",
                audio=f"s{i}.flac",
                duration_s=1.0,
                target=text,
            ),
            spoken(text),
        )
        for i, text in enumerate(SENTENCES)
    ]
    text = LoadedExample(
        Example(
            id="t0",
            task="dialect",
            modality="text",
            language="ar",
            input_text=SENTENCES[0],
            target="msa",
            label="msa",
        ),
        None,
    )
    return [*speech, text]


def test_audio_placeholders_match_what_the_audio_tower_emits(adapter, items):
    batch = adapter.collate(items)
    placeholders = (batch["input_ids"] == adapter.audio_id).sum(-1).tolist()
    features = adapter.thinker.get_audio_features(
        batch["input_features"], batch["feature_attention_mask"]
    ).last_hidden_state
    assert placeholders[2] == 0
    assert sum(placeholders) == features.shape[0]
    expected = [len(w.waveform) // 160 for w in items[:2]]  # 100 mel frames per second
    assert batch["feature_attention_mask"].sum(-1).tolist() == expected
    assert adapter.model(**batch).loss.isfinite()


def test_only_the_answer_is_supervised(adapter, items):
    batch = adapter.collate(items)
    for row, item in enumerate(items):
        supervised = batch["labels"][row][batch["labels"][row] != IGNORE_INDEX]
        assert supervised[-1].item() == adapter.end_id
        assert adapter.tokenizer.decode(supervised[:-1]) == item.example.target


def test_per_example_loss_matches_the_model_loss_for_one_example(adapter, items):
    batch = adapter.collate(items[:1])
    output = adapter.model(**batch)
    mine = adapter.per_example_loss(output.logits, batch["labels"])
    assert mine.item() == pytest.approx(output.loss.item(), rel=1e-4)


def test_answer_loss_sum_over_a_split_batch_is_the_whole_batch_token_mean(adapter, items):
    """What the loop divides by the global answer-token count: the pieces of a global batch
    add up to the model's own token-mean loss over the whole batch."""
    whole = adapter.collate(items)
    output = adapter.model(**whole)
    total, count = torch.zeros(()), torch.zeros((), dtype=torch.long)
    for part in (items[:1], items[1:]):  # two "ranks", different answer lengths
        batch = adapter.collate(part)
        labels = batch.pop("labels")
        part_sum, part_count = adapter.answer_loss_sum(adapter.model(**batch).logits, labels)
        total, count = total + part_sum, count + part_count
    assert count.item() == (whole["labels"][:, 1:] != IGNORE_INDEX).sum().item()
    assert (total / count).item() == pytest.approx(output.loss.item(), rel=1e-5)


def test_batched_generation_equals_one_by_one(adapter, items):
    together = adapter.generate(items, max_new_tokens=6)
    alone = [adapter.generate([item], max_new_tokens=6)[0] for item in items]
    assert together == alone


def test_aligner_ctc_reaches_the_audio_encoder_and_skips_text_rows(adapter, items):
    from omnisched.lab.alignment import AlignerCTC

    alphabet = {c for item in items for c in item.example.target}
    ctc = AlignerCTC(adapter.thinker, adapter.tokenizer, alphabet, weight=1.0)
    batch = adapter.collate(items)
    adapter.model.zero_grad()
    adapter.model(**batch)
    loss = ctc(batch)
    assert loss.item() > 0
    loss.backward()
    encoder_grad = adapter.thinker.model.audio_tower.conv1.weight.grad
    assert encoder_grad is not None and encoder_grad.abs().sum() > 0
    adapter.model.zero_grad()
    adapter.model(**adapter.collate(items[2:]))  # a text-only batch has no audio to align
    assert ctc(adapter.collate(items[2:])).item() == 0


def test_aligner_ctc_owns_only_its_head(adapter):
    from omnisched.lab.alignment import AlignerCTC

    ctc = AlignerCTC(adapter.thinker, adapter.tokenizer, "abc", weight=1.0)
    assert ctc.encode("cab?") == [3, 1, 2]
    assert set(ctc.state_dict()) == {"head.weight", "head.bias"}
