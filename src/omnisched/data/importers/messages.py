"""ms-swift and LLaMA-Factory chat rows: ``{"messages": [...], "audios": [...]}`` and kin.

Both trainers read the same shape for audio: a user turn whose content holds an ``<audio>`` tag
per entry of ``audios``, and an assistant turn with the answer. ms-swift's other documented
forms (``conversation`` pairs, alpaca ``instruction``/``input``/``output``, ``query``/
``response``/``history``), LLaMA-Factory's ShareGPT rows (``conversations`` with ``from``/
``value``) and a LLaMA-Factory ``dataset_info.json`` entry (its ``formatting``, ``columns`` and
``tags``) are read too. Files are JSON Lines (one row per line) or a JSON array (``line`` in the
quarantine is then the row's position).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from omnisched.errors import ConfigError
from omnisched.tasks import TASKS

AUDIO_TAG = "<audio>"
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
DATASET_INFO = "dataset_info.json"
# LLaMA-Factory's defaults (data/README.md): the source column of each attribute, per
# formatting (history and system are read only when "columns" names them; audios is read by
# default here, where LLaMA-Factory needs it named), and the ShareGPT tags.
DEFAULT_COLUMNS = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "audios": "audios"},
    "sharegpt": {"messages": "conversations", "audios": "audios"},
}
# ms-swift's alpaca rows carry system and history under these names
SWIFT_ALPACA = {**DEFAULT_COLUMNS["alpaca"], "system": "system", "history": "history"}
DEFAULT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "system_tag": "system",
}


@dataclass(frozen=True)
class Layout:
    """How rows are laid out: ``formatting`` alpaca or sharegpt with LLaMA-Factory's
    ``columns`` and ``tags`` (from a dataset_info.json entry), or None: each row's own form is
    recognised (ms-swift's documented forms, LLaMA-Factory's defaults)."""

    formatting: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    media_dir: Path | None = None


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


def _data_files(path: Path) -> list[Path]:
    """``path`` itself, or the JSON / JSONL files of a folder, in sorted order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no such file or folder")
    files = sorted(p for p in path.iterdir() if p.suffix in {".json", ".jsonl"} and p.is_file())
    if not files:
        raise ConfigError(f"{path}: a folder without *.json or *.jsonl files of rows")
    return files


def _dataset_info(info_path: Path, info: dict, options: ImportOptions) -> tuple[list[Path], Layout]:
    """The data files and layout of one entry of a LLaMA-Factory dataset_info.json: the entry
    named by --source-split, or the only one."""
    entries = {name: entry for name, entry in info.items() if isinstance(entry, dict)}
    name = options.source_split
    if name is None:
        if len(entries) != 1:
            raise ConfigError(
                f"{info_path}: {len(entries)} datasets ({', '.join(entries) or 'none'}); name one "
                "with --source-split"
            )
        name = next(iter(entries))
    if name not in entries:
        raise ConfigError(
            f"{info_path}: no dataset '{name}' (datasets: {', '.join(entries) or 'none'})"
        )
    entry = entries[name]
    if not isinstance(entry.get("file_name"), str):
        hub = [
            key for key in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url") if key in entry
        ]
        raise ConfigError(
            f"{info_path}: dataset '{name}' has no local file_name"
            + (f" ({', '.join(hub)}: download it and point file_name at it)" if hub else "")
        )
    formatting = entry.get("formatting", "alpaca")
    if formatting not in DEFAULT_COLUMNS:
        raise ConfigError(
            f"{info_path}: dataset '{name}': formatting '{formatting}' (alpaca or sharegpt read)"
        )
    for key in ("columns", "tags"):
        if not isinstance(entry.get(key, {}), dict):
            raise ConfigError(f"{info_path}: dataset '{name}': '{key}' must be an object")
    columns = {**DEFAULT_COLUMNS[formatting], **entry.get("columns", {})}
    tags = {**DEFAULT_TAGS, **entry.get("tags", {})}
    # LLaMA-Factory resolves relative media paths against media_dir, by default dataset_dir
    layout = Layout(formatting, columns, tags, options.media_dir or info_path.parent)
    return _data_files(info_path.parent / entry["file_name"]), layout


