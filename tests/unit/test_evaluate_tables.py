"""The demo's per-task table and its verdict against the foundation, on hand-made scores."""

from omnisched.eval.evaluate import compare_to_baseline, headline_table


def scores(cer: float, rouge_l: float, emotion_f1: float) -> dict[str, dict]:
    """Per-task results as evaluation returns them, for asr, ssum and emotion."""
    return {
        "asr": {"headline": "cer", "cer": cer},
        "ssum": {"headline": "rougeL", "rougeL": rouge_l},
        "emotion": {"headline": "macro_f1", "macro_f1": emotion_f1},
    }


FOUNDATION = scores(cer=0.094, rouge_l=0.400, emotion_f1=0.0)


def verdict(tuned: dict[str, dict]) -> str:
    return compare_to_baseline({"foundation": FOUNDATION, "tuned": tuned}, "tuned", "foundation")


def test_a_higher_cer_and_a_lower_rouge_are_named_as_worse():
    assert verdict(scores(cer=0.143, rouge_l=0.350, emotion_f1=0.459)) == (
        "tuned is worse than foundation on: asr (cer 0.094 → 0.143), ssum (rougeL 0.400 → 0.350)"
    )


def test_a_lower_cer_and_higher_scores_everywhere_beat_the_baseline():
    assert verdict(scores(cer=0.080, rouge_l=0.832, emotion_f1=0.459)) == (
        "tuned beats foundation on every task"
    )


def test_a_tie_is_not_a_win():
    assert verdict(scores(cer=0.094, rouge_l=0.400, emotion_f1=0.3)) == (
        "tuned is level with foundation on: asr (cer 0.094 → 0.094), ssum (rougeL 0.400 → 0.400)"
    )


def test_the_table_marks_which_way_each_metric_improves():
    table = headline_table({"foundation": FOUNDATION}).splitlines()
    assert table[2] == "| asr | cer ↓ | 0.094 |"
    assert table[4] == "| ssum | rougeL ↑ | 0.400 |"
