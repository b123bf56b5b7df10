"""The shipped foundation: small enough for git, loadable offline, and carrying its card."""

from __future__ import annotations

from omnisched.lab.foundation import SHIPPED_FILES, shipped_card, shipped_foundation
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.families import QWEN2_5_OMNI
from omnisched.models.loading import load_pretrained
from omnisched.tasks import GENERIC

LIMIT = 20 * 1024 * 1024


def test_the_shipped_foundation_fits_the_size_limit_and_loads():
    folder = shipped_foundation()
    assert sum((folder / name).stat().st_size for name in SHIPPED_FILES) <= LIMIT
    model, tokenizer = load_pretrained(folder)
    assert AudioLMAdapter(model, tokenizer).family is QWEN2_5_OMNI


def test_the_card_says_how_it_was_made_and_what_it_scores():
    card = shipped_card()
    for field in ("command", "settings", "corpus_fingerprint", "corpus_synth", "train_seconds"):
        assert card[field]
    assert 0 <= card["asr_test"]["cer"] <= 1
    spoken = {task.name for task in GENERIC} - {"continue"}
    assert set(card["generic_test"]) == spoken
    held = card["generic_test"][card["held_out"]]
    expected = held["speech"] / held["text"] if held["text"] else None
    assert card["transfer_ratio"] == expected
