"""``import_corpus``: one source in a public format → one split of an omnisched corpus.

Drafts from the format's importer become Examples: ``--task`` / ``--language`` applied, locales,
three-letter codes and language names reduced to a language code (``ar-SA``, ``ara``,
``Arabic`` → ``ar``; the source value kept in meta.locale), source labels mapped onto the
task's label set (a label outside it is quarantined, never changed), targets and transcripts
normalised (NFC, no bidi marks, zero-width space, BOM or tatweel, whitespace runs as one space;
a changed target's original kept in meta.source_target), ids already used by a row of another
task suffixed ``-<task>``, audio brought under
``DIR/<split>/audio/<task>/`` as 16 kHz mono. Bad rows go to ``DIR/<split>/import-quarantine.jsonl``
with file, line, field and reason; ``strict`` stops at the first. The manifest is written to a
staging file and moved into place at the end, so a failed import leaves no half manifest.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import ValidationError

from omnisched.data.example import Example
from omnisched.data.importers import IMPORTERS
from omnisched.data.importers.base import (
    Draft,
    Importer,
    ImportOptions,
    RowProblem,
    language_of,
    normalized_text,
)
from omnisched.data.importers.media import place_audio
from omnisched.data.manifest import (
    SPLITS,
    QuarantinedRow,
    first_error,
    manifest_path,
    read_manifest,
    write_manifest,
    write_quarantine,
)
from omnisched.errors import ConfigError, ManifestError
from omnisched.tasks import get_task

QUARANTINE_NAME = "import-quarantine.jsonl"
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


@dataclass
class ImportReport:
    """What an import did: rows written, audio actions, and the rows it quarantined."""

    manifest: Path
    speech: int = 0
    text: int = 0
    audio: Counter[str] = field(default_factory=Counter)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    quarantine_file: Path | None = None
    written: bool = True  # False: no row was valid, and no manifest was written


def get_importer(name: str) -> Importer:
    """The importer of format ``name``; ConfigError lists the known formats otherwise."""
    try:
        return IMPORTERS[name]
    except KeyError:
        raise ConfigError(f"unknown format '{name}'; known: {', '.join(IMPORTERS)}") from None


def _resolved(importer: Importer, options: ImportOptions) -> ImportOptions:
    """Options with the task filled in and checked against what the format yields."""
    task = options.task
    if task is None and importer.task_required:
        raise ConfigError(f"{importer.name}: pass --task ({' or '.join(importer.tasks)})")
    if task is None and not importer.infers_task:
        task = importer.tasks[0]
    if task is not None and task not in importer.tasks:
        raise ConfigError(
            f"{importer.name} yields the tasks {', '.join(importer.tasks)}; not '{task}'"
        )
    if options.split not in SPLITS:
        raise ConfigError(
            f"--split {options.split}: omnisched reads the splits {', '.join(SPLITS)} only; "
            "name the part of the source to read with --source-split (e.g. --split dev "
            "--source-split validation)"
        )
    language = options.language
    if language is not None:
        language = language_of(language)
        if not LANGUAGE_CODE.fullmatch(language):
            raise ConfigError(
                f"--language {options.language}: a language code (ar, en, eng ...) or an English "
                "language name expected"
            )
    if options.language is None and not importer.language_in_source:
        raise ConfigError(f"{importer.name} sources say nothing of their language; pass --language")
    labels = get_task(task).labels if task is not None else ()
    for source, label in options.label_map.items():
        if labels and label not in labels:
            raise ConfigError(
                f"--label-map {source}={label}: '{label}' is not in the label set of '{task}' "
                f"({', '.join(labels)})"
            )
    return replace(options, task=task, language=language)


def _example_id(key: str) -> str:
    """A file-name-safe id: anything but letters, digits, '.', '-' and '_' becomes '_'."""
    return re.sub(r"[^\w.-]+", "_", key).strip("._") or "row"


def _validated(**fields) -> Example:
    try:
        return Example(**fields)
    except ValidationError as error:
        raise RowProblem(*first_error(error)) from None


class _Converter:
    """Turns drafts into Examples for one import, keeping the ids already used."""

    def __init__(self, fmt: str, out: Path, options: ImportOptions, ids: dict[str, str]) -> None:
        self.fmt, self.out, self.options, self.ids = fmt, out, options, ids
        self.placed: list[Path] = []

    def _language(self, draft: Draft, meta: dict) -> str:
        if self.options.language is not None:
            return self.options.language
        if not draft.language:
            raise RowProblem("language", "the source gives no language; pass --language")
        language = language_of(draft.language)
        if not LANGUAGE_CODE.fullmatch(language):
            raise RowProblem(
                "language",
                f"'{draft.language}' is not a language code (ar, en, ar-SA ...); pass --language",
            )
        if language != draft.language:
            meta["locale"] = draft.language
        return language

    def _label(self, draft: Draft, meta: dict) -> tuple[str | None, str]:
        """(label, target): classification targets are the mapped label itself."""
        task = get_task(draft.task)
        if not task.is_classification:
            return None, draft.target
        source = draft.label if draft.label is not None else draft.target
        label = self.options.label_map.get(source, source)
        if label not in task.labels:
            raise RowProblem(
                "label",
                f"'{source}' is not in the label set of '{task.name}' "
                f"({', '.join(task.labels)}); map it with --label-map {source}=LABEL",
            )
        if label != source:
            meta["source_label"] = source
        return label, label

    def _unused(self, key: str, task: str | None = None) -> str:
        """``key``, or ``key-<task>`` when ``key`` is already a row of another task (the same
        source imported for a second task); RowProblem when that is taken too."""
        if key in self.ids and task is not None and self.ids[key] != task:
            key = f"{key}-{task}"
        if key in self.ids:
            raise RowProblem(
                "id",
                f"duplicate id '{key}' (already a {self.ids[key]} row); give this import its own "
                "ids with --id-prefix",
            )
        return key

    def examples(self, draft: Draft, report: ImportReport) -> list[Example]:
        """The speech or text row of ``draft``, and its text twin when asked for."""
        meta = {
            **draft.meta,
            "source": {"format": self.fmt, "file": draft.file, "line": draft.line},
        }
        language = self._language(draft, meta)
        label, target = self._label(draft, meta)
        if label is None and normalized_text(target) != target:
            meta["source_target"] = target
            target = normalized_text(target)
        transcript = normalized_text(draft.transcript) if draft.transcript else None
        example_id = self._unused(_example_id(self.options.id_prefix + draft.key), draft.task)
        common = {"task": draft.task, "language": language, "target": target, "label": label}
        if draft.audio is None:
            row = _validated(
                id=example_id, modality="text", input_text=draft.input_text, meta=meta, **common
            )
            self.ids[example_id] = draft.task
            report.text += 1
            return [row]

        twin_id = f"{example_id}-text"
        twin = self.options.text_twins and transcript
        if twin:
            twin_id = self._unused(f"{example_id}-text")
            meta["twin"] = twin_id
        if transcript:
            meta["transcript"] = transcript
        split_dir = self.out / self.options.split
        placed = place_audio(
            draft.audio, split_dir / "audio" / draft.task / example_id, self.options.link
        )
        self.placed.append(placed.path)
        if placed.note:
            meta["audio_note"] = placed.note
        try:
            rows = [
                _validated(
                    id=example_id,
                    modality="speech",
                    audio=placed.path.relative_to(self.out).as_posix(),
                    duration_s=placed.duration_s,
                    meta=meta,
                    **common,
                )
            ]
            if twin:
                rows.append(
                    _validated(
                        id=twin_id,
                        modality="text",
                        input_text=transcript,
                        meta={"twin": example_id},
                        **common,
                    )
                )
        except RowProblem:
            placed.path.unlink(missing_ok=True)
            raise
        self.ids.update((row.id, row.task) for row in rows)
        report.audio[placed.action] += 1
        report.speech += 1
        report.text += len(rows) - 1
        return rows


def _existing_ids(path: Path, out: Path, options: ImportOptions) -> dict[str, str]:
    """id → task of every row already in the split's manifest."""
    if not path.exists():
        return {}
    if not options.append:
        raise ConfigError(
            f"{path} exists; pass --append to add rows to it, or import into another --out "
            "or --split"
        )
    return {example.id: example.task for example in read_manifest(path, root=out).examples}


