"""ms-swift and LLaMA-Factory chat rows: ``{"messages": [...], "audios": [...]}``.

Both trainers read the same shape for audio: a user turn whose content holds an ``<audio>`` tag
per entry of ``audios``, and an assistant turn with the answer. LLaMA-Factory's ShareGPT rows
(``conversations`` with ``from``/``value``, ``human``/``gpt``) are read too. Files are JSON Lines
(one row per line) or a JSON array (``line`` in the quarantine is then the row's position).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnisched.data.importers.base import (
    AudioRef,
    Draft,
    Importer,
    ImportOptions,
    RowProblem,
    quarantined,
)
from omnisched.data.manifest import QuarantinedRow
from omnisched.tasks import TASKS

AUDIO_TAG = "<audio>"
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def _find_prompt(text: str, task: str | None, whole: bool) -> tuple[str, str, str] | None:
    """(task, language, text before the prompt) of the task prompt that is ``text`` (``whole``)
    or ends it; only ``task``'s prompts when it is given."""
    for name, candidate in TASKS.items():
        if task not in (None, name):
            continue
        for language, prompt in candidate.prompts.items():
            if text == prompt or (not whole and text.endswith(prompt)):
                return name, language, text[: -len(prompt)].strip()
    return None


def _rows(src: Path) -> Iterator[tuple[int, str, Any]]:
    """(line or position, raw text, parsed value or a JSONDecodeError) of every row."""
    if src.suffix == ".json":
        data = json.loads(src.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise RowProblem("<json>", f"{src}: a JSON file must hold an array of rows")
        for position, row in enumerate(data, start=1):
            yield position, json.dumps(row, ensure_ascii=False), row
        return
    with src.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, line.rstrip("\n"), json.loads(line)
            except json.JSONDecodeError as error:
                yield number, line.rstrip("\n"), error


def _turns(row: dict) -> list[tuple[str, str]]:
    """(role, content) of every turn, from ``messages`` or ShareGPT ``conversations``."""
    if isinstance(row.get("messages"), list):
        turns, role_key, content_key = row["messages"], "role", "content"
    elif isinstance(row.get("conversations"), list):
        turns, role_key, content_key = row["conversations"], "from", "value"
    else:
        raise RowProblem("messages", "no 'messages' (or 'conversations') list")
    result = []
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get(content_key), str):
            raise RowProblem("messages", f"a turn must be an object with a string '{content_key}'")
        role = str(turn.get(role_key))
        result.append((SHAREGPT_ROLES.get(role, role), turn[content_key]))
    return result


def _audio_paths(row: dict, base: Path) -> list[Path]:
    audios = row.get("audios") or []
    if not isinstance(audios, list):
        raise RowProblem("audios", "must be a list of paths")
    paths = []
    for audio in audios:
        path = audio.get("path") if isinstance(audio, dict) else audio
        if not isinstance(path, str) or not path:
            raise RowProblem("audios", f"not a path: {audio!r:.60}")
        if "://" in path:
            raise RowProblem("audios", f"{path}: only local files are imported, not URLs")
        paths.append(base / path)
    return paths


def _draft(row: Any, src: Path, line: int, raw: str, options: ImportOptions) -> Draft:
    if not isinstance(row, dict):
        raise RowProblem("<json>", f"a row must be a JSON object, got {type(row).__name__}")
    turns = _turns(row)
    meta: dict[str, Any] = {}
    system = [content for role, content in turns if role == "system"]
    if system:
        meta["system"] = "\n".join(system)
    dialogue = [(role, content) for role, content in turns if role != "system"]
    if [role for role, _ in dialogue] != ["user", "assistant"]:
        raise RowProblem(
            "messages",
            f"one user turn then one assistant turn expected, got {[role for role, _ in dialogue]}",
        )
    (_, user), (_, answer) = dialogue
    audios = _audio_paths(row, options.media_dir or src.parent)
    tags = user.count(AUDIO_TAG)
    if tags != len(audios):
        raise RowProblem("audios", f"{tags} {AUDIO_TAG} tag(s) but {len(audios)} audio path(s)")
    if len(audios) > 1:
        raise RowProblem("audios", f"{len(audios)} audios in one row; an example holds one")
    text = user.replace(AUDIO_TAG, "").strip()
    found = _find_prompt(text, options.task, whole=bool(audios))
    if options.task is None and found is None:
        raise RowProblem(
            "task", "the user turn holds no omnisched task prompt; pass --task to name the task"
        )
    task = options.task or found[0]
    language = found[1] if found else None
    key, target = f"{src.stem}-{line}", answer.strip()
    if not audios:
        input_text = found[2] if found else text
        return Draft(
            str(src),
            line,
            raw,
            key,
            task,
            target,
            input_text=input_text,
            language=language,
            meta=meta,
        )
    if found is None and text:
        meta["instruction"] = text  # the source's own instruction; omnisched prompts its own
    return Draft(
        str(src),
        line,
        raw,
        key,
        task,
        target,
        audio=AudioRef(path=audios[0]),
        language=language,
        meta=meta,
    )


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every row of a ms-swift / LLaMA-Factory JSON or JSONL file."""
    for line, raw, row in _rows(src):
        if isinstance(row, json.JSONDecodeError):
            yield quarantined(src, line, raw, "<json>", f"malformed JSON: {row.msg}")
            continue
        try:
            yield _draft(row, src, line, raw, options)
        except RowProblem as problem:
            yield quarantined(src, line, raw, problem.field_name, problem.reason)


HELP = {
    "swift": """\
swift: an ms-swift JSON or JSONL file of rows
  {"messages": [{"role": "user", "content": "<audio>INSTRUCTION"},
                {"role": "assistant", "content": "TARGET"}], "audios": ["x.wav"]}
  (ShareGPT "conversations" with from/value read too; a "system" turn is kept in meta).
  One user and one assistant turn, at most one audio. Speech row: one <audio> tag and one
  path (relative paths under --media-dir, default the file's folder). Text row: no audio; the
  user content is the input text (a trailing omnisched task prompt is removed).
  task: --task, else the task whose prompt (tasks.py) is the instruction, else quarantined;
  language: --language, else the language of that prompt; target: the assistant turn;
  label (dialect, emotion): the target, through --label-map. Another instruction is kept in
  meta.instruction (omnisched prompts with its own).""",
    "llamafactory": """\
llamafactory: a LLaMA-Factory ShareGPT JSON or JSONL file with "messages" (or
  "conversations") and "audios", as in its data/mllm_audio_demo.json; read exactly as swift
  rows, with the same task / label / language mapping.""",
}


def importer(name: str) -> Importer:
    """The importer of one trainer's flavour of the format (``swift`` or ``llamafactory``):
    the same reader."""
    return Importer(name=name, read=read, tasks=tuple(TASKS), help=HELP[name], infers_task=True)
