"""A recipe's schedule as a training file for ms-swift or LLaMA-Factory.

Row ``n`` of the file is position ``n`` of the schedule's stream of global batches, drawn by the
same plan and sampler training uses: global batch ``s`` is rows ``s·B`` to ``(s+1)·B - 1``. A
trainer that reads the file in order with a global batch of ``B`` (per-device batch × gradient
accumulation × devices) trains on exactly the schedule's batches; :data:`TRAINER_SETTINGS` says
how to keep each trainer from shuffling. Next to the file, ``<file>.order.jsonl`` names the
example, step and phase of every row.

Rows are chat turns in the format both trainers read for audio: the user turn is the task's
prompt (``tasks.py``) after an ``<audio>`` tag for speech rows, after the input text and a
newline for text rows — the prompts omnisched's own adapter builds — and the assistant turn is
the target. Audio paths are absolute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.tasks import get_task

FORMATS = ("swift", "llamafactory")
AUDIO_TAG = "<audio>"
DATASET_INFO = "dataset_info.json"

TRAINER_SETTINGS = {
    "swift": """\
swift sft --dataset {file} --dataset_shuffle false --train_dataloader_shuffle false \\
    --split_dataset_ratio 0 --strict true --per_device_train_batch_size b \\
    --gradient_accumulation_steps g --num_train_epochs 1 ...   # b x g x GPUs = {batch_size}
  no '#N' sampling suffix on --dataset, no --streaming, --packing or --group_by_length, and a
  --max_length that drops no row (its default truncation_strategy 'delete' would shift the
  order); ms-swift < 3.6 split 1% off for validation unless --split_dataset_ratio 0.""",
    "llamafactory": """\
LLaMA-Factory YAML: dataset: {name}   dataset_dir: {folder}   disable_shuffling: true
  per_device_train_batch_size x gradient_accumulation_steps x GPUs = {batch_size};
  num_train_epochs: 1.0 (or max_steps: {steps}); keep val_size: 0, streaming: false,
  packing: false, mix_strategy: concat, no max_samples, and a cutoff_len that cuts no row.""",
}


def chat_row(example: Example, root: Path) -> dict:
    """The example as one ms-swift / LLaMA-Factory row: ``messages`` and ``audios``."""
    instruction = get_task(example.task).prompt(example.language)
    if example.modality == "speech":
        user = f"{AUDIO_TAG}{instruction}"
        audios = [str((Path(root) / example.audio).resolve())]
    else:
        user = f"{example.input_text}\n{instruction}"
        audios = []
    messages = [
        {"role": "user", "content": user},
        {"role": "assistant", "content": example.target},
    ]
    return {"messages": messages, "audios": audios}


@dataclass
class ExportReport:
    """What was written: the training file, its order file, and how many rows and steps."""

    file: Path
    order: Path
    rows: int
    steps: int
    batch_size: int
    dataset_info: Path | None = None
    notes: list[str] = field(default_factory=list)


def _notes(sampler) -> list[str]:
    """What a file cannot carry that training would do: plateau switches, embedding refreshes."""
    notes = []
    for phase in sampler.plan.phases:
        plateau = phase.spec.until_plateau
        if plateau is not None:
            notes.append(
                f"phase '{phase.name}' ends on a loss plateau in training; in the file it ends "
                f"at {plateau.max_fraction:.0%} of the steps, as in `omnisched preview`"
            )
    if sampler.plan.refresh_every:
        notes.append(
            "ADS embeddings are refreshed during training every "
            f"{sampler.plan.refresh_every} steps; the file uses the initial embeddings throughout"
        )
    return notes


def _register(dataset_info: Path, name: str, file: Path) -> None:
    """Adds (or replaces) the LLaMA-Factory dataset entry of ``file`` in ``dataset_info``."""
    entries = json.loads(dataset_info.read_text(encoding="utf-8")) if dataset_info.exists() else {}
    entries[name] = {
        "file_name": file.name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "audios": "audios"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }
    dataset_info.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")


def export_schedule(
    recipe, fmt: str, out: Path, strict: bool = False, name: str | None = None
) -> ExportReport:
    """Writes the recipe's schedule to ``out`` in format ``fmt`` (``swift``: JSON Lines;
    ``llamafactory``: a JSON array plus its entry ``name`` in ``dataset_info.json`` beside it)."""
    from omnisched.preview import schedule

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; known: {', '.join(FORMATS)}")
    out = Path(out)
    refusals = {
        "batching": "form batches by budget, of varying size; ms-swift and LLaMA-Factory read "
        "a file in batches of one fixed size. Export the recipe without `batching` (its "
        "batch_size is the global batch)",
        "adaptive": "mix adaptively: their task weights follow the training losses, which a "
        "file written before training cannot carry. Train with `omnisched train` or "
        "ScheduledTrainer, or export a fixed mixture (e.g. strategy: temperature)",
    }
    for setting, reason in refusals.items():
        named = [spec.name for spec in recipe.schedule.phases() if getattr(spec, setting)]
        if named:
            raise ConfigError(f"phase(s) {', '.join(named)} of recipe '{recipe.name}' {reason}")
    chosen, batches, sampler = schedule(recipe, strict)
    rows = [chat_row(chosen[i], recipe.corpus) for batch in batches for i in batch]
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "swift":
        with out.open("w", encoding="utf-8") as file:
            for row in rows:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    order = out.with_name(out.name + ".order.jsonl")
    with order.open("w", encoding="utf-8") as file:
        row = 0
        for step, batch in enumerate(batches):
            phase = sampler.phase_at(step)
            for index in batch:
                example = chosen[index]
                record = {
                    "row": row,
                    "step": step,
                    "phase": phase,
                    "id": example.id,
                    "pool": f"{example.task}/{example.modality}/{example.language}",
                }
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
                row += 1
    report = ExportReport(out, order, len(rows), len(batches), recipe.train.batch_size)
    if fmt == "llamafactory":
        report.dataset_info = out.parent / DATASET_INFO
        _register(report.dataset_info, name or out.stem, out)
    report.notes = _notes(sampler)
    return report
