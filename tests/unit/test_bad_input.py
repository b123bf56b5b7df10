"""The bad-input corpus (tests/data/bad): each class is quarantined with file, line, field and
reason or kept with a note; every valid row is kept; ``--strict`` stops on the first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.data.bad.build import build

from omnisched.cli import main
from omnisched.data.audio import SAMPLE_RATE, load_audio
from omnisched.data.dataset import ExampleDataset
from omnisched.data.manifest import DataSettings, Manifest, read_manifest
from omnisched.errors import AudioError, ManifestError

# (class, line, field, words of the reason)
QUARANTINED = [
    ("missing audio file", 3, "audio", "audio file not found: audio/none.wav"),
    ("truncated FLAC", 4, "audio", "unreadable audio"),
    ("truncated WAV", 5, "duration_s", "holds 0.499 s (more than 5% apart)"),
    ("unreadable audio", 6, "audio", "unreadable audio"),
    ("zero-length audio", 7, "audio", "zero-length audio"),
    ("NaN samples", 8, "audio", "NaN or infinite samples"),
    ("infinite samples", 9, "audio", "NaN or infinite samples"),
    ("over 30 s, long_audio error", 12, "audio", "longer than the 30 s feature window"),
    ("over 30 s, ASR", 13, "audio", "longer than the 30 s feature window"),
    ("empty target", 14, "target", "empty target"),
    ("unknown task", 16, "task", "unknown task 'translation'"),
    ("label outside the set", 17, "label", "'syrian' is not in the label set of 'dialect'"),
    ("duplicate id", 18, "id", "duplicate id 'ok-speech'"),
    ("invalid UTF-8", 19, "<bytes>", "invalid UTF-8"),
    ("malformed JSON", 20, "<json>", "malformed JSON"),
    ("JSON not an object", 21, "<json>", "a row must be a JSON object"),
    ("missing required field", 22, "target", "Field required"),
    ("text row with audio", 23, "audio", "text row carries audio"),
    ("speech row without audio", 24, "audio", "speech row without audio"),
    ("outside the corpus root", 25, "audio", "outside the corpus root"),
    ("symlink loop", 26, "audio", "symlink loop at audio/loop-a.wav"),
    ("non-numeric duration", 27, "duration_s", "valid number"),
    ("negative duration", 28, "duration_s", "greater than 0"),
    ("duration off by more than 5%", 29, "duration_s", "states 1.200 s but audio/ok.wav holds"),
]
VALID = ["ok-speech", "ok-text", "resampled", "stereo", "over-budget", "duration-within-5-percent"]
LINES = 30


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("bad") / "corpus")


@pytest.fixture(scope="module")
def manifest(bad_corpus: Path) -> Manifest:
    return read_manifest(bad_corpus / "train" / "manifest.jsonl")


@pytest.mark.parametrize(("name", "line", "field", "reason"), QUARANTINED, ids=lambda v: str(v))
def test_bad_row_is_quarantined_with_file_line_field_and_reason(
    manifest: Manifest, name: str, line: int, field: str, reason: str
):
    rows = [row for row in manifest.quarantined if row.line == line]
    assert len(rows) == 1, name
    assert rows[0].file == str(manifest.path)
    assert (rows[0].field, reason in rows[0].reason) == (field, True), rows[0]


def test_every_valid_row_is_kept_and_every_line_is_accounted_for(manifest: Manifest):
    assert [e.id for e in manifest.examples] == VALID
    quarantined = sorted(row.line for row in manifest.quarantined)
    assert quarantined == sorted(line for _, line, _, _ in QUARANTINED)
    assert len(quarantined) + len(VALID) == LINES


def test_resampling_and_downmixing_are_notes_and_load_as_16k_mono(
    manifest: Manifest, bad_corpus: Path
):
    notes = {(note.line, note.field): note.note for note in manifest.notes}
    assert notes == {
        (10, "audio"): "resampled from 44100 Hz to 16000 Hz",
        (11, "audio"): "downmixed from 2 channels to mono",
    }
    dataset = ExampleDataset(manifest.examples, bad_corpus)
    for index in (VALID.index("resampled"), VALID.index("stereo")):
        waveform = dataset[index].waveform
        assert waveform.shape == (SAMPLE_RATE,) and waveform.dtype == np.float32


def test_strict_stops_on_the_first_bad_row(bad_corpus: Path):
    with pytest.raises(ManifestError) as error:
        read_manifest(bad_corpus / "train" / "manifest.jsonl", strict=True)
    assert (error.value.line, error.value.field) == (3, "audio")


def test_long_audio_is_cut_into_windows_when_asked_and_never_truncated(bad_corpus: Path):
    path = bad_corpus / "train" / "manifest.jsonl"
    manifest = read_manifest(path, settings=DataSettings(long_audio="split"))
    windows = [e for e in manifest.examples if e.meta.get("window_of") == "long-dialect"]
    assert [(w.id, w.offset_s, w.duration_s, w.label) for w in windows] == [
        ("long-dialect#0", 0.0, 248_000 / SAMPLE_RATE, "msa"),  # 496,001 samples in all
        ("long-dialect#1", 248_000 / SAMPLE_RATE, 248_001 / SAMPLE_RATE, "msa"),
    ]
    assert any(n.line == 12 and "split into 2 windows" in n.note for n in manifest.notes)
    (asr,) = [row for row in manifest.quarantined if row.line == 13]
    assert "cannot be divided among windows" in asr.reason
    dataset = ExampleDataset(manifest.examples, bad_corpus)
    loaded = [dataset[manifest.examples.index(w)].waveform for w in windows]
    whole = load_audio(bad_corpus / "audio" / "long.flac", max_seconds=60)
    assert whole.size == 496_001
    np.testing.assert_array_equal(np.concatenate(loaded), whole)  # every sample, once
    with pytest.raises(AudioError, match="longer than the 30 s feature window"):
        load_audio(bad_corpus / "audio" / "long.flac")


def test_audio_outside_the_root_is_kept_only_when_allowed(bad_corpus: Path, capsys):
    path = bad_corpus / "train" / "manifest.jsonl"
    allowed = read_manifest(path, settings=DataSettings(allow_outside_root=True))
    assert "outside-root" in [e.id for e in allowed.examples]
    assert 25 not in [row.line for row in allowed.quarantined]
    assert main(["validate", str(bad_corpus), "--allow-outside-root"]) == 0
    assert ":25 field" not in capsys.readouterr().out


def test_header_only_reading_leaves_content_errors_to_loading(bad_corpus: Path):
    """``decode_audio: false`` reads headers only: a NaN file passes, and loading it names it."""
    path = bad_corpus / "train" / "manifest.jsonl"
    manifest = read_manifest(path, settings=DataSettings(decode_audio=False))
    ids = [e.id for e in manifest.examples]
    assert {"nan-samples", "inf-samples", "truncated-flac"} <= set(ids)
    dataset = ExampleDataset(manifest.examples, bad_corpus)
    with pytest.raises(AudioError, match=r"nan\.wav: audio holds NaN"):
        dataset[ids.index("nan-samples")]


def test_validate_prints_every_quarantined_row_and_the_notes(bad_corpus: Path, capsys):
    assert main(["validate", str(bad_corpus)]) == 0
    out = capsys.readouterr().out
    assert f"{len(QUARANTINED)} row(s) quarantined" in out
    for _, line, field, _ in QUARANTINED:
        assert f"train/manifest.jsonl:{line} field '{field}'" in out
    assert "2 row(s) changed when loaded" in out and "downmixed from 2 channels" in out
    assert (bad_corpus / "quarantine.jsonl").is_file() and (bad_corpus / "notes.jsonl").is_file()
    assert main(["validate", str(bad_corpus), "--strict"]) == 2
    assert ":3: field 'audio': audio file not found" in capsys.readouterr().err


def test_target_over_the_models_budget_is_quarantined(bad_corpus: Path, micro_foundation: Path):
    from omnisched.models.adapter import AudioLMAdapter
    from omnisched.models.loading import load_pretrained

    adapter = AudioLMAdapter(*load_pretrained(micro_foundation))
    path = bad_corpus / "train" / "manifest.jsonl"
    manifest = read_manifest(path, check=adapter.budget_check())
    (row,) = [row for row in manifest.quarantined if row.line == 15]
    assert row.field == "target" and "more than the model's context of 4096" in row.reason
    assert [e.id for e in manifest.examples] == [i for i in VALID if i != "over-budget"]
    capped = read_manifest(path, check=adapter.budget_check(max_target_tokens=3))
    assert "more than train.max_target_tokens (3)" in capped.quarantined[0].reason
    assert [e.id for e in capped.examples] == []  # every target here is over 3 tokens


def test_training_on_the_bad_corpus_quarantines_and_trains_on_the_rest(
    bad_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    recipe = {
        "name": "bad",
        "corpus": str(bad_corpus),
        "model": {"path": str(micro_foundation)},
        "schedule": {"tasks": ["asr", "dialect"], "modalities": ["speech", "text"]},
        "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "num_workers": 0},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    run = ["--recipe", str(path), "--run-dir", str(tmp_path / "run"), "--allow-outside-root"]
    assert main(["train", *run]) == 0
    quarantine = (tmp_path / "run" / "quarantine.jsonl").read_text(encoding="utf-8")
    lines = sorted(json.loads(row)["line"] for row in quarantine.splitlines())
    assert lines == sorted([15, *(line for _, line, _, _ in QUARANTINED if line != 25)])
    notes = (tmp_path / "run" / "notes.jsonl").read_text(encoding="utf-8")
    assert "resampled from 44100 Hz" in notes and "downmixed" in notes
    assert (tmp_path / "run" / "final" / "adapter_model.safetensors").is_file()
