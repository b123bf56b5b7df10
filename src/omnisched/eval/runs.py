"""Evaluation of a training run or of a bare model directory, written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from omnisched.config import EvalSettings, Recipe, load_recipe
from omnisched.data.example import Example
from omnisched.data.manifest import DataSettings, load_split
from omnisched.eval.evaluate import evaluate_examples, headline_table, normalization_note
from omnisched.models.loading import load_finetuned, load_pretrained
from omnisched.train.loop import FINAL


def _write(out: Path, name: str, split: str, results: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(
        json.dumps({"split": split, "tasks": results}, indent=2, ensure_ascii=False),
        encoding="utf-8",
    )
    note = normalization_note({name: results})
    (out / "eval.md").write_text(
        f"# Evaluation of {name} on {split}\n\n{note}\n\n" + headline_table({name: results}) + "\n",
        encoding="utf-8",
    )


def eval_rows(
    corpus: Path,
    split: str,
    tasks: list[str],
    modalities: list[str],
    languages: list[str] | None = None,
    data: DataSettings | None = None,
) -> list[Example]:
    """The rows of ``split`` whose task, modality and language are asked for."""
    rows = load_split(corpus, split, settings=data)
    return [
        e
        for e in rows
        if e.task in tasks
        and e.modality in modalities
        and (languages is None or e.language in languages)
    ]


def evaluate_on_dev(model: torch.nn.Module, tokenizer, recipe: Recipe, step: int) -> dict:
    """The headline metric of every task on a fixed dev subset, as one log record: the
    evaluation ``train`` runs every ``eval.every`` steps when it is passed this function."""
    settings = recipe.eval
    rows = eval_rows(
        recipe.corpus,
        settings.dev_split,
        recipe.schedule.tasks,
        settings.modalities,
        settings.languages,
        recipe.data,
    )
    limited = settings.model_copy(update={"limit_per_task": settings.dev_limit_per_task})
    results = evaluate_examples(model, tokenizer, rows, recipe.corpus, limited)
    record = {"event": "eval", "step": step, "split": settings.dev_split}
    for task, scores in results.items():
        record[f"{task}/{scores['headline']}"] = scores[scores["headline"]]
    return record


def evaluate_run(
    run_dir: Path,
    split: str = "test",
    limit: int | None = None,
    allow_outside_root: bool = False,
) -> dict:
    """Evaluates a run's final weights on its recipe's tasks; writes eval.json and eval.md."""
    run_dir = Path(run_dir)
    recipe = load_recipe(run_dir / "recipe.yaml")
    data = recipe.data
    if allow_outside_root:
        data = data.model_copy(update={"allow_outside_root": True})
    settings = recipe.eval.model_copy(
        update={"limit_per_task": limit or recipe.eval.limit_per_task}
    )
    model, tokenizer = load_finetuned(recipe.model.path, run_dir / FINAL, recipe.model.dtype)
    examples = eval_rows(
        recipe.corpus, split, recipe.schedule.tasks, settings.modalities, settings.languages, data
    )
    results = evaluate_examples(
        model, tokenizer, examples, recipe.corpus, settings, run_dir / "predictions.jsonl"
    )
    _write(run_dir, recipe.name, split, results)
    return results


def evaluate_model(
    model_dir: Path,
    corpus: Path,
    split: str,
    tasks: list[str],
    out: Path | None = None,
    limit: int | None = None,
    settings: EvalSettings | None = None,
    data: DataSettings | None = None,
    dtype: str = "float32",
) -> dict:
    """Evaluates a model directory as it is (the rows of ``tasks`` in the settings'
    modalities and languages: speech of every language by default)."""
    settings = (settings or EvalSettings()).model_copy(update={"limit_per_task": limit})
    out = Path(out) if out is not None else Path(model_dir) / f"eval-{split}"
    model, tokenizer = load_pretrained(model_dir, dtype)
    examples = eval_rows(corpus, split, tasks, settings.modalities, settings.languages, data=data)
    results = evaluate_examples(
        model, tokenizer, examples, corpus, settings, out / "predictions.jsonl"
    )
    _write(out, Path(model_dir).name, split, results)
    return results
