"""Every shipped recipe trains end to end (a few steps, micro foundation, small real corpus),
and ``preview`` shows its phases without training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from omnisched.cli import main
from omnisched.config import load_recipe
from omnisched.eval.run_report import plot_learning_curves
from omnisched.train.metrics_log import read_metrics

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted(
    p
    for p in (REPO / "recipes").glob("paper*/*.yaml")
    if p.stem != "study" and not p.stem.startswith("scale-")
)


def _localized(recipe: Path, corpus: Path, foundation: Path, out: Path) -> Path:
    data = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    data["corpus"] = str(corpus)
    data["model"]["path"] = str(foundation)
    data["cache"] = str(out / "cache")
    # the small corpus holds 6 Arabic SLU rows per modality: a batch never repeats an example,
    # and a uniform shuffle needs two batches' worth
    batch_size = 3 if recipe.parent.name == "paper2" else 8
    data["train"].update(
        steps=6, batch_size=batch_size, warmup_steps=1, checkpoint_every=3, log_every=1
    )
    if data["schedule"].get("switch") == "auto":
        data["schedule"]["plateau"] = {"window": 1, "tolerance": 0.5, "delay": 6}
    path = out / recipe.name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_paper_recipe_is_shipped():
    names = {f"{p.parent.name}/{p.stem}" for p in RECIPES}
    assert names == {
        "paper1/uniform",
        "paper1/proportional",
        "paper1/temperature",
        "paper1/tpc",
        "paper1/ads",
        "paper1/hybrid",
        "paper1/adaptive",
        "paper2/text_only",
        "paper2/speech_only",
        "paper2/mix_2pct",
        "paper2/mix_5pct",
        "paper2/curriculum",
        "paper2/crosslingual",
    }
    for path in RECIPES:
        strategy = load_recipe(path).schedule.strategy
        assert strategy in path.stem or (path.stem, strategy) == ("speech_only", "uniform")


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_trains_end_to_end(recipe, small_corpus, micro_foundation, tmp_path):
    path = _localized(recipe, small_corpus, micro_foundation, tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(path), "--run-dir", str(run)]) == 0
    log = read_metrics(run / "metrics.jsonl")
    plan = next(r for r in log if r.get("event") == "plan")["phases"]
    phases = [r["phase"] for r in log if r.get("event") == "phase"]
    assert phases and phases[0] == plan[0]["phase"]
    assert [r["step"] for r in log if "event" not in r] == [1, 2, 3, 4, 5, 6]
    assert (run / "final" / "config.json").is_file() or (
        run / "final" / "adapter_model.safetensors"
    ).is_file()


def test_adaptive_recipe_logs_moving_weights_previews_them_and_refuses_export(
    small_corpus, micro_foundation, tmp_path, capsys
):
    path = _localized(
        REPO / "recipes/paper1/adaptive.yaml", small_corpus, micro_foundation, tmp_path
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"].update(every=2, delay=1)
    data["train"].update(steps=10, num_workers=0)  # no prefetch: a decision applies next step
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(path), "--run-dir", str(run)]) == 0
    windows = [r for r in read_metrics(run / "metrics.jsonl") if "event" not in r]
    weights = [{k: v for k, v in r.items() if k.startswith("weight/")} for r in windows]
    assert all(
        sorted(w) == [f"weight/{t}" for t in sorted(data["schedule"]["tasks"])] for w in weights
    )
    assert all(abs(sum(w.values()) - 1) < 1e-9 and min(w.values()) >= 0.05 for w in weights)
    assert weights[0] == dict.fromkeys(weights[0], 0.25)
    assert weights[-1] != weights[0]  # progress fits from the third update (step 6) on
    curves = plot_learning_curves(run / "metrics.jsonl", tmp_path / "curves.png")
    assert curves.stat().st_size > 20_000  # three panels: losses, gradient norm, weights

    assert main(["preview", "--recipe", str(path), "--out", str(tmp_path / "p.png")]) == 0
    assert "mixes adaptively (progress): it starts at asr 25.0%" in capsys.readouterr().out
    out = tmp_path / "schedule.jsonl"
    assert main(["export", "--recipe", str(path), "--format", "swift", "--out", str(out)]) == 2
    assert "mix adaptively" in capsys.readouterr().err
    assert not out.exists()


def test_budget_batches_train_preview_and_refuse_export(
    small_corpus, micro_foundation, tmp_path, capsys
):
    """ADS and uniform under a budget of padded seconds and tokens: the run logs batches of
    varying size within it; preview shows the sizes; export refuses."""
    path = _localized(REPO / "recipes/paper1/hybrid.yaml", small_corpus, micro_foundation, tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"].update(batching={"max_seconds": 12.0, "max_tokens": 600}, sort_window=2)
    data["train"].update(batch_size=12, steps=8, log_batches=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(path), "--run-dir", str(run)]) == 0
    sizes = [len(r["ids"]) for r in read_metrics(run / "batches.jsonl")]
    assert len(sizes) == 8 and len(set(sizes)) > 1 and max(sizes) <= 12

    assert main(["preview", "--recipe", str(path), "--out", str(tmp_path / "p.png")]) == 0
    assert "| examples per batch |" in capsys.readouterr().out
    out = tmp_path / "schedule.jsonl"
    assert main(["export", "--recipe", str(path), "--format", "swift", "--out", str(out)]) == 2
    assert "form batches by budget" in capsys.readouterr().err


def test_preview_prints_phase_shares_and_writes_a_plot(small_corpus, micro_foundation, tmp_path):
    path = _localized(REPO / "recipes/paper1/hybrid.yaml", small_corpus, micro_foundation, tmp_path)
    png = tmp_path / "preview.png"
    assert main(["preview", "--recipe", str(path), "--out", str(png), "--steps", "40"]) == 0
    assert png.stat().st_size > 10_000
    assert (tmp_path / "cache" / "embeddings").is_dir()  # ADS needed aligner embeddings


def test_ads_refreshes_embeddings_during_training_and_on_resume(
    small_corpus, micro_foundation, tmp_path
):
    path = _localized(REPO / "recipes/paper1/ads.yaml", small_corpus, micro_foundation, tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"]["diversity"]["refresh_every"] = 2
    data["model"]["freeze"]["aligner"] = False
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(path), "--run-dir", str(run)]) == 0
    refreshed = sorted(p.name for p in (run / "embeddings").iterdir())
    assert refreshed == ["step-000002", "step-000004"]
    assert main(["train", "--recipe", str(path), "--run-dir", str(run), "--steps", "10"]) == 0
    refreshed = sorted(p.name for p in (run / "embeddings").iterdir())
    assert refreshed == ["step-000002", "step-000004", "step-000008"]  # 6 was the old end
