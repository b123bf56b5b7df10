"""Issue 25, layouts users have: ms-swift's other row forms, lhotse Resample transforms,
Common Voice sentences holding TABs and newlines, ADI-17's flat dev / test sets with a label
file, Mega-SSum's published splits. Each fixture is written in the layout the source ships."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from omnisched.data.audio import SAMPLE_RATE
from omnisched.data.importers.base import ImportOptions
from omnisched.data.importers.run import import_corpus
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError
from omnisched.tasks import TASKS


def write(path: Path, seconds: float, rate: int = SAMPLE_RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    return path


def run(fmt: str, src: Path, out: Path, **options):
    report = import_corpus(fmt, src, out, ImportOptions(**options))
    examples = load_split(out, options.get("split", "train"), strict=True)
    return report, {example.id: example for example in examples}


def reasons(report) -> dict[tuple[str, int], tuple[str, str]]:
    return {(Path(r.file).name, r.line): (r.field, r.reason) for r in report.quarantined}


ASR_EN = TASKS["asr"].prompts["en"]


def test_swift_documented_row_forms(tmp_path):
    write(tmp_path / "a.wav", 0.5)
    write(tmp_path / "b.wav", 0.7)
    rows = [
        {"system": "S", "conversation": [{"human": "<audio>" + ASR_EN, "assistant": "one"}],
         "audios": ["a.wav"]},
        {"instruction": "<audio>" + ASR_EN, "input": "", "output": "two", "audios": ["b.wav"]},
        {"system": "S", "query": "<audio>" + ASR_EN, "response": "three", "history": [],
         "audios": ["a.wav"]},
        {"query": "<audio>" + ASR_EN, "response": "four", "history": [["hi", "hello"]],
         "audios": ["a.wav"]},
        {"messages": [{"role": "user", "content": "<audio><audio>" + ASR_EN},
                      {"role": "assistant", "content": "five"}], "audios": ["a.wav", "b.wav"]},
        {"conversation": [{"human": "<audio>" + ASR_EN, "assistant": "x"},
                          {"human": "again", "assistant": "y"}], "audios": ["a.wav"]},
    ]  # fmt: skip
    src = tmp_path / "swift.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    report, kept = run("swift", src, tmp_path / "corpus")
    assert {key: (row.task, row.target) for key, row in kept.items()} == {
        "swift-1": ("asr", "one"),
        "swift-2": ("asr", "two"),
        "swift-3": ("asr", "three"),
    }
    assert kept["swift-1"].meta["system"] == "S" and kept["swift-2"].duration_s == pytest.approx(
        0.7
    )
    found = reasons(report)
    assert (
        found[("swift.jsonl", 4)][0] == "history" and "multi-turn" in found[("swift.jsonl", 4)][1]
    )
    assert (
        found[("swift.jsonl", 5)][0] == "audios"
        and "one row per audio" in found[("swift.jsonl", 5)][1]
    )
    assert found[("swift.jsonl", 6)][0] == "conversation"


def test_lhotse_resample_transform_is_read(tmp_path):
    wav = write(tmp_path / "r.wav", 1.0, rate=22_050)
    cut = {
        "id": "c", "start": 0.0, "duration": 1.0, "channel": 0, "type": "MonoCut",
        "supervisions": [{"id": "s", "recording_id": "r", "start": 0.0, "duration": 1.0,
                          "channel": 0, "text": "hello", "language": "English"}],
        "recording": {"id": "r", "sources": [{"type": "file", "channels": [0], "source": str(wav)}],
                      "sampling_rate": 16_000, "num_samples": 16_000, "duration": 1.0,
                      "channel_ids": [0],
                      "transforms": [{"name": "Resample", "kwargs": {
                          "source_sampling_rate": 22_050, "target_sampling_rate": 16_000}}]},
    }  # fmt: skip
    speed = json.loads(json.dumps(cut))
    speed["id"] = "fast"
    speed["recording"]["transforms"] = [{"name": "Speed", "kwargs": {"factor": 1.1}}]
    src = tmp_path / "cuts.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as out:
        out.write(json.dumps(cut) + "\n" + json.dumps(speed) + "\n")
    report, rows = run("lhotse", src, tmp_path / "corpus")
    assert rows["c"].language == "en" and rows["c"].duration_s == pytest.approx(1.0)
    assert reasons(report)[("cuts.jsonl.gz", 2)][0] == "recording"


def test_common_voice_tabs_and_newlines_inside_sentences_and_the_accent_column(tmp_path):
    src = tmp_path / "cv-corpus-6.1" / "en"
    for name in "abcde":
        write(src / "clips" / f"{name}.wav", 0.3)
    lines = [
        "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\tlocale\tsegment",
        "s1\ta.wav\tplain sentence\t2\t0\t\tmale\tus\ten\t",
        's2\tb.wav\t"a quoted\tTAB inside"\t2\t0\t\t\t\ten\t',
        "s3\tc.wav\ta line\nbroken in two\t2\t0\t\t\tengland\ten\t",
        "s4\td.wav\tan unquoted\tTAB\t2\t0\t\t\t\ten\t",
        "s5\te.wav\tlast one\t2\t0\t\t\t\ten\t",
    ]
    (src / "train.tsv").write_text("\n".join(lines) + "\n", "utf-8")
    report, rows = run("commonvoice", src, tmp_path / "corpus")
    assert {key: row.target for key, row in rows.items()} == {
        "a": "plain sentence",
        "b": "a quoted TAB inside",
        "c": "a line broken in two",
        "e": "last one",
    }
    assert rows["a"].meta["accent"] == "us" and rows["c"].meta["accent"] == "england"
    assert rows["c"].meta["source_target"] == "a line\nbroken in two"
    field, reason = reasons(report)[("train.tsv", 6)]
    assert field == "<row>" and "must be quoted" in reason
    assert len(report.quarantined) == 1


def test_adi17_flat_dev_segments_with_a_label_file(tmp_path):
    root = tmp_path / "adi17"
    write(root / "dev_segments" / "vid1_000100-000350.wav", 0.4)
    write(root / "dev_segments" / "vid2_000000-000200.wav", 0.2)
    write(root / "dev_segments" / "vid3_000000-000300.wav", 0.3)
    labels = root / "adi17_official_dev_label.txt"
    labels.write_text(
        "vid1_000100-000350 EGY\nvid2_000000-000200 KSA\nvid9_000000-000100 EGY\nbroken\n",
        "utf-8",
    )
    options = {"task": "dialect", "language": "ar", "label_map": {"EGY": "egyptian", "KSA": "gulf"}}
    report, rows = run("folders", labels, tmp_path / "corpus", split="dev", **options)
    assert {key: row.label for key, row in rows.items()} == {
        "vid1_000100-000350": "egyptian",
        "vid2_000000-000200": "gulf",
    }
    assert rows["vid1_000100-000350"].duration_s == pytest.approx(0.4)
    found = {(name, line): field for (name, line), (field, _) in reasons(report).items()}
    assert found == {
        ("adi17_official_dev_label.txt", 3): "audio",
        ("adi17_official_dev_label.txt", 4): "<row>",
        ("vid3_000000-000300.wav", 0): "label",
    }
    _, again = run("folders", root, tmp_path / "c2", split="dev", **options)  # the folder
    assert set(again) == set(rows)


def test_megassum_published_splits(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def shard(path: Path, ids: list[str]) -> None:
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(8000, np.float32) + 0.1, SAMPLE_RATE, format="WAV")
        path.parent.mkdir(parents=True, exist_ok=True)
        n = len(ids)
        pq.write_table(
            pa.table({"id": ids, "transcription": ["words said"] * n, "summary": ["said"] * n,
                      "audio": [{"bytes": buffer.getvalue(), "path": None}] * n}),
            path,
        )  # fmt: skip

    data = tmp_path / "mega-ssum" / "data"
    shard(data / "core-00000-of-00002.parquet", ["c1"])
    shard(data / "core-00001-of-00002.parquet", ["c2"])
    shard(data / "duc2003-00000-of-00001.parquet", ["d1"])
    shard(data / "validation-00000-of-00001.parquet", ["v1"])
    shard(data / "test-00000-of-00001.parquet", ["t1"])
    out = tmp_path / "corpus"
    assert set(run("megassum", data.parent, out, language="en")[1]) == {"c1", "c2"}
    assert set(run("megassum", data.parent, out, split="dev", language="en")[1]) == {"v1"}
    options = {"split": "test", "source_split": "duc2003", "language": "en"}
    assert set(run("megassum", data.parent, out, **options)[1]) == {"d1"}
    with pytest.raises(ConfigError, match=r"no split 'other' \(splits: core, duc2003"):
        import_corpus("megassum", data, tmp_path / "c2", ImportOptions(source_split="other"))
