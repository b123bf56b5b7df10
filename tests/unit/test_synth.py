"""The embedded corpus: deterministic, valid, speaker-disjoint, balanced, and with emotion in the
prosody only (checked on the scripts, so the large-size checks need no audio)."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from omnisched.data.card import SYNTH_PARAMS, corpus_card
from omnisched.data.example import Example
from omnisched.data.manifest import (
    SPLITS,
    corpus_fingerprint,
    manifest_path,
    read_manifest,
    write_manifest,
)
from omnisched.errors import ConfigError
from omnisched.lab.synth.corpus import add_noise, synthesize_corpus
from omnisched.lab.synth.espeak import voice_variants
from omnisched.lab.synth.scripts import corpus_scripts, split_sizes, task_scripts
from omnisched.lab.synth.speakers import VARIANTS
from omnisched.tasks import TASKS

SIZE = 8


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus, seed 0, rendered by two workers."""
    root = tmp_path_factory.mktemp("synth") / "corpus"
    synthesize_corpus(root, SIZE, seed=0, progress=False, workers=2)
    return root


def _read(root: Path) -> dict[str, list[Example]]:
    manifests = {split: read_manifest(manifest_path(root, split)) for split in SPLITS}
    assert all(not manifest.quarantined for manifest in manifests.values())
    return {split: manifest.examples for split, manifest in manifests.items()}


# 1. Determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_corpus_and_another_seed_does_not(
    corpus: Path, tmp_path: Path
) -> None:
    other = tmp_path / "corpus"
    synthesize_corpus(other, SIZE, seed=0, progress=False, workers=1)  # other worker count too
    assert corpus_fingerprint(other) == corpus_fingerprint(corpus)
    synthesize_corpus(other, SIZE, seed=1, progress=False)  # over the previous corpus
    assert corpus_fingerprint(other) != corpus_fingerprint(corpus)
    assert json.loads((other / SYNTH_PARAMS).read_text())["seed"] == 1


def test_refuses_to_write_into_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        synthesize_corpus(tmp_path, SIZE, seed=0, progress=False)


# 2. Validity -----------------------------------------------------------------------------------


def test_manifests_are_valid_and_audio_matches_its_rows(corpus: Path) -> None:
    examples = _read(corpus)
    for split, rows in examples.items():
        assert {row.task for row in rows} == set(TASKS), split
        by_id = {row.id: row for row in rows}
        for row in rows:
            if row.modality == "text":
                continue
            twin = by_id[row.meta["twin"]]
            assert (twin.modality, twin.target, twin.label) == ("text", row.target, row.label)
            assert twin.input_text == row.meta["transcript"]
            info = sf.info(str(corpus / row.audio))
            assert (info.samplerate, info.channels) == (16_000, 1)
            assert info.frames / 16_000 == pytest.approx(row.duration_s, rel=0.01)


def test_noise_is_added_at_the_requested_snr() -> None:
    t = np.arange(16_000) / 16_000
    clean = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    noisy = add_noise(clean, 10.0, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)


# 3. Speakers -----------------------------------------------------------------------------------


