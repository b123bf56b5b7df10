"""Speech-MASSIVE saved with ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict).

Columns as on the dataset card: ``audio`` (an Audio feature, read undecoded as its stored
bytes or path), ``utt``, ``annot_utt`` (``[type : filler]`` spans), ``scenario_str`` and
``intent_str`` (or the ClassLabel columns ``scenario`` and ``intent_idx``, read through their
label names), ``locale``, ``speaker_id``. MASSIVE intents are ``scenario_action``
(``alarm_set``), so the action is the intent without its scenario prefix.
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
    annotated_entities,
    quarantined,
    text_field,
)
from omnisched.data.manifest import QuarantinedRow
from omnisched.errors import ConfigError
from omnisched.tasks import slu_target

# omnisched split → Speech-MASSIVE's own split names (train_115 is the few-shot train split
# every locale has; some locales also have a full "train")
SPLIT_ALIASES = {"dev": ("validation",), "train": ("train_115",), "validation": ("dev",)}
SPEAKER_FIELDS = ("speaker_sex", "speaker_age", "speaker_first_language")


def _load(src: Path, options: ImportOptions):
    """The saved dataset (one split of a DatasetDict) with its audio left undecoded."""
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "speechmassive needs the datasets library: pip install 'omnisched[formats]'"
        ) from None
    try:
        saved = datasets.load_from_disk(str(src))
    except (FileNotFoundError, ValueError) as error:
        raise ConfigError(f"{src}: not a dataset saved with save_to_disk ({error})") from None
    if isinstance(saved, datasets.DatasetDict):
        name = options.source_split or options.split
        if name not in saved:
            name = next((a for a in SPLIT_ALIASES.get(name, ()) if a in saved), name)
        if name not in saved:
            raise ConfigError(
                f"{src}: no split '{name}' (splits: {', '.join(saved)}); name one with "
                "--source-split"
            )
        saved = saved[name]
    if "audio" not in saved.column_names:
        raise ConfigError(f"{src}: no 'audio' column ({', '.join(saved.column_names)})")
    return saved.cast_column("audio", datasets.Audio(decode=False))


def _named(row: dict, text: str, label: str, features: dict) -> str:
    """A string column, or a ClassLabel column read through its names."""
    if isinstance(row.get(text), str) and row[text]:
        return row[text]
    feature = features.get(label)
    value = row.get(label)
    if hasattr(feature, "int2str") and isinstance(value, int):
        return feature.int2str(value)
    if isinstance(value, str) and value:
        return value
    raise RowProblem(text, f"neither {text} nor a {label} label")


def _raw(row: dict) -> str:
    shown = {k: v for k, v in row.items() if k != "audio"}
    audio = row.get("audio") or {}
    shown["audio"] = {"path": audio.get("path"), "bytes": f"<{len(audio.get('bytes') or b'')}>"}
    return json.dumps(shown, ensure_ascii=False, default=str)


def _draft(row: dict, src: Path, line: int, features: dict, options: ImportOptions) -> Draft:
    utterance = text_field(row, "utt")
    if options.task == "asr":
        target = utterance
    else:
        scenario = _named(row, "scenario_str", "scenario", features)
        intent = _named(row, "intent_str", "intent_idx", features)
        action = intent.removeprefix(f"{scenario}_")
        target = slu_target(
            scenario, action, annotated_entities(text_field(row, "annot_utt"), "annot_utt")
        )
    audio = row.get("audio") or {}
    if audio.get("bytes"):
        ref = AudioRef(data=audio["bytes"])
    elif audio.get("path"):
        ref = AudioRef(path=(options.media_dir or src) / audio["path"])
    else:
        raise RowProblem("audio", "neither bytes nor a path")
    name = Path(row.get("path") or audio.get("path") or f"{line}").stem
    meta: dict[str, Any] = {"speaker": str(row["speaker_id"])} if row.get("speaker_id") else {}
    meta.update({key: row[key] for key in SPEAKER_FIELDS if row.get(key) not in (None, "")})
    meta["massive_id"] = str(row.get("id"))
    return Draft(
        str(src),
        line,
        _raw(row),
        f"{row.get('locale', 'massive')}-{name}",
        options.task,
        target,
        audio=ref,
        language=row.get("locale") or None,
        transcript=utterance,
        meta=meta,
    )


def read(src: Path, options: ImportOptions) -> Iterator[Draft | QuarantinedRow]:
    """Drafts of every row of the saved dataset; ``line`` is the row number."""
    dataset = _load(src, options)
    if "locale" not in dataset.column_names and options.language is None:
        raise ConfigError(f"{src}: no 'locale' column and no --language; pass --language")
    features = dict(dataset.features)
    for line, row in enumerate(dataset, start=1):
        if row.get("is_validated") is False and not options.unvalidated:
            yield quarantined(
                src,
                line,
                _raw(row),
                "is_validated",
                "the recording is not validated (pass --unvalidated to import such rows)",
            )
            continue
        try:
            yield _draft(row, src, line, features, options)
        except RowProblem as problem:
            yield quarantined(src, line, _raw(row), problem.field_name, problem.reason)


IMPORTER = Importer(
    name="speechmassive",
    read=read,
    tasks=("slu", "asr"),
    help="""\
speechmassive: Speech-MASSIVE saved with datasets' save_to_disk (a Dataset, or a DatasetDict
  whose split --source-split is read; default <split>, dev → validation, train → train_115 when
  there is no train). Rows with is_validated false are quarantined unless --unvalidated.
  Columns: audio (stored bytes, else path under --media-dir), utt, annot_utt, scenario_str /
  scenario, intent_str / intent_idx (ClassLabel names), locale, speaker_id, is_validated.
  task: slu (target: {"scenario", "action" = intent without "<scenario>_", "entities" from the
  [type : filler] spans of annot_utt}) or asr (target: utt); language: the locale's language
  (ar-SA → ar; the locale kept in meta.locale), --language overrides; utt → meta.transcript.""",
)