def import_corpus(fmt: str, src: Path, out: Path, options: ImportOptions) -> ImportReport:
    """Imports ``src`` (in format ``fmt``) as split ``options.split`` of the corpus at ``out``."""
    importer = get_importer(fmt)
    options = _resolved(importer, options)
    src, out = Path(src), Path(out)
    if not src.exists():
        raise ConfigError(f"{src}: no such file or directory")
    path = manifest_path(out, options.split)
    created = [folder for folder in (out, path.parent) if not folder.exists()]
    converter = _Converter(fmt, out, options, _existing_ids(path, out, options))
    report = ImportReport(manifest=path)

    def reject(row: QuarantinedRow) -> None:
        if options.strict:
            raise ManifestError(row.file, row.line, row.field, row.reason)
        report.quarantined.append(row)

    def rows() -> Iterator[Example]:
        for item in importer.read(src, options):
            if isinstance(item, QuarantinedRow):
                reject(item)
                continue
            try:
                yield from converter.examples(item, report)
            except RowProblem as problem:
                reject(
                    QuarantinedRow(
                        item.file, item.line, problem.field_name, problem.reason, item.raw
                    )
                )

    staged = path.with_name(path.name + ".importing")
    try:
        written = write_manifest(staged, rows())
    except BaseException:
        staged.unlink(missing_ok=True)
        for placed in converter.placed:
            placed.unlink(missing_ok=True)
        _remove_created(created)
        raise
    if written == 0:  # nothing valid: no (empty) manifest, so the corrected re-run is not refused
        staged.unlink()
        report.written = False
    elif path.exists():
        with path.open("a", encoding="utf-8") as manifest:
            manifest.write(staged.read_text(encoding="utf-8"))
        staged.unlink()
    else:
        staged.replace(path)
    quarantine = path.parent / QUARANTINE_NAME
    if report.quarantined:
        write_quarantine(quarantine, report.quarantined, append=options.append)
        report.quarantine_file = quarantine
    elif not options.append:
        quarantine.unlink(missing_ok=True)
    if written == 0 and not report.quarantined:
        _remove_created(created)
    return report


