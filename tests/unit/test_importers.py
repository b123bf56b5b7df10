"""Importers: each public format, on a tiny fixture written in its documented layout, gives the
rows it should (task, target, label, language, audio duration), loads with ``load_split`` and
validates; bad rows are quarantined with file, line, field and reason."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from omnisched.cli import main
from omnisched.data.audio import SAMPLE_RATE, load_audio, resample
from omnisched.data.importers import IMPORTERS
from omnisched.data.importers.base import ImportOptions
from omnisched.data.importers.run import import_corpus
from omnisched.data.manifest import load_split, read_manifest
from omnisched.errors import ConfigError, ManifestError
from omnisched.eval.metrics import parse_slu
from omnisched.tasks import TASKS, slu_target


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A sine (one frequency per channel) with a little noise: [frames, channels] float32."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(round(freq))
    columns = [
        0.3 * np.sin(2 * np.pi * freq * (c + 1) * t) + 0.01 * rng.standard_normal(t.size)
        for c in range(channels)
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def write(path: Path, seconds: float, rate: int = SAMPLE_RATE, channels: int = 1, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, rate, channels), rate, **kw)
    return path


def wav_bytes(seconds: float, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, rate), rate, format="WAV")
    return buffer.getvalue()


def run(fmt: str, src: Path, out: Path, **options):
    report = import_corpus(fmt, src, out, ImportOptions(**options))
    split = options.get("split", "train")
    examples = load_split(out, split, strict=True)  # everything written validates
    return report, {example.id: example for example in examples}


def quarantine(report) -> dict[tuple[str, int], tuple[str, str]]:
    return {(Path(r.file).name, r.line): (r.field, r.reason) for r in report.quarantined}


def prompt(task: str, language: str) -> str:
    return TASKS[task].prompts[language]


# ms-swift / LLaMA-Factory


def test_swift_jsonl_infers_task_and_language_from_the_prompt(tmp_path):
    audio = tmp_path / "src" / "audio"
    write(audio / "a.wav", 1.0)
    write(audio / "b.wav", 1.5, rate=44_100, channels=2)
    rows = [
        {"messages": [{"role": "user", "content": "<audio>" + prompt("asr", "ar")},
                      {"role": "assistant", "content": "مرحبا بكم"}], "audios": ["audio/a.wav"]},
        {"messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "<audio>" + prompt("dialect", "en")},
                      {"role": "assistant", "content": "gulf"}], "audios": ["audio/b.wav"]},
        {"messages": [{"role": "user", "content": "نص طويل\n" + prompt("ssum", "ar")},
                      {"role": "assistant", "content": "عنوان"}], "audios": []},
        {"messages": [{"role": "user", "content": "<audio>What is this?"},
                      {"role": "assistant", "content": "x"}], "audios": ["audio/a.wav"]},
        {"messages": [{"role": "user", "content": "<audio><audio>" + prompt("asr", "ar")},
                      {"role": "assistant", "content": "x"}], "audios": ["audio/a.wav"]},
        {"messages": [{"role": "user", "content": "<audio>" + prompt("asr", "ar")},
                      {"role": "assistant", "content": "x"}], "audios": ["audio/none.wav"]},
        {"messages": [{"role": "user", "content": "<audio>" + prompt("dialect", "ar")},
                      {"role": "assistant", "content": "syrian"}], "audios": ["audio/a.wav"]},
    ]  # fmt: skip
    src = tmp_path / "src" / "data.jsonl"
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    lines.insert(3, '{"messages": [')  # line 4: malformed JSON
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report, rows_by_id = run("swift", src, tmp_path / "corpus")

    asr, dialect, ssum = rows_by_id["data-1"], rows_by_id["data-2"], rows_by_id["data-3"]
    assert (asr.task, asr.modality, asr.language, asr.target) == (
        "asr",
        "speech",
        "ar",
        "مرحبا بكم",
    )
    assert asr.duration_s == pytest.approx(1.0) and asr.audio.endswith(".wav")
    assert (dialect.task, dialect.language, dialect.label, dialect.target) == (
        "dialect",
        "en",
        "gulf",
        "gulf",
    )
    assert dialect.duration_s == pytest.approx(1.5, abs=1e-3) and dialect.audio.endswith(".flac")
    assert "44100 Hz WAV, 2 channels downmixed" in dialect.meta["audio_note"]
    assert dialect.meta["system"] == "Be brief."
    assert (ssum.modality, ssum.input_text, ssum.target, ssum.audio) == (
        "text",
        "نص طويل",
        "عنوان",
        None,
    )
    assert sf.info(str(tmp_path / "corpus" / dialect.audio)).samplerate == SAMPLE_RATE
    assert len(rows_by_id) == 3 and report.audio == {"copied": 1, "converted": 1}
    reasons = quarantine(report)
    assert {line: field for (_, line), (field, _) in reasons.items()} == {
        4: "<json>",
        5: "task",
        6: "audios",
        7: "audio",
        8: "label",
    }
    assert "malformed JSON" in reasons[("data.jsonl", 4)][1]
    assert "holds no omnisched task prompt" in reasons[("data.jsonl", 5)][1]
    assert reasons[("data.jsonl", 6)][1] == "2 <audio> tag(s) but 1 audio path(s)"
    assert "not found" in reasons[("data.jsonl", 7)][1]
    assert "'syrian' is not in the label set of 'dialect'" in reasons[("data.jsonl", 8)][1]
    assert (tmp_path / "corpus" / "train" / "import-quarantine.jsonl").is_file()


def test_llamafactory_json_with_task_language_and_label_map(tmp_path):
    src = tmp_path / "src"
    write(src / "clips" / "1.flac", 0.8, rate=8000, format="FLAC")
    rows = [
        {"messages": [{"role": "user", "content": "<audio>How does the speaker feel?"},
                      {"role": "assistant", "content": "Happy"}], "audios": ["1.flac"]},
        {"conversations": [{"from": "human", "value": "<audio>How does the speaker feel?"},
                           {"from": "gpt", "value": "sad"}], "audios": ["1.flac"]},
        {"messages": [{"role": "user", "content": "<audio>hi"}], "audios": ["1.flac"]},
    ]  # fmt: skip
    (src / "emo.json").write_text(json.dumps(rows), encoding="utf-8")

    report, rows_by_id = run(
        "llamafactory",
        src / "emo.json",
        tmp_path / "corpus",
        task="emotion",
        language="ar",
        label_map={"Happy": "happy"},
        media_dir=src / "clips",
    )
    happy, sad = rows_by_id["emo-1"], rows_by_id["emo-2"]
    assert (happy.label, happy.target, happy.meta["source_label"]) == ("happy", "happy", "Happy")
    assert happy.meta["instruction"] == "How does the speaker feel?"
    assert (sad.task, sad.language, sad.label) == ("emotion", "ar", "sad")
    assert happy.duration_s == pytest.approx(0.8, abs=1e-3)
    assert quarantine(report) == {
        ("emo.json", 3): (
            "messages",
            "one user turn then one assistant turn expected, got ['user']",
        )
    }


# Mega-SSum parquet


def test_megassum_parquet_with_embedded_and_path_audio(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "megassum"
    write(src / "wav" / "2.flac", 2.0, format="FLAC")
    table = pa.table(
        {
            "id": ["a1", "a2", "a3"],
            "transcription": ["أعلنت الوزارة اليوم خطة جديدة للنقل", "جملة ثانية طويلة", "ثالثة"],
            "summary": ["خطة نقل جديدة", "عنوان ثان", None],
            "audio": [
                {"bytes": wav_bytes(1.25, 22_050), "path": "1.wav"},
                {"bytes": None, "path": "wav/2.flac"},
                {"bytes": wav_bytes(1.0, 16_000), "path": "3.wav"},
            ],
        }
    )
    pq.write_table(table, src / "train-00000.parquet")

    report, rows_by_id = run("megassum", src, tmp_path / "corpus", language="ar", text_twins=True)
    first, second = rows_by_id["a1"], rows_by_id["a2"]
    assert (first.task, first.target, first.language) == ("ssum", "خطة نقل جديدة", "ar")
    assert first.duration_s == pytest.approx(1.25, abs=1e-3)
    assert first.meta["transcript"] == "أعلنت الوزارة اليوم خطة جديدة للنقل"
    assert "22050 Hz WAV" in first.meta["audio_note"]
    assert second.duration_s == pytest.approx(2.0) and report.audio["copied"] == 1
    twin = rows_by_id["a1-text"]
    assert (twin.modality, twin.input_text, twin.target) == (
        "text",
        first.meta["transcript"],
        first.target,
    )
    assert first.meta["twin"] == "a1-text" and twin.meta["twin"] == "a1"
    assert [(line, field) for (_, line), (field, _) in quarantine(report).items()] == [
        (3, "summary")
    ]


def test_megassum_as_asr_targets_the_transcription(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "m.parquet"
    audio = [{"bytes": wav_bytes(0.5, 16_000), "path": None}]
    pq.write_table(pa.table({"transcription": ["نص"], "summary": ["ع"], "audio": audio}), src)
    _, rows_by_id = run("megassum", src, tmp_path / "corpus", task="asr", language="ar")
    assert [(e.task, e.target) for e in rows_by_id.values()] == [("asr", "نص")]


# Common Voice


CV_COLUMNS = "client_id path sentence up_votes down_votes age gender accents variant locale segment"
CV_HEADER = CV_COLUMNS.replace(" ", "\t")


def test_common_voice_tsv_with_mp3_clips(tmp_path):
    src = tmp_path / "cv-corpus-20.0" / "ar"
    write(src / "clips" / "common_voice_ar_1.mp3", 1.5, rate=48_000, format="MP3")
    write(src / "clips" / "common_voice_ar_2.mp3", 1.0, rate=32_000, format="MP3")
    rows = [
        "spk1\tcommon_voice_ar_1.mp3\tذهب الولد إلى المدرسة\t2\t0\ttwenties\tmale\t\t\tar\t",
        "spk2\tcommon_voice_ar_2.mp3\tالجو جميل اليوم\t2\t0\t\t\t\t\tar\t",
        "spk3\tcommon_voice_ar_3.mp3\tلا يوجد ملف\t2\t0\t\t\t\t\tar\t",
        "spk4\tcommon_voice_ar_2.mp3\t\t2\t0\t\t\t\t\tar\t",
        "spk5\ttoo_few_fields",
    ]
    (src / "train.tsv").write_text("\n".join([CV_HEADER, *rows]) + "\n", encoding="utf-8")

    report, rows_by_id = run("commonvoice", src, tmp_path / "corpus")
    first = rows_by_id["common_voice_ar_1"]
    assert (first.task, first.language, first.target) == ("asr", "ar", "ذهب الولد إلى المدرسة")
    assert first.meta["speaker"] == "spk1" and first.meta["gender"] == "male"
    # MP3 encoders add a few ms of padding; the clip is decoded whole, never cut
    assert first.duration_s == pytest.approx(1.5, abs=0.08)
    assert "48000 Hz MP3 → 16 kHz mono FLAC" in first.meta["audio_note"]
    assert rows_by_id["common_voice_ar_2"].duration_s == pytest.approx(1.0, abs=0.08)
    reasons = quarantine(report)
    assert reasons[("train.tsv", 4)][0] == "audio" and "not found" in reasons[("train.tsv", 4)][1]
    assert reasons[("train.tsv", 5)][0] == "sentence"
    assert reasons[("train.tsv", 6)][0] == "<row>"
    assert reasons[("train.tsv", 6)][1].startswith("2 TAB-separated fields, the header has 11")
    assert len(rows_by_id) == 2


def test_common_voice_reads_the_tsv_named_by_source_split(tmp_path):
    src = tmp_path / "ar"
    write(src / "clips" / "x.wav", 0.5)
    (src / "validated.tsv").write_text("path\tsentence\nx.wav\tنعم\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"train\.tsv not found.*validated\.tsv"):
        import_corpus("commonvoice", src, tmp_path / "c", ImportOptions(language="ar"))
    _, rows_by_id = run(
        "commonvoice", src, tmp_path / "corpus", source_split="validated", language="ar"
    )
    assert [e.target for e in rows_by_id.values()] == ["نعم"]


# SLURP


def tokens(sentence: str) -> list[dict]:
    return [{"surface": word} for word in sentence.split(" ")]


def test_slurp_jsonl_gives_one_slu_example_per_recording(tmp_path):
    root = tmp_path / "slurp"
    write(root / "audio" / "slurp_real" / "audio-1-headset.flac", 1.2, format="FLAC")
    write(root / "audio" / "slurp_real" / "audio-1.flac", 1.4, format="FLAC")
    write(root / "audio" / "slurp_real" / "audio-2.flac", 0.9, format="FLAC")
    rows = [
        {"slurp_id": 13, "sentence": "wake me up at five am this week",
         "sentence_annotation": "wake me up at [time : five am] [date : this week]",
         "intent": "alarm_set", "action": "set", "scenario": "alarm",
         "tokens": tokens("wake me up at five am this week"),
         "entities": [{"span": [4, 5], "type": "time"}, {"span": [6, 7], "type": "date"}],
         "recordings": [{"file": "audio-1-headset.flac"}, {"file": "audio-1.flac"}]},
        {"slurp_id": 14, "sentence": "olly quiet", "intent": "audio_volume_mute",
         "action": "volume_mute", "scenario": "audio",
         "tokens": tokens("olly quiet"), "entities": [],
         "recordings": [{"file": "audio-2.flac"}, {"file": "audio-missing.flac"}]},
        {"slurp_id": 15, "sentence": "hi", "scenario": "general", "action": "quirky",
         "entities": [], "recordings": []},
    ]  # fmt: skip
    src = root / "dataset" / "slurp" / "train.jsonl"
    src.parent.mkdir(parents=True)
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    report, rows_by_id = run("slurp", src, tmp_path / "corpus")
    headset = rows_by_id["slurp-13-audio-1-headset"]
    expected = slu_target("alarm", "set", [("time", "five am"), ("date", "this week")])
    assert (headset.task, headset.language, headset.target) == ("slu", "en", expected)
    frame = parse_slu(headset.target)
    assert (frame.intent, [e.filler for e in frame.entities]) == (
        "alarm_set",
        ["five am", "this week"],
    )
    assert rows_by_id["slurp-13-audio-1"].duration_s == pytest.approx(1.4)
    mute = rows_by_id["slurp-14-audio-2"]
    assert mute.target == slu_target("audio", "volume_mute", [])
    assert mute.meta["transcript"] == "olly quiet" and report.audio == {"copied": 3}
    reasons = quarantine(report)
    assert reasons[("train.jsonl", 2)][0] == "audio"  # the missing recording alone
    assert reasons[("train.jsonl", 3)] == ("recordings", "no recordings listed")


def test_slurp_entities_from_token_spans_and_asr_task(tmp_path):
    write(tmp_path / "slurp_real" / "r.flac", 0.6, format="FLAC")
    row = {
        "slurp_id": 1,
        "sentence": "set alarm at five",
        "scenario": "alarm",
        "action": "set",
        "tokens": tokens("set alarm at five"),
        "entities": [{"span": [3], "type": "time"}],
        "recordings": [{"file": "r.flac"}],
    }
    src = tmp_path / "test.jsonl"
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    _, slu = run("slurp", src, tmp_path / "slu")
    assert slu["slurp-1-r"].target == slu_target("alarm", "set", [("time", "five")])
    _, asr = run("slurp", src, tmp_path / "asr", task="asr")
    assert (asr["slurp-1-r"].task, asr["slurp-1-r"].target) == ("asr", "set alarm at five")


# Speech-MASSIVE


def test_speech_massive_saved_with_save_to_disk(tmp_path):
    import datasets
    from datasets import Audio, ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features(
        {
            "id": Value("string"),
            "locale": Value("string"),
            "utt": Value("string"),
            "annot_utt": Value("string"),
            "scenario": ClassLabel(names=["alarm", "iot"]),
            "intent_idx": ClassLabel(names=["alarm_set", "iot_hue_lightoff"]),
            "speaker_id": Value("string"),
            "path": Value("string"),
            "audio": {"bytes": Value("binary"), "path": Value("string")},
        }
    )

    def rows(n: int) -> dict:
        return {
            "id": [str(i) for i in range(n)],
            "locale": ["ar-SA"] * n,
            "utt": ["أيقظني الساعة خمسة", "أطفئ الضوء", "بدون صوت"][:n],
            "annot_utt": ["أيقظني [time : الساعة خمسة]", "أطفئ الضوء", "بدون صوت"][:n],
            "scenario": [0, 1, 1][:n],
            "intent_idx": [0, 1, 1][:n],
            "speaker_id": ["s1", "s2", "s3"][:n],
            "path": [f"{i}.wav" for i in range(n)],
            "audio": [
                {"bytes": wav_bytes(1.0, 16_000), "path": "0.wav"},
                {"bytes": wav_bytes(0.7, 44_100), "path": "1.wav"},
                None,
            ][:n],
        }

    saved = DatasetDict(
        {
            "train": Dataset.from_dict(rows(2), features=features),
            "validation": Dataset.from_dict(rows(3), features=features),
        }
    )
    saved = saved.cast_column("audio", Audio(sampling_rate=16_000))
    saved.save_to_disk(str(tmp_path / "speech-massive-ar"))
    assert isinstance(datasets.load_from_disk(str(tmp_path / "speech-massive-ar")), DatasetDict)

    report, rows_by_id = run(
        "speechmassive", tmp_path / "speech-massive-ar", tmp_path / "corpus", split="dev"
    )
    alarm, light = rows_by_id["ar-SA-0"], rows_by_id["ar-SA-1"]
    assert alarm.target == slu_target("alarm", "set", [("time", "الساعة خمسة")])
    assert (alarm.task, alarm.language, alarm.meta["locale"]) == ("slu", "ar", "ar-SA")
    assert alarm.meta["speaker"] == "s1" and alarm.duration_s == pytest.approx(1.0)
    assert light.target == slu_target("iot", "hue_lightoff", [])
    assert light.duration_s == pytest.approx(0.7, abs=1e-3)
    assert quarantine(report) == {("speech-massive-ar", 3): ("audio", "neither bytes nor a path")}


# lhotse


def test_lhotse_cuts_are_cut_out_never_truncated(tmp_path):
    import lhotse

    long = write(tmp_path / "rec" / "long.wav", 4.0, rate=22_050, channels=2)
    short = write(tmp_path / "rec" / "short.wav", 1.5)
    recording = lhotse.Recording.from_file(long)
    whole = lhotse.Recording.from_file(short)

    def supervision(sid, rec, start, duration, text, **kw):
        return lhotse.SupervisionSegment(
            id=sid, recording_id=rec.id, start=start, duration=duration, channel=kw.pop("ch", 0),
            text=text, language="ar", speaker=kw.pop("speaker", "spk"), **kw,
        )  # fmt: skip

    sliced = lhotse.MonoCut(
        id="long-a", start=0.5, duration=1.0, channel=1, recording=recording,
        supervisions=[supervision("sa", recording, 0.0, 1.0, "الجملة الأولى", ch=1)],
    )  # fmt: skip
    two = lhotse.MonoCut(
        id="long-two", start=0.0, duration=4.0, channel=0, recording=recording,
        supervisions=[supervision(s, recording, t, 1, s) for s, t in (("s1", 0), ("s2", 2))],
    )  # fmt: skip
    full = whole.to_cut().with_id("short")
    full.supervisions = [supervision("ss", whole, 0.0, 1.5, "جملة كاملة")]
    past_end = lhotse.MonoCut(
        id="long-past", start=3.5, duration=1.0, channel=0, recording=recording,
        supervisions=[supervision("sp", recording, 0.0, 1.0, "بعد النهاية")],
    )  # fmt: skip
    cuts = lhotse.CutSet.from_cuts([sliced, two, full, recording.to_cut(), past_end])
    src = tmp_path / "cuts.jsonl.gz"
    cuts.to_file(src)

    report, rows_by_id = run("lhotse", src, tmp_path / "corpus")
    cut = rows_by_id["long-a"]
    assert (cut.task, cut.target, cut.language, cut.meta["speaker"]) == (
        "asr",
        "الجملة الأولى",
        "ar",
        "spk",
    )
    assert cut.duration_s == pytest.approx(1.0)
    assert cut.meta["audio_note"].startswith("cut 0.500–1.500 s out of")
    assert "channel 1 of 2" in cut.meta["audio_note"]
    samples = load_audio(tmp_path / "corpus" / cut.audio)
    source = tone(4.0, 22_050, channels=2)[round(0.5 * 22_050) : round(1.5 * 22_050), 1]
    expected = resample(source, 22_050)
    assert samples.size == expected.size == SAMPLE_RATE
    assert np.abs(samples - expected).max() < 1e-3  # 16-bit FLAC of the same slice
    assert rows_by_id["short"].duration_s == pytest.approx(1.5) and report.audio["copied"] == 1
    reasons = quarantine(report)
    assert reasons[("cuts.jsonl.gz", 2)][0] == "supervisions"
    assert reasons[("cuts.jsonl.gz", 4)][0] == "type"  # a MultiCut
    assert reasons[("cuts.jsonl.gz", 5)][0] == "audio"
    assert "runs past the end of its source" in reasons[("cuts.jsonl.gz", 5)][1]
    assert len(rows_by_id) == 2


def test_lhotse_is_not_needed_to_read_cut_manifests():
    code = (
        "import sys, omnisched.data.importers.run, omnisched.data.importers.lhotse_cuts;"
        "assert 'lhotse' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# one folder per label


def test_folders_map_labels_and_quarantine_the_rest(tmp_path):
    src = tmp_path / "adi17"
    write(src / "EGY" / "a.wav", 1.0, rate=8000)
    write(src / "KSA" / "spk1" / "b.wav", 0.5)
    write(src / "SYR" / "c.wav", 0.5)
    write(src / "EGY" / "long.wav", 31.0, rate=8000)
    (src / "EGY" / "notes.txt").write_text("not audio")
    (src / "EGY" / ".hidden.wav").write_text("skipped")

    report, rows_by_id = run(
        "folders",
        src,
        tmp_path / "corpus",
        task="dialect",
        language="ar",
        label_map={"EGY": "egyptian", "KSA": "gulf"},
    )
    egyptian, gulf = rows_by_id["EGY-a"], rows_by_id["KSA-spk1_b"]
    assert (egyptian.task, egyptian.label, egyptian.target, egyptian.language) == (
        "dialect",
        "egyptian",
        "egyptian",
        "ar",
    )
    assert egyptian.meta["source_label"] == "EGY" and egyptian.duration_s == pytest.approx(1.0)
    assert gulf.duration_s == pytest.approx(0.5)
    reasons = {Path(file).name: value for (file, _), value in quarantine(report).items()}
    assert reasons["c.wav"][0] == "label" and "--label-map SYR=LABEL" in reasons["c.wav"][1]
    assert reasons["long.wav"][0] == "audio" and "longer than the 30 s" in reasons["long.wav"][1]
    assert reasons["notes.txt"][0] == "audio" and "unreadable" in reasons["notes.txt"][1]
    assert len(rows_by_id) == 2 and not list((tmp_path / "corpus").rglob("long*"))


def test_folders_need_a_task_and_a_language(tmp_path):
    write(tmp_path / "src" / "happy" / "a.wav", 0.5)
    with pytest.raises(ConfigError, match="pass --task"):
        import_corpus("folders", tmp_path / "src", tmp_path / "c", ImportOptions(language="ar"))
    with pytest.raises(ConfigError, match="pass --language"):
        import_corpus("folders", tmp_path / "src", tmp_path / "c", ImportOptions(task="emotion"))
    with pytest.raises(ConfigError, match="'calm' is not in the label set of 'emotion'"):
        options = ImportOptions(task="emotion", language="ar", label_map={"x": "calm"})
        import_corpus("folders", tmp_path / "src", tmp_path / "c", options)


# shared behaviour


def test_strict_stops_at_the_first_bad_row_and_leaves_no_manifest(tmp_path):
    write(tmp_path / "src" / "angry" / "a.wav", 0.5)
    write(tmp_path / "src" / "calm" / "b.wav", 0.5)
    options = ImportOptions(task="emotion", language="ar", strict=True)
    with pytest.raises(ManifestError) as error:
        import_corpus("folders", tmp_path / "src", tmp_path / "corpus", options)
    assert error.value.field == "label" and error.value.file.endswith("b.wav")
    assert not (tmp_path / "corpus" / "train" / "manifest.jsonl").exists()
    assert not list((tmp_path / "corpus").rglob("*.wav"))


def test_append_adds_a_second_source_and_refuses_to_overwrite(tmp_path):
    write(tmp_path / "emo" / "happy" / "a.wav", 0.5)
    write(tmp_path / "dia" / "gulf" / "a.wav", 0.5)
    out = tmp_path / "corpus"
    import_corpus("folders", tmp_path / "emo", out, ImportOptions(task="emotion", language="ar"))
    with pytest.raises(ConfigError, match="pass --append"):
        import_corpus(
            "folders", tmp_path / "dia", out, ImportOptions(task="dialect", language="ar")
        )
    options = ImportOptions(task="dialect", language="ar", append=True, id_prefix="adi-")
    import_corpus("folders", tmp_path / "dia", out, options)
    examples = load_split(out, "train", strict=True)
    assert [(e.id, e.task, e.label) for e in examples] == [
        ("happy-a", "emotion", "happy"),
        ("adi-gulf-a", "dialect", "gulf"),
    ]


def test_import_command_prints_the_card_and_the_quarantine(tmp_path, capsys):
    write(tmp_path / "src" / "EGY" / "a.wav", 0.5)
    write(tmp_path / "src" / "XXX" / "b.wav", 0.5)
    out = tmp_path / "corpus"
    argv = ["import", "folders", str(tmp_path / "src"), "--out", str(out), "--task", "dialect"]
    argv += ["--language", "ar", "--label-map", "EGY=egyptian", "--split", "dev"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "# Corpus card" in printed and "| dialect | egyptian |" in printed
    assert "imported 1 rows" in printed and "1 row(s) quarantined" in printed
    assert "field 'label': 'XXX' is not in the label set" in printed
    assert (out / "CORPUS.md").is_file()
    assert read_manifest(out / "dev" / "manifest.jsonl").quarantined == []
    assert main(argv) == 2  # exists: needs --append


def test_import_help_states_every_format_and_its_mapping(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    printed = capsys.readouterr().out
    for name in IMPORTERS:
        assert f"\n{name}: " in printed
    assert printed.count("task:") >= len(IMPORTERS) - 1 and "language:" in printed


def test_slu_target_is_the_synthesized_corpus_format(small_corpus):
    slu = [e for e in load_split(small_corpus, "train") if e.task == "slu"]
    assert slu
    for example in slu:
        frame = json.loads(example.target)
        entities = [(e["type"], e["filler"]) for e in frame["entities"]]
        assert slu_target(frame["scenario"], frame["action"], entities) == example.target