def _sources(src: Path, options: ImportOptions) -> list[tuple[Path, Layout]]:
    """(data file, layout) of everything SRC names: a data file, a dataset_info.json (or a
    folder holding one), or a folder of data files."""
    if src.is_dir():
        if (src / DATASET_INFO).is_file():
            src = src / DATASET_INFO
        else:
            return [(file, Layout()) for file in _data_files(src)]
    if src.suffix == ".json":
        try:
            data = json.loads(src.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{src}:{error.lineno}: malformed JSON ({error.msg})") from None
        if isinstance(data, dict):
            if src.name == DATASET_INFO or any(
                isinstance(entry, dict) and "file_name" in entry for entry in data.values()
            ):
                files, layout = _dataset_info(src, data, options)
                return [(file, layout) for file in files]
            raise ConfigError(
                f"{src}: a JSON object, not an array of rows nor a LLaMA-Factory "
                f"{DATASET_INFO} (entries with file_name)"
            )
    return [(src, Layout())]


def _rows(src: Path) -> Iterator[tuple[int, str, Any]]:
    """(line or position, raw text, parsed value or a JSONDecodeError) of every row."""
    if src.suffix == ".json":
        try:
            data = json.loads(src.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{src}:{error.lineno}: malformed JSON ({error.msg})") from None
        if not isinstance(data, list):
            raise ConfigError(f"{src}: a JSON file of rows must hold an array of rows")
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


def _string(row: dict, name: str, required: bool = True) -> str:
    value = row.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        found = "missing" if value is None else type(value).__name__
        raise RowProblem(name, f"a string is required ({found})")
    return value


def _no_history(row: dict, name: str | None) -> None:
    if name is not None and row.get(name):
        raise RowProblem(
            name,
            f"{len(row[name])} earlier turn(s): one user turn and one answer per example "
            "(multi-turn rows are not imported)",
        )


def _system(row: dict, name: str | None) -> list[tuple[str, str]]:
    value = row.get(name) if name is not None else None
    if value in (None, ""):
        return []
    if not isinstance(value, str):
        raise RowProblem(name, f"the system prompt must be a string ({type(value).__name__})")
    return [("system", value)]


def _sharegpt(row: dict, messages: str, tags: dict[str, str], system: str | None) -> list:
    turns = row.get(messages)
    if not isinstance(turns, list):
        raise RowProblem(messages, f"no '{messages}' list")
    roles = {
        tags["user_tag"]: "user",
        tags["assistant_tag"]: "assistant",
        tags["system_tag"]: "system",
    }
    result = _system(row, system)
    for turn in turns:
        role, content = (
            (turn.get(tags["role_tag"]), turn.get(tags["content_tag"]))
            if isinstance(turn, dict)
            else (None, None)
        )
        if not isinstance(content, str):
            raise RowProblem(
                messages, f"a turn must be an object with a string '{tags['content_tag']}'"
            )
        if role not in roles:
            raise RowProblem(
                messages,
                f"turn role '{role}' (field '{tags['role_tag']}'): only {', '.join(roles)} "
                "turns are imported",
            )
        result.append((roles[role], content))
    return result


def _alpaca(row: dict, columns: dict[str, str]) -> list[tuple[str, str]]:
    _no_history(row, columns.get("history"))
    prompt = _string(row, columns["prompt"])
    query = _string(row, columns["query"], required=False)
    user = "\n".join(part for part in (prompt, query) if part)
    return [
        *_system(row, columns.get("system")),
        ("user", user),
        ("assistant", _string(row, columns["response"])),
    ]


def _turns(row: dict, layout: Layout) -> list[tuple[str, str]]:
    """(role, content) of every turn, system prompts first, in whichever form the row is."""
    if layout.formatting == "sharegpt":
        return _sharegpt(row, layout.columns["messages"], layout.tags, layout.columns.get("system"))
    if layout.formatting == "alpaca":
        return _alpaca(row, layout.columns)
    if isinstance(row.get("messages"), list):
        tags = {**DEFAULT_TAGS, "role_tag": "role", "content_tag": "content"}
        tags.update(user_tag="user", assistant_tag="assistant")
        return _sharegpt(row, "messages", tags, "system")
    if isinstance(row.get("conversations"), list):
        return _sharegpt(row, "conversations", DEFAULT_TAGS, "system")
    if isinstance(row.get("conversation"), list):  # ms-swift: [{"human", "assistant"}, ...]
        pairs = row["conversation"]
        if len(pairs) != 1:
            _no_history({"conversation": pairs[:-1]}, "conversation")
        pair = pairs[0] if pairs else None
        if not isinstance(pair, dict):
            raise RowProblem("conversation", "an object {human, assistant} is required")
        return [
            *_system(row, "system"),
            ("user", _string(pair, "human")),
            ("assistant", _string(pair, "assistant")),
        ]
    if "query" in row and "response" in row:  # ms-swift: query / response / history
        _no_history(row, "history")
        return [
            *_system(row, "system"),
            ("user", _string(row, "query")),
            ("assistant", _string(row, "response")),
        ]
    if "instruction" in row and "output" in row:  # alpaca
        return _alpaca(row, SWIFT_ALPACA)
    raise RowProblem(
        "messages",
        "no 'messages', 'conversations' or 'conversation' list, no instruction / output and no "
        "query / response",
    )


def _audio_paths(row: dict, name: str, base: Path) -> list[Path]:
    audios = row.get(name) or []
    if isinstance(audios, str):
        audios = [audios]
    if not isinstance(audios, list):
        raise RowProblem(name, "must be a list of paths")
    paths = []
    for audio in audios:
        path = audio.get("path") if isinstance(audio, dict) else audio
        if not isinstance(path, str) or not path:
            raise RowProblem(name, f"not a path: {audio!r:.60}")
        if "://" in path:
            raise RowProblem(name, f"{path}: only local files are imported, not URLs")
        paths.append(base / path)
    return paths


def _draft(
    row: Any, src: Path, line: int, raw: str, options: ImportOptions, layout: Layout
) -> Draft:
    if not isinstance(row, dict):
        raise RowProblem("<json>", f"a row must be a JSON object, got {type(row).__name__}")
    turns = _turns(row, layout)
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
    audios_column = layout.columns.get("audios", "audios")
    audios = _audio_paths(row, audios_column, options.media_dir or layout.media_dir or src.parent)
    tags = user.count(AUDIO_TAG)
    if tags != len(audios):
        raise RowProblem(
            audios_column, f"{tags} {AUDIO_TAG} tag(s) but {len(audios)} audio path(s)"
        )
    if len(audios) > 1:
        raise RowProblem(
            audios_column,
            f"{len(audios)} audios in one row; an example holds one (split the row into one "
            "row per audio)",
        )
    text = user.replace(AUDIO_TAG, "").strip()
    found = _find_prompt(text, None, whole=bool(audios))
    if options.task is not None and found is not None and found[0] != options.task:
        raise RowProblem(
            "task",
            f"the instruction is the {found[0]} prompt; --task {options.task} would relabel "
            "the row (import without --task to keep each row's own task)",
        )
    if found is None and (options.task is None or not audios):
        raise RowProblem(
            "task",
            "the user turn holds no omnisched task prompt; "
            + (
                "pass --task to name the task"
                if options.task is None
                else f"a text row is imported only with its task's prompt (never relabelled "
                f"as {options.task})"
            ),
        )
    task = found[0] if found else options.task
    language = found[1] if found else None
    key, target = f"{src.stem}-{line}", answer.strip()
    if not audios:
        return Draft(
            str(src),
            line,
            raw,
            key,
            task,
            target,
            input_text=found[2],
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
    """Drafts of every row of a ms-swift / LLaMA-Factory JSON or JSONL file, a folder of them,
    or a LLaMA-Factory dataset_info.json entry."""
    for file, layout in _sources(src, options):
        for line, raw, row in _rows(file):
            if isinstance(row, json.JSONDecodeError):
                yield quarantined(file, line, raw, "<json>", f"malformed JSON: {row.msg}")
                continue
            try:
                yield _draft(row, file, line, raw, options, layout)
            except RowProblem as problem:
                yield quarantined(file, line, raw, problem.field_name, problem.reason)


HELP = {
    "swift": """\
swift: an ms-swift JSON or JSONL file of rows, or a folder of them; every form of its custom
  dataset docs: {"messages": [{"role", "content"}], "audios": [...]}, ShareGPT
  "conversations" (from / value), {"system", "conversation": [{"human", "assistant"}]},
  alpaca instruction / input / output, query / response / history (a non-empty history,
  several turns or several audios in one row are quarantined: one example per row). A system
  prompt is kept in meta.system. Speech row: one <audio> tag and one path (relative paths
  under --media-dir, default the file's folder). Text row: no audio; the user content is the
  input text (its trailing omnisched task prompt removed).
  task: the task whose prompt (tasks.py) is the instruction; --task names the task of rows
  with another instruction (kept in meta.instruction) and never relabels a row whose prompt
  is another task's (quarantined); a text row needs its task's prompt. language: --language,
  else the language of that prompt; target: the assistant turn; label (dialect, emotion): the
  target, through --label-map.""",
    "llamafactory": """\
llamafactory: a LLaMA-Factory data file read as swift rows, or its dataset_info.json (or the
  folder holding it): the entry named by --source-split (or the only one) is read with its
  formatting (alpaca: instruction / input / output / audios; sharegpt: conversations /
  audios; system and history when "columns" names them) and its "columns" and "tags"
  renames (role_tag, content_tag, user_tag, assistant_tag, system_tag); relative audio paths
  under --media-dir, default the dataset_dir (the folder of dataset_info.json), as
  LLaMA-Factory's media_dir.
  Same task / label / language mapping as swift.""",
}


def importer(name: str) -> Importer:
    """The importer of one trainer's flavour of the format (``swift`` or ``llamafactory``):
    the same reader."""
    return Importer(name=name, read=read, tasks=tuple(TASKS), help=HELP[name], infers_task=True)
