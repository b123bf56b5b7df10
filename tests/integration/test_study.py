"""`omnisched study` end to end at micro size: runs, foundation scores, report with the bar and
the claims, re-run skips."""

from __future__ import annotations

from pathlib import Path

import yaml
from tests.conftest import MICRO_PRETRAIN

from omnisched.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_study_runs_recipes_by_seeds_writes_a_report_and_skips_finished_runs(
    small_corpus: Path, pretrain_corpus: Path, micro_foundation: Path, tmp_path: Path
):
    study = {
        "name": "micro",
        "recipes": [
            str(REPO / "recipes/paper1/uniform.yaml"),
            str(REPO / "recipes/paper1/ads.yaml"),
        ],
        "seeds": [0, 1],
        "corpus": {"path": str(small_corpus), "size": 12, "seed": 3},
        "pretrain_corpus": {"path": str(pretrain_corpus), "size": 12, "seed": 4},
        "foundation": str(micro_foundation),
        "pretrain": MICRO_PRETRAIN.model_dump(mode="json"),  # the micro foundation's own
        "out": str(tmp_path / "results"),
        "claims": "paper1",
        "bar": {"recipe": "paper1-uniform", "targets": {"asr": "foundation", "dialect": 0.99}},
        "overrides": {
            "cache": str(tmp_path / "cache"),
            "train": {"steps": 4, "batch_size": 8, "warmup_steps": 1, "log_every": 1},
            "eval": {"every": 2, "dev_limit_per_task": 2, "limit_per_task": 3, "max_new_tokens": 8},
        },
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    assert main(["study", str(path), "--jobs", "2"]) == 0  # one run alone, then two at once

    results = tmp_path / "results"
    finished = sorted(p.relative_to(results).as_posix() for p in results.glob("runs/*/seed-*"))
    assert finished == [
        "runs/paper1-ads/seed-0",
        "runs/paper1-ads/seed-1",
        "runs/paper1-uniform/seed-0",
        "runs/paper1-uniform/seed-1",
    ]
    report = (results / "REPORT.md").read_text(encoding="utf-8")
    for needle in ("## Learned-task bar", "## Final metrics", "## Steps to the bar", "## Claims"):
        assert needle in report
    assert "**not met**" in report  # four steps do not make dialect F1 0.99
    assert "| C5 the TPC→ADS hybrid has the best mean score over tasks | recipes not in" in report
    for split in ("dev", "test"):  # the foundation, scored once on the runs' rows
        assert (results / "foundation" / split / "eval.json").is_file()
    assert (results / "learning_curves.png").stat().st_size > 5_000
    assert (results / "volatility.png").is_file()

    stamps = {p: p.stat().st_mtime_ns for p in results.glob("runs/*/seed-*/eval.json")}
    assert main(["study", str(path), "--seeds", "0", "1"]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