def test_speakers_are_disjoint_across_splits_and_voices_are_many(corpus: Path) -> None:
    scripts = list(corpus_scripts(800, seed=0))
    speakers = {split: {s.speaker.id for s in scripts if s.split == split} for split in SPLITS}
    assert not speakers["train"] & speakers["dev"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["dev"] & speakers["test"]
    assert len({s.speaker.variant for s in scripts}) >= 20
    assert len({s.speaker.variant for s in scripts if s.language == "en"}) >= 5
    assert set(VARIANTS["ar"]) | set(VARIANTS["en"]) <= set(voice_variants())
    rendered = {
        split: {row.meta["speaker"] for row in rows if row.modality == "speech"}
        for split, rows in _read(corpus).items()
    }
    assert not rendered["train"] & (rendered["dev"] | rendered["test"])


# 4. Emotion lives in the prosody, dialect in the words -----------------------------------------


def _bag_of_words_scores(task: str) -> tuple[float, float, int]:
    """Accuracy and macro-F1 of a bag-of-words classifier on the transcripts of ``task``."""
    train = list(task_scripts(task, "train", 2000, seed=0))
    test = list(task_scripts(task, "test", 400, seed=0))
    vectorizer = CountVectorizer()
    model = LogisticRegression(max_iter=2000)
    model.fit(vectorizer.fit_transform([s.text for s in train]), [s.label for s in train])
    predicted = model.predict(vectorizer.transform([s.text for s in test]))
    truth = [s.label for s in test]
    return accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro"), len(test)


def test_emotion_transcripts_score_at_chance_while_dialect_transcripts_do_not() -> None:
    accuracy, macro_f1, n = _bag_of_words_scores("emotion")
    assert abs(accuracy - 0.25) <= 3 * math.sqrt(0.25 * 0.75 / n)
    assert macro_f1 <= 0.35
    dialect_accuracy, _, _ = _bag_of_words_scores("dialect")
    assert dialect_accuracy >= 0.9


def test_emotion_prosody_follows_the_profiles() -> None:
    scripts = list(task_scripts("emotion", "train", 800, seed=0))
    rate = {
        label: np.mean([s.prosody.rate / s.speaker.rate for s in scripts if s.label == label])
        for label in TASKS["emotion"].labels
    }
    volume = {
        label: np.mean([s.prosody.volume for s in scripts if s.label == label])
        for label in TASKS["emotion"].labels
    }
    assert rate["sad"] < rate["neutral"] < rate["happy"] < rate["angry"]
    assert volume["sad"] < volume["neutral"] < volume["happy"] < volume["angry"]
    assert all(s.markup and s.markup.startswith("<speak>") for s in scripts)


# 5. Balance, SLU and summaries ------------------------------------------------------------------


@pytest.mark.parametrize("task", ["dialect", "emotion"])
def test_labels_balance_exactly_in_every_split(task: str, corpus: Path) -> None:
    for split, count in split_sizes(100).items():
        labels = Counter(s.label for s in task_scripts(task, split, count, seed=3))
        assert set(labels) == set(TASKS[task].labels) and len(set(labels.values())) == 1
    for split, rows in _read(corpus).items():
        labels = Counter(row.label for row in rows if row.task == task)
        assert len(set(labels.values())) == 1 and len(labels) == len(TASKS[task].labels), split


def test_slu_targets_are_one_line_json_with_spoken_fillers() -> None:
    scripts = list(task_scripts("slu", "train", 400, seed=0))
    assert Counter(s.language for s in scripts) == {"ar": 200, "en": 200}
    for script in scripts:
        target = json.loads(script.target)
        assert set(target) == {"scenario", "action", "entities"}
        assert "\n" not in script.target
        position = 0
        for entity in target["entities"]:
            assert set(entity) == {"type", "filler"}
            position = script.text.index(entity["filler"], position)  # spoken, in order


def test_ssum_headlines_come_from_the_spoken_sentence() -> None:
    overlaps = []
    for script in task_scripts("ssum", "train", 400, seed=0):
        spoken, headline = script.text.split(), script.target.split()
        assert headline[-2] == "في" and headline[-1] in spoken  # the place
        assert script.target.split(" ")[0] in spoken  # the actor
        assert len(headline) < len(spoken)
        overlaps.append(sum(word in spoken for word in headline) / len(headline))
    assert min(overlaps) >= 0.5 and np.mean(overlaps) >= 0.7


def test_asr_test_sentences_are_mostly_unseen_in_train() -> None:
    sizes = split_sizes(800)
    train = {s.text for s in task_scripts("asr", "train", sizes["train"], seed=0)}
    test = [s.text for s in task_scripts("asr", "test", sizes["test"], seed=0)]
    assert sum(sentence not in train for sentence in test) / len(test) >= 0.9


# 6. Card ---------------------------------------------------------------------------------------


def test_card_describes_the_corpus(corpus: Path) -> None:
    card = (corpus / "CORPUS.md").read_text(encoding="utf-8")
    assert "seed **0**, size **8**" in card
    assert "| task | label | speech/ar | speech/en | text/ar | text/en |" in card
    assert "| dialect | msa | 2 | 0 | 2 | 0 |" in card
    assert "hours of audio" in card and "median s" in card
    assert corpus_fingerprint(corpus) in card


def test_card_works_on_a_user_corpus_without_synth_json(corpus: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    shutil.copytree(corpus, user)
    (user / SYNTH_PARAMS).unlink()
    write_manifest(  # rows without speaker meta, as a user corpus may have
        manifest_path(user, "dev"),
        [Example(id="q1", task="asr", modality="text", language="ar", input_text="a", target="a")],
    )
    card = corpus_card(user, _read(user))
    assert f"No {SYNTH_PARAMS}" in card
    assert "| asr | — | 0 | 0 | 1 | 0 |" in card
    assert "no speaker in the rows' meta" in card
    assert corpus_fingerprint(user) in card
