"""The demo's per-task table and its verdict against the foundation, on hand-made scores."""

from omnisched.eval.evaluate import compare_to_baseline, headline_table

FOUNDATION = {
    "asr": {"headline": "cer", "cer": 0.094},
    "ssum": {"headline": "rougeL", "rougeL": 0.400},
    "emotion": {"headline": "macro_f1", "macro_f1": 0.0},
}


def test_a_higher_cer_and_a_lower_rouge_are_named_as_worse():
    tuned = {
        "asr": {"headline": "cer", "cer": 0.143},
        "ssum": {"headline": "rougeL", "rougeL": 0.350},
        "emotion": {"headline": "macro_f1", "macro_f1": 0.459},
    }
    verdict = compare_to_baseline({"foundation": FOUNDATION, "tuned": tuned}, "tuned", "foundation")
    assert verdict == (
        "tuned is worse than foundation on: asr (cer 0.094 → 0.143), ssum (rougeL 0.400 → 0.350)"
    )


def test_a_lower_cer_and_higher_f1_everywhere_beat_the_baseline():
    tuned = {
        "asr": {"headline": "cer", "cer": 0.080},
        "ssum": {"headline": "rougeL", "rougeL": 0.832},
        "emotion": {"headline": "macro_f1", "macro_f1": 0.459},
    }
    verdict = compare_to_baseline({"foundation": FOUNDATION, "tuned": tuned}, "tuned", "foundation")
    assert verdict == "tuned beats foundation on every task"


def test_a_tie_is_not_a_win():
    tuned = dict(FOUNDATION, asr={"headline": "cer", "cer": 0.094})
    tuned["emotion"] = {"headline": "macro_f1", "macro_f1": 0.3}
    verdict = compare_to_baseline({"foundation": FOUNDATION, "tuned": tuned}, "tuned", "foundation")
    assert verdict == (
        "tuned is level with foundation on: asr (cer 0.094 → 0.094), ssum (rougeL 0.400 → 0.400)"
    )


def test_the_table_marks_which_way_each_metric_improves():
    table = headline_table({"foundation": FOUNDATION}).splitlines()
    assert table[2] == "| asr | cer ↓ | 0.094 |"
    assert table[4] == "| ssum | rougeL ↑ | 0.400 |"
