"""Manifest validation: each bad-row class is quarantined with file, line, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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
