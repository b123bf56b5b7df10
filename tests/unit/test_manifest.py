"""Manifest validation: each bad-row class is quarantined with file, line, field and reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from omnisched.cli import main
from omnisched.data.audio import write_audio
from omnisched.data.example import Example
from omnisched.data.manifest import read_manifest, write_manifest
from omnisched.errors import ManifestError


def speech_row(**changes) -> dict:
    row = {
        "id": "dialect-1",
        "task": "dialect",
        "modality": "speech",
        "language": "ar",
        "audio": "train/audio/a.wav",
        "duration_s": 0.5,
        "input_text": None,
        "target": "gulf",
        "label": "gulf",
        "meta": {},
    }
    row.update(changes)
    return row


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_audio(tmp_path / "train" / "audio" / "a.wav", np.zeros(8000, dtype=np.float32))
    return tmp_path


BAD_ROWS = [
    ("missing audio file", speech_row(id="b1", audio="train/audio/none.wav"), "audio", "not found"),
    ("unknown task", speech_row(id="b2", task="translation"), "task", "unknown task"),
    ("label outside set", speech_row(id="b3", label="syrian"), "label", "not in the label set"),
    ("empty target", speech_row(id="b4", target="  "), "target", "empty target"),
    ("duplicate id", speech_row(), "id", "duplicate id"),
    ("text row with audio", speech_row(id="b6", modality="text", input_text="x"), "audio", ""),
    ("outside root", speech_row(id="b7", audio="../../etc/passwd"), "audio", "outside"),
]


def test_each_bad_row_is_quarantined_and_valid_rows_are_kept(corpus: Path):
    path = corpus / "train" / "manifest.jsonl"
    lines = [json.dumps(speech_row(), ensure_ascii=False)]
    lines += [json.dumps(row, ensure_ascii=False) for _, row, _, _ in BAD_ROWS]
    lines.insert(2, '{"id": "broken", "task": ')  # malformed JSON on line 3
    lines.append(json.dumps(speech_row(id="good-2", label="msa", target="msa")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest = read_manifest(path)
    assert [e.id for e in manifest.examples] == ["dialect-1", "good-2"]
    by_line = {row.line: row for row in manifest.quarantined}
    assert by_line[3].field == "<json>" and "malformed JSON" in by_line[3].reason
    expected_lines = [2, *range(4, 4 + len(BAD_ROWS) - 1)]
    for line, (name, _, field, reason) in zip(expected_lines, BAD_ROWS, strict=True):
        row = by_line[line]
        assert row.file == str(path), name
        assert row.field == field, name
        assert reason in row.reason, name
    assert len(manifest.quarantined) == len(BAD_ROWS) + 1


def test_strict_stops_at_the_first_bad_row(corpus: Path):
    path = corpus / "train" / "manifest.jsonl"
    rows = [speech_row(), speech_row(id="x", label="syrian")]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError) as error:
        read_manifest(path, strict=True)
    assert (error.value.line, error.value.field) == (2, "label")
    assert f"{path}:2: field 'label'" in str(error.value)


def test_written_manifests_read_back_identically(corpus: Path):
    examples = [
        Example.model_validate(speech_row()),
        Example.model_validate(
            speech_row(id="t", modality="text", audio=None, duration_s=None, input_text="شو بدك")
        ),
    ]
    path = corpus / "train" / "manifest.jsonl"
    write_manifest(path, examples)
    assert read_manifest(path).examples == examples


def test_validate_command_prints_the_quarantine(corpus: Path, capsys):
    path = corpus / "train" / "manifest.jsonl"
    rows = [speech_row(), speech_row(id="x", target="")]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert main(["validate", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) quarantined" in out and ":2 field 'target': empty target" in out
    assert (corpus / "quarantine.jsonl").is_file()
    assert main(["validate", str(corpus), "--strict"]) == 2


def _counted(monkeypatch) -> list[Path]:
    """Records every audio file the manifest reader decodes or inspects itself."""
    import omnisched.data.manifest as manifest_module

    calls: list[Path] = []
    real = manifest_module.inspect_audio

    def counting(path, decode=True):
        calls.append(Path(path))
        return real(path, decode=decode)

    monkeypatch.setattr(manifest_module, "inspect_audio", counting)
    return calls


def test_audio_verdicts_are_cached_and_a_changed_file_is_checked_again(corpus, monkeypatch):
    from omnisched.data.manifest import AUDIO_CACHE_NAME, DataSettings

    write_audio(corpus / "train" / "audio" / "b.wav", np.zeros(4000, dtype=np.float32))
    rows = [speech_row(), speech_row(id="dialect-2", audio="train/audio/b.wav", duration_s=0.25)]
    path = corpus / "train" / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    calls = _counted(monkeypatch)

    assert len(read_manifest(path).examples) == 2 and len(calls) == 2
    assert (corpus / AUDIO_CACHE_NAME).is_file()
    calls.clear()
    assert len(read_manifest(path).examples) == 2 and calls == []  # nothing decoded again

    # replaced by a file of the same length holding NaN: re-checked and quarantined
    bad = np.zeros(4000, dtype=np.float32)
    bad[10] = np.nan
    sf.write(str(corpus / "train" / "audio" / "b.wav"), bad, 16_000, subtype="FLOAT")
    manifest = read_manifest(path)
    assert [p.name for p in calls] == ["b.wav"]
    assert [q.field for q in manifest.quarantined] == ["audio"]
    assert "NaN" in manifest.quarantined[0].reason

    # a header-only verdict does not stand for a decoded one
    calls.clear()
    write_audio(corpus / "train" / "audio" / "b.wav", np.zeros(4000, dtype=np.float32))
    read_manifest(path, settings=DataSettings(decode_audio=False))
    read_manifest(path)
    assert [p.name for p in calls] == ["b.wav", "b.wav"]

    # same size and modification time, other bytes: only the hash mode sees it
    audio = corpus / "train" / "audio" / "a.wav"
    before = audio.stat()
    write_audio(audio, np.full(8000, 0.5, dtype=np.float32))
    os.utime(audio, ns=(before.st_atime_ns, before.st_mtime_ns))
    calls.clear()
    hashed = DataSettings(audio_cache="hash")
    read_manifest(path, settings=hashed)  # builds the hashed entries
    calls.clear()
    read_manifest(path, settings=hashed)
    assert calls == []
    write_audio(audio, np.full(8000, 0.25, dtype=np.float32))
    os.utime(audio, ns=(before.st_atime_ns, before.st_mtime_ns))
    read_manifest(path, settings=hashed)
    assert [p.name for p in calls] == ["a.wav"]
    calls.clear()
    read_manifest(path, settings=DataSettings(audio_cache="off"))
    assert len(calls) == 2
