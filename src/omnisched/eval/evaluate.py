"""Per-task evaluation: greedy generation, then each task's metrics, as JSON and markdown.

Outputs are scored as generated: a classification answer naming no label is wrong, an SLU
answer that is not valid JSON misses everything, and nothing is dropped.
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
from omnisched.eval import metrics
from omnisched.eval.normalize import ArabicNormalizer
from omnisched.models.adapter import AudioLMAdapter
from omnisched.tasks import get_task

CLASSIFY_TOKENS = 8

# The one number per task that tables lead with, and whether higher is better.
HEADLINE: dict[str, tuple[str, bool]] = {
    "transcribe": ("cer", False),
    "summarize": ("rougeL", True),
    "classify": ("macro_f1", True),
    "slu": ("slu_f1", True),
    "answer": ("accuracy", True),
}


def score_task(task_name: str, references: list[Example], outputs: list[str], normalizer) -> dict:
    """The metrics of one task for its examples and the model's raw outputs."""
    task = get_task(task_name)
    if task.kind == "transcribe":
        scores = metrics.wer_cer([e.target for e in references], outputs, normalizer).as_dict()
    elif task.kind == "summarize":
        rouge = metrics.rouge([e.target for e in references], outputs, normalizer)
        scores = {
            "rouge1": rouge.rouge1,
            "rouge2": rouge.rouge2,
            "rougeL": rouge.rouge_l,
            "num_pairs": rouge.num_pairs,
            "normalizer": rouge.normalizer,
        }
    elif task.kind == "classify":
        scores = metrics.classification([e.label for e in references], outputs, task.labels)
        scores = scores.as_dict()
    elif task.kind == "answer":
        references_text = [e.target for e in references]
        scores = metrics.exact_match(references_text, outputs, normalizer).as_dict()
    else:
        scores = metrics.slu([e.target for e in references], outputs, normalizer).as_dict()
    headline, _ = HEADLINE[task.kind]
    return {"headline": headline, **scores}


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
    normalizer = ArabicNormalizer(settings.fold_ta_marbuta_alef_maqsura)
    grouped: dict[str, tuple[list[Example], list[str]]] = defaultdict(lambda: ([], []))
    for example, output in zip(examples, outputs, strict=True):
        grouped[example.task][0].append(example)
        grouped[example.task][1].append(output)
    results = {
        task: score_task(task, refs, outs, normalizer)
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
        metric, higher_is_better = HEADLINE[get_task(task).kind]
        ours, theirs = results[model][task][metric], results[baseline][task][metric]
        gain = ours - theirs if higher_is_better else theirs - ours
        if gain <= 0:
            where = "worse than" if gain < 0 else "level with"
            behind[where].append(f"{task} ({metric} {theirs:.3f} → {ours:.3f})")
    if not any(behind.values()):
        return f"{model} beats {baseline} on every task"
    parts = [f"{how} {baseline} on: " + ", ".join(tasks) for how, tasks in behind.items() if tasks]
    return f"{model} is " + "; ".join(parts)


def headline_table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown table: one row per task, one column per evaluated model, headline metric."""
    names = list(results)
    tasks = sorted({task for scores in results.values() for task in scores})
    lines = ["| task | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for task in tasks:
        metric = next(results[n][task]["headline"] for n in names if task in results[n])
        better = "↑" if HEADLINE[get_task(task).kind][1] else "↓"
        cells = [f"{results[n][task][metric]:.3f}" if task in results[n] else "—" for n in names]
        lines.append(f"| {task} | {metric} {better} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