def _remove_created(created: list[Path]) -> None:
    """Removes the folders this import created (innermost first), so a failed import leaves
    no empty split behind."""
    for folder in reversed(created):
        if folder == created[-1]:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):  # not empty: something else lives there
                folder.rmdir()


def parse_label_map(value: str) -> dict[str, str]:
    """``--label-map``: a JSON or YAML file of ``source: label``, or ``SRC=label,SRC=label``."""
    path = Path(value)
    if path.suffix in {".json", ".yaml", ".yml"}:
        try:
            mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"--label-map {value}: cannot read ({error})") from None
        if not isinstance(mapping, dict):
            raise ConfigError(f"--label-map {value}: a mapping of source label to label expected")
        return {str(source): str(label) for source, label in mapping.items()}
    pairs = [pair.split("=", 1) for pair in value.split(",") if pair.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ConfigError(f"--label-map {value}: SRC=LABEL pairs separated by commas expected")
    return {source.strip(): label.strip() for source, label in pairs}


def describe(report: ImportReport, shown: int = 20) -> str:
    """What an import did, in a few lines, with the first quarantined rows."""
    audio = report.audio
    lines = [
        f"imported {report.speech + report.text} rows into {report.manifest}: "
        f"{report.speech} speech, {report.text} text"
        if report.written
        else f"no valid row: nothing imported, {report.manifest} not written",
        f"audio: {audio['copied']} copied, {audio['linked']} hard-linked, {audio['converted']} "
        f"converted to 16 kHz mono FLAC, {audio['cut']} cut out of longer recordings",
        f"{len(report.quarantined)} row(s) quarantined"
        + (f" → {report.quarantine_file}" if report.quarantine_file else ""),
    ]
    by_field = Counter(row.field for row in report.quarantined)
    lines += [f"  field '{name}': {count}" for name, count in by_field.most_common()]
    lines += [
        f"- {row.file}{f':{row.line}' if row.line else ''} field '{row.field}': {row.reason}"
        for row in report.quarantined[:shown]
    ]
    if len(report.quarantined) > shown:
        lines.append(f"- ... {len(report.quarantined) - shown} more in the quarantine file")
    return "\n".join(lines)
