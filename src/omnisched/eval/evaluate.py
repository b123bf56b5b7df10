"""Per-task evaluation: greedy generation, then each task's metrics, as JSON and markdown.

Outputs are scored as generated, by their task kind's scorer (``omnisched.eval.scorers``): a
classification answer naming no label is wrong, an SLU answer that is not valid JSON misses
everything, and nothing is dropped.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from omnisched.config import EvalSettings
from omnisched.data.dataset import ExampleDataset
from omnisched.data.example import Example
from omnisched.eval.scorers import check_scorable, headline, score_task
from omnisched.models.adapter import AudioLMAdapter
from omnisched.tasks import get_task

CLASSIFY_TOKENS = 8
# what the normalizers' names in reports stand for (omnisched.eval.normalize)
NORMALIZER_LEGEND = (
    "oaal: OAAL's Arabic normalization, +fold-ة/ى with ة/ى folded; "
    "plain: NFC, punctuation removed, lowercase"
)


def generate_outputs(
    adapter: AudioLMAdapter, dataset: ExampleDataset, settings: EvalSettings
) -> tuple[list[str], list[bool]]:
    """Greedy outputs for every example of ``dataset``, in order, and whether each was cut at
    the answer budget (``max_new_tokens``) before it ended.

    Batches hold one task each (one answer budget) and examples of similar duration."""
    examples = dataset.examples
    by_task: dict[str, list[int]] = defaultdict(list)
    for index in sorted(range(len(examples)), key=lambda i: examples[i].duration_s or 0):
        by_task[examples[index].task].append(index)
    batches = [
        (task, indices[start : start + settings.batch_size])
        for task, indices in sorted(by_task.items())
        for start in range(0, len(indices), settings.batch_size)
    ]
    outputs: list[str] = [""] * len(examples)
    cut = [False] * len(examples)
    for task, indices in tqdm(batches, desc="eval", leave=False):
        budget = settings.max_new_tokens
        if get_task(task).is_classification:
            budget = CLASSIFY_TOKENS
        answers = adapter.generate_checked([dataset[i] for i in indices], max_new_tokens=budget)
        for index, (answer, ended) in zip(indices, answers, strict=True):
            outputs[index], cut[index] = answer, not ended
    return outputs, cut


def first_per_task(examples: list[Example], limit: int) -> list[Example]:
    """The first ``limit`` examples of each task, in corpus order."""
    seen: dict[str, int] = defaultdict(int)
    kept = []
    for example in examples:
        seen[example.task] += 1
        if seen[example.task] <= limit:
            kept.append(example)
    return kept


def evaluate_examples(
    model: torch.nn.Module,
    tokenizer,
    examples: list[Example],
    root: Path,
    settings: EvalSettings,
    predictions_path: Path | None = None,
) -> dict[str, dict]:
    """Metrics per task of ``model`` on ``examples``; optionally writes every prediction.

    Each task's scores say how many outputs were cut at the answer budget (``cut_outputs``);
    a warning names the tasks where any were, since a cut answer (an unclosed JSON frame, a
    summary without its end) is scored as written."""
    # a headline or a normalizer that does not exist fails now, not after the generation
    languages: dict[str, set[str]] = defaultdict(set)
    for example in examples:
        languages[example.task].add(example.language)
    for task, task_languages in languages.items():
        check_scorable(get_task(task), task_languages)
    model.eval()
    adapter = AudioLMAdapter(model, tokenizer)
    if settings.limit_per_task is not None:
        examples = first_per_task(examples, settings.limit_per_task)
    outputs, cut = generate_outputs(adapter, ExampleDataset(examples, root), settings)
    if predictions_path is not None:
        predictions_path.parent.mkdir(parents=True, exist_ok=True)
        with predictions_path.open("w", encoding="utf-8") as out:
            for example, output in zip(examples, outputs, strict=True):
                row = {"id": example.id, "task": example.task, "target": example.target}
                out.write(json.dumps(row | {"prediction": output}, ensure_ascii=False) + "\n")
    grouped: dict[str, tuple[list[Example], list[str]]] = defaultdict(lambda: ([], []))
    for example, output in zip(examples, outputs, strict=True):
        grouped[example.task][0].append(example)
        grouped[example.task][1].append(output)
    results = {
        task: score_task(get_task(task), refs, outs, settings)
        for task, (refs, outs) in sorted(grouped.items())
    }
    for example, was_cut in zip(examples, cut, strict=True):
        if not get_task(example.task).is_classification:  # a label word has its own budget
            scores = results[example.task]
            scores["cut_outputs"] = scores.get("cut_outputs", 0) + int(was_cut)
    cut_tasks = {t: r["cut_outputs"] for t, r in results.items() if r.get("cut_outputs")}
    if cut_tasks:
        warnings.warn(
            f"outputs cut at eval.max_new_tokens={settings.max_new_tokens} before they ended "
            f"(scored as written): {cut_tasks}; raise eval.max_new_tokens if the references "
            "are that long",
            stacklevel=2,
        )
    return results


def compare_to_baseline(results: dict[str, dict[str, dict]], model: str, baseline: str) -> str:
    """One line: the tasks on which ``model`` does not beat ``baseline`` on the headline metric
    (worse, or level), with both scores, so that negative transfer is read, not looked for."""
    behind: dict[str, list[str]] = {"worse than": [], "level with": []}
    for task in sorted(set(results[model]) & set(results[baseline])):
        metric, higher_is_better = headline(get_task(task))
        ours, theirs = results[model][task][metric], results[baseline][task][metric]
        gain = ours - theirs if higher_is_better else theirs - ours
        if gain <= 0:
            where = "worse than" if gain < 0 else "level with"
            behind[where].append(f"{task} ({metric} {theirs:.3f} → {ours:.3f})")
    if not any(behind.values()):
        return f"{model} beats {baseline} on every task"
    parts = [f"{how} {baseline} on: " + ", ".join(tasks) for how, tasks in behind.items() if tasks]
    return f"{model} is " + "; ".join(parts)


def normalization_note(results: dict[str, dict[str, dict]]) -> str:
    """How each task's text was normalized before it was scored, as its scores record it
    (``asr: oaal, ssum: oaal``); empty when no task was scored on text."""
    used: dict[str, str] = {}
    for scores in results.values():
        for task, task_scores in scores.items():
            if "normalizer" in task_scores:
                used.setdefault(task, task_scores["normalizer"])
    named = ", ".join(f"{task}: {name}" for task, name in sorted(used.items()))
    return f"Text normalized before scoring ({NORMALIZER_LEGEND}): {named}." if named else ""


def headline_table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown table: one row per task, one column per evaluated model, headline metric."""
    names = list(results)
    tasks = sorted({task for scores in results.values() for task in scores})
    lines = ["| task | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for task in tasks:
        metric = next(results[n][task]["headline"] for n in names if task in results[n])
        better = "↑" if headline(get_task(task))[1] else "↓"
        cells = [f"{results[n][task][metric]:.3f}" if task in results[n] else "—" for n in names]
        lines.append(f"| {task} | {metric} {better} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
