"""Issue 25: importers against files laid out as the public datasets and trainers ship them.

Each test writes a small fixture in the source's real layout (real audio written with
soundfile, real rows) and checks that crashes are clear errors, that nothing valid is lost and
that no row is relabelled silently.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from omnisched.cli import main
from omnisched.data.audio import SAMPLE_RATE, load_audio, resample
from omnisched.data.importers.base import ImportOptions, RowProblem, annotated_entities
from omnisched.data.importers.run import QUARANTINE_NAME, import_corpus
from omnisched.data.manifest import load_split
from omnisched.errors import ConfigError
from omnisched.tasks import TASKS, slu_target


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    columns = [0.3 * np.sin(2 * np.pi * 330 * (c + 1) * t) for c in range(channels)]
    return np.stack(columns, axis=1).astype(np.float32)


def write(path: Path, seconds: float, rate: int = SAMPLE_RATE, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, rate, channels), rate)
    return path


def run(fmt: str, src: Path, out: Path, **options):
    report = import_corpus(fmt, src, out, ImportOptions(**options))
    examples = load_split(out, options.get("split", "train"), strict=True)
    return report, {example.id: example for example in examples}


def reasons(report) -> dict[tuple[str, int], tuple[str, str]]:
    return {(Path(r.file).name, r.line): (r.field, r.reason) for r in report.quarantined}


def prompt(task: str, language: str) -> str:
    return TASKS[task].prompts[language]


def jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def chat(user: str, answer: str, audios: list[str]) -> dict:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        "audios": audios,
    }


# 1. dataset_info.json and folders: read, or a clear error; no empty split left behind


def test_llamafactory_dataset_info_entry_honours_columns_tags_and_media_dir(tmp_path):
    data = tmp_path / "data"
    write(data / "clips" / "a.wav", 0.6)
    write(data / "clips" / "b.wav", 0.4)
    rows = [
        {"conv": [{"speaker": "user", "text": "<audio>" + prompt("asr", "en")},
                  {"speaker": "assistant", "text": "hello there"}],
         "sys": "Be exact.", "sounds": ["clips/a.wav"]},
        {"conv": [{"speaker": "user", "text": "<audio>" + prompt("asr", "en")},
                  {"speaker": "critic", "text": "?"}], "sounds": ["clips/b.wav"]},
    ]  # fmt: skip
    jsonl(data / "mine.jsonl", rows)
    alpaca = [{"instruction": "<audio>" + prompt("asr", "ar"), "input": "", "output": "نعم",
               "system": "كن دقيقا", "audios": ["clips/b.wav"]}]  # fmt: skip
    (data / "alp.json").write_text(json.dumps(alpaca, ensure_ascii=False), "utf-8")
    info = {
        "mine": {
            "file_name": "mine.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "conv", "system": "sys", "audios": "sounds"},
            "tags": {"role_tag": "speaker", "content_tag": "text", "user_tag": "user",
                     "assistant_tag": "assistant"},
        },
        "alp": {"file_name": "alp.json", "columns": {"audios": "audios", "system": "system"}},
        "hub": {"hf_hub_url": "someone/data"},
    }  # fmt: skip
    (data / "dataset_info.json").write_text(json.dumps(info), "utf-8")

    report, rows = run(
        "llamafactory", data / "dataset_info.json", tmp_path / "c1", source_split="mine"
    )
    assert list(rows) == ["mine-1"]
    row = rows["mine-1"]
    assert (row.task, row.language, row.target) == ("asr", "en", "hello there")
    assert row.meta["system"] == "Be exact." and row.duration_s == pytest.approx(0.6)
    field, reason = reasons(report)[("mine.jsonl", 2)]
    assert field == "conv" and "turn role 'critic' (field 'speaker')" in reason

    _, rows = run("llamafactory", data, tmp_path / "c2", source_split="alp")  # the folder
    alp = rows["alp-1"]
    assert (alp.task, alp.language, alp.target, alp.meta["system"]) == (
        "asr",
        "ar",
        "نعم",
        "كن دقيقا",
    )
    with pytest.raises(ConfigError, match=r"3 datasets .*mine, alp, hub.*--source-split"):
        import_corpus("llamafactory", data / "dataset_info.json", tmp_path / "c3", ImportOptions())
    with pytest.raises(ConfigError, match=r"'hub' has no local file_name .*hf_hub_url"):
        options = ImportOptions(source_split="hub")
        import_corpus("llamafactory", data / "dataset_info.json", tmp_path / "c3", options)
    assert not (tmp_path / "c3").exists()


def test_swift_folder_is_read_and_a_json_object_is_a_clear_error(tmp_path):
    write(tmp_path / "src" / "a.wav", 0.5)
    jsonl(
        tmp_path / "src" / "part1.jsonl", [chat("<audio>" + prompt("asr", "en"), "one", ["a.wav"])]
    )
    jsonl(
        tmp_path / "src" / "part2.jsonl", [chat("<audio>" + prompt("asr", "en"), "two", ["a.wav"])]
    )
    _, rows = run("swift", tmp_path / "src", tmp_path / "corpus")
    assert [(key, row.target) for key, row in rows.items()] == [
        ("part1-1", "one"),
        ("part2-1", "two"),
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"without \*\.json or \*\.jsonl"):
        import_corpus("swift", tmp_path / "empty", tmp_path / "c2", ImportOptions())
    (tmp_path / "obj.json").write_text('{"rows": []}', "utf-8")
    with pytest.raises(ConfigError, match="a JSON object, not an array of rows"):
        import_corpus("llamafactory", tmp_path / "obj.json", tmp_path / "c2", ImportOptions())
    assert not (tmp_path / "c2").exists()


# 2. splits


def test_only_the_splits_omnisched_reads_are_accepted(tmp_path):
    write(tmp_path / "src" / "happy" / "a.wav", 0.5)
    for split in ("other", "validation"):
        options = ImportOptions(split=split, task="emotion", language="ar")
        with pytest.raises(ConfigError, match=f"--split {split}: .*train, dev, test.*source-split"):
            import_corpus("folders", tmp_path / "src", tmp_path / "corpus", options)
    assert not (tmp_path / "corpus").exists()


def _speech_massive(path: Path) -> None:
    import io

    from datasets import Dataset, DatasetDict

    def audio(seconds: float) -> dict:
        buffer = io.BytesIO()
        sf.write(buffer, tone(seconds, SAMPLE_RATE), SAMPLE_RATE, format="WAV")
        return {"bytes": buffer.getvalue(), "path": None}

    def rows(annotations: list[str], validated: list[bool]) -> Dataset:
        n = len(annotations)
        return Dataset.from_dict(
            {
                "id": [str(i) for i in range(n)],
                "locale": ["fr-FR"] * n,
                "path": [f"{i}.wav" for i in range(n)],
                "utt": [a.replace("[date : ", "").replace("]", "") for a in annotations],
                "annot_utt": annotations,
                "scenario_str": ["calendar"] * n,
                "intent_str": ["calendar_set"] * n,
                "is_validated": validated,
                "audio": [audio(0.3 + 0.1 * i) for i in range(n)],
            }
        )

    DatasetDict(
        {
            "train_115": rows(["rappel [date : demain]", "rappel [date : lundi"], [True, True]),
            "validation": rows(["rappel [date : mardi]", "rappel"], [True, False]),
        }
    ).save_to_disk(str(path))


def test_speech_massive_real_split_names_validation_and_annotations(tmp_path):
    src = tmp_path / "speech-massive-fr"
    _speech_massive(src)
    report, rows = run("speechmassive", src, tmp_path / "corpus")  # train → train_115
    assert rows["fr-FR-0"].target == slu_target("calendar", "set", [("date", "demain")])
    field, reason = reasons(report)[("speech-massive-fr", 2)]
    assert field == "annot_utt" and "never closed" in reason  # not entities: []
    report, rows = run("speechmassive", src, tmp_path / "corpus", split="dev")
    assert list(rows) == ["fr-FR-0"]
    assert reasons(report)[("speech-massive-fr", 2)][0] == "is_validated"
    _, rows = run("speechmassive", src, tmp_path / "c2", split="dev", unvalidated=True)
    assert len(rows) == 2
    with pytest.raises(ConfigError, match="--split validation"):
        import_corpus("speechmassive", src, tmp_path / "c3", ImportOptions(split="validation"))
    assert not (tmp_path / "c3").exists()


# 3. everything quarantined; no language at all


def test_an_import_with_no_valid_row_writes_no_manifest_and_can_be_rerun(tmp_path, capsys):
    src = tmp_path / "src"
    out = tmp_path / "corpus"
    jsonl(src / "rows.jsonl", [chat("<audio>" + prompt("asr", "en"), "hi", ["missing.wav"])])
    argv = ["import", "swift", str(src / "rows.jsonl"), "--out", str(out)]
    assert main(argv) == 2
    printed = capsys.readouterr()
    assert "no row of" in printed.err and "nothing imported" in printed.out
    assert not (out / "train" / "manifest.jsonl").exists()
    assert (out / "train" / QUARANTINE_NAME).is_file()
    write(src / "missing.wav", 0.5)  # the fix; the same command now runs, no --append
    assert main(argv) == 0
    assert len(load_split(out, "train", strict=True)) == 1
    assert not (out / "train" / QUARANTINE_NAME).exists()


def test_common_voice_without_locale_and_language_is_refused_before_any_row(tmp_path):
    src = tmp_path / "cv-corpus-5.1" / "ar"
    write(src / "clips" / "x.wav", 0.5)
    (src / "train.tsv").write_text("client_id\tpath\tsentence\nc\tx.wav\tنعم\n", "utf-8")
    with pytest.raises(ConfigError, match=r"no 'locale' column .*pass --language"):
        import_corpus("commonvoice", src, tmp_path / "corpus", ImportOptions())
    assert not (tmp_path / "corpus").exists()
    _, rows = run("commonvoice", src, tmp_path / "corpus", language="ar")
    assert rows["x"].language == "ar"


def test_parquet_and_datasets_without_any_language_are_refused_before_any_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    src = tmp_path / "mega"
    src.mkdir()
    audio = {"bytes": None, "path": "x.wav"}
    pq.write_table(
        pa.table({"transcription": ["a b"], "summary": ["a"], "audio": [audio]}),
        src / "part.parquet",
    )
    with pytest.raises(ConfigError, match=r"no language or locale column .*pass --language"):
        import_corpus("megassum", src, tmp_path / "corpus", ImportOptions())
    Dataset.from_dict({"utt": ["x"], "annot_utt": ["x"], "audio": [audio]}).save_to_disk(
        str(tmp_path / "sm")
    )
    with pytest.raises(ConfigError, match=r"no 'locale' column .*pass --language"):
        import_corpus("speechmassive", tmp_path / "sm", tmp_path / "corpus", ImportOptions())
    assert not (tmp_path / "corpus").exists()


# 4. annotations


def test_annotations_nested_are_parsed_and_malformed_are_errors():
    nested = "wake me up at [time : five am [date : on friday]]"
    assert annotated_entities(nested) == [("time", "five am on friday"), ("date", "on friday")]
    assert annotated_entities("[a : x] and [b : y z]") == [("a", "x"), ("b", "y z")]
    for bad, why in [
        ("turn [device : lights", "never closed"),
        ("turn lights] off", "closes no span"),
        ("turn [lights] off", "opens no"),
        ("turn [device : ] off", "no filler"),
    ]:
        with pytest.raises(RowProblem, match=why):
            annotated_entities(bad, "annot_utt")


def test_slurp_nested_entities_are_all_kept(tmp_path):
    write(tmp_path / "slurp_real" / "r.flac", 0.5)
    row = {"slurp_id": 7, "sentence": "wake me up at five am on friday", "scenario": "alarm",
           "action": "set",
           "sentence_annotation": "wake me up at [time : five am [date : on friday]]",
           "recordings": [{"file": "r.flac"}]}  # fmt: skip
    bad = {**row, "slurp_id": 8, "sentence_annotation": "wake me up at [time : five am"}
    src = jsonl(tmp_path / "devel.jsonl", [row, bad])
    report, rows = run("slurp", src, tmp_path / "corpus")
    entities = [("time", "five am on friday"), ("date", "on friday")]
    assert rows["slurp-7-r"].target == slu_target("alarm", "set", entities)
    assert reasons(report)[("devel.jsonl", 2)][0] == "sentence_annotation"


# 5. languages


def _cut(cut_id: str, path: Path, seconds: float, rate: int, supervision: dict, **recording):
    return {
        "id": cut_id, "start": 0.0, "duration": seconds, "channel": 0, "type": "MonoCut",
        "supervisions": [{"id": f"{cut_id}-s", "recording_id": cut_id, "start": 0.0,
                          "duration": seconds, "channel": 0, **supervision}],
        "recording": {"id": cut_id, "sources": [{"type": "file", "channels": [0],
                                                 "source": str(path)}],
                      "sampling_rate": rate, "num_samples": round(seconds * rate),
                      "duration": seconds, "channel_ids": [0], **recording},
    }  # fmt: skip


def _cuts(path: Path, cuts: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in cuts)
    return path


def test_three_letter_codes_and_language_names_are_normalised(tmp_path):
    wav = write(tmp_path / "a.wav", 0.5)
    cuts = [
        _cut(f"c{i}", wav, 0.5, SAMPLE_RATE, {"text": "hello", "language": language})
        for i, language in enumerate(["eng", "English", "Arabic", "ara", "Klingon", "en-GB"])
    ]
    report, rows = run("lhotse", _cuts(tmp_path / "cuts.jsonl.gz", cuts), tmp_path / "corpus")
    assert {key: row.language for key, row in rows.items()} == {
        "c0": "en",
        "c1": "en",
        "c2": "ar",
        "c3": "ar",
        "c5": "en",
    }
    assert rows["c0"].meta["locale"] == "eng"
    field, reason = reasons(report)[("cuts.jsonl.gz", 5)]
    assert field == "language" and "'Klingon' is not a language code" in reason
    write(tmp_path / "f" / "happy" / "a.wav", 0.3)
    _, rows = run("folders", tmp_path / "f", tmp_path / "c2", task="emotion", language="Arabic")
    assert {row.language for row in rows.values()} == {"ar"}


# 6. --task never relabels a row


def test_task_option_never_relabels_a_row_with_another_prompt(tmp_path):
    write(tmp_path / "src" / "a.wav", 0.5)
    rows = [
        chat("<audio>" + prompt("asr", "en"), "yes", ["a.wav"]),
        chat("<audio>" + prompt("dialect", "en"), "egyptian", ["a.wav"]),
        chat("What is the capital of Egypt?", "Cairo", []),
        chat("<audio>Please transcribe.", "yes", ["a.wav"]),
    ]
    src = jsonl(tmp_path / "src" / "mixed.jsonl", rows)
    report, kept = run("swift", src, tmp_path / "corpus", task="asr", language="en")
    assert {key: (row.task, row.target) for key, row in kept.items()} == {
        "mixed-1": ("asr", "yes"),
        "mixed-4": ("asr", "yes"),
    }
    found = reasons(report)
    assert (
        found[("mixed.jsonl", 2)][0] == "task" and "dialect prompt" in found[("mixed.jsonl", 2)][1]
    )
    assert (
        found[("mixed.jsonl", 3)][0] == "task"
        and "never relabelled" in found[("mixed.jsonl", 3)][1]
    )


# 7. one source, two tasks, one split


def test_the_same_source_imported_for_a_second_task_gets_its_own_ids(tmp_path):
    write(tmp_path / "slurp_real" / "r.flac", 0.5)
    row = {"slurp_id": 3, "sentence": "lights off", "scenario": "iot", "action": "hue_lightoff",
           "sentence_annotation": "lights off", "recordings": [{"file": "r.flac"}]}  # fmt: skip
    src = jsonl(tmp_path / "train.jsonl", [row])
    out = tmp_path / "corpus"
    import_corpus("slurp", src, out, ImportOptions())
    report = import_corpus("slurp", src, out, ImportOptions(task="asr", append=True))
    assert report.quarantined == [] and report.speech == 1
    rows = {e.id: (e.task, e.target) for e in load_split(out, "train", strict=True)}
    assert rows == {
        "slurp-3-r": ("slu", slu_target("iot", "hue_lightoff", [])),
        "slurp-3-r-asr": ("asr", "lights off"),
    }
    report = import_corpus("slurp", src, out, ImportOptions(task="asr", append=True))
    assert report.quarantined[0].field == "id" and "--id-prefix" in report.quarantined[0].reason


# 8. a supervision covering part of its cut


def test_lhotse_cut_is_cut_to_its_supervision(tmp_path):
    wav = write(tmp_path / "rec.wav", 2.0, rate=22_050)
    inside = _cut("in", wav, 2.0, 22_050, {"text": "middle", "language": "en"})
    inside["supervisions"][0].update(start=0.5, duration=1.0)
    outside = _cut("out", wav, 2.0, 22_050, {"text": "late", "language": "en"})
    outside["supervisions"][0].update(start=1.5, duration=1.0)
    src = _cuts(tmp_path / "cuts.jsonl.gz", [inside, outside])
    report, rows = run("lhotse", src, tmp_path / "corpus")
    row = rows["in"]
    assert row.duration_s == pytest.approx(1.0) and row.target == "middle"
    assert "1.000 s of the 2.000 s cut" in row.meta["supervision"]
    expected = resample(tone(2.0, 22_050)[round(0.5 * 22_050) : round(1.5 * 22_050), 0], 22_050)
    samples = load_audio(tmp_path / "corpus" / row.audio)
    assert samples.size == expected.size and np.abs(samples - expected).max() < 1e-3
    field, reason = reasons(report)[("cuts.jsonl.gz", 2)]
    assert field == "supervisions" and "outside the 2.000 s cut" in reason


# 9. validate counts what import quarantined


def test_validate_counts_the_rows_import_quarantined(tmp_path, capsys):
    write(tmp_path / "src" / "happy" / "a.wav", 0.3)
    write(tmp_path / "src" / "calm" / "b.wav", 0.3)
    (tmp_path / "src" / "calm" / "c.wav").write_bytes(b"not audio")
    out = tmp_path / "corpus"
    import_corpus("folders", tmp_path / "src", out, ImportOptions(task="emotion", language="ar"))
    assert main(["validate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 row(s) quarantined: 0 when read now, 2 at import" in printed
    assert f"{out / 'train' / QUARANTINE_NAME}: 2 source row(s)" in printed


# 10. invisible marks in targets


def test_targets_are_normalised_and_the_original_kept(tmp_path):
    write(tmp_path / "src" / "a.wav", 0.5)
    original = "\u200fمرحـــبا  بكم\u200f"
    src = jsonl(
        tmp_path / "src" / "r.jsonl", [chat("<audio>" + prompt("asr", "ar"), original, ["a.wav"])]
    )
    _, rows = run("swift", src, tmp_path / "corpus")
    row = rows["r-1"]
    assert row.target == "مرحبا بكم" and row.meta["source_target"] == original
