"""Manifests: JSON Lines of Examples, one file per split, with bad rows quarantined, not lost.

A corpus is a directory holding ``<split>/manifest.jsonl`` for each split; audio paths inside
are relative to the corpus directory. Reading never stops at a bad row unless ``strict``: the
row goes to the quarantine with its file, line, field and reason, and the valid rest loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import ValidationError

from omnisched.data.example import Example
from omnisched.errors import ManifestError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class QuarantinedRow:
    """A row that failed validation: where it is, which field, why, and the raw line."""

    file: str
    line: int
    field: str
    reason: str
    raw: str


@dataclass
class Manifest:
    """The valid examples of one manifest file and the rows quarantined from it."""

    path: Path
    examples: list[Example] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)


def manifest_path(root: Path, split: str) -> Path:
    """Where the manifest of ``split`` lies in the corpus at ``root``."""
    return Path(root) / split / MANIFEST_NAME


def write_manifest(path: Path, examples: Iterable[Example]) -> int:
    """Writes examples as JSON Lines (UTF-8, stable key order); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example.model_dump(mode="json"), ensure_ascii=False) + "\n")
            count += 1
    return count


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first problem pydantic found in a row."""
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    if not location and ": " in message:  # raised by Example's own consistency check
        location, message = message.split(": ", 1)
    return location or "<row>", message


class _Invalid(Exception):
    """A row fails validation at ``field_name`` for ``reason``."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field_name, self.reason = field_name, reason


def _check_row(raw: str, root: Path) -> Example:
    """The Example in one raw line; raises _Invalid naming the field otherwise."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _Invalid("<json>", f"malformed JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(data, dict):
        raise _Invalid("<json>", f"a row must be a JSON object, got {type(data).__name__}")
    try:
        example = Example.model_validate(data)
    except ValidationError as error:
        raise _Invalid(*first_error(error)) from None
    if example.audio is not None:
        audio = (root / example.audio).resolve()
        if not audio.is_relative_to(root.resolve()):
            raise _Invalid("audio", f"path {example.audio} lies outside the corpus root {root}")
        if not audio.is_file():
            raise _Invalid("audio", f"audio file not found: {example.audio}")
    return example


def read_manifest(path: Path, root: Path | None = None, strict: bool = False) -> Manifest:
    """Reads and validates a manifest; bad rows are quarantined (or raise, when ``strict``).

    ``root`` is the corpus directory audio paths are relative to; by default the parent of the
    split directory holding ``path``.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent.parent
    manifest = Manifest(path=path)
    seen: set[str] = set()
    with path.open("rb") as lines:
        for number, raw_bytes in enumerate(lines, start=1):
            try:
                raw = raw_bytes.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raw, problem = raw_bytes.decode("utf-8", "replace"), ("<bytes>", str(error))
            else:
                if not raw.strip():
                    continue
                problem = None
                try:
                    example = _check_row(raw, root)
                    if example.id in seen:
                        raise _Invalid("id", f"duplicate id '{example.id}'")
                except _Invalid as invalid:
                    problem = (invalid.field_name, invalid.reason)
            if problem is not None:
                if strict:
                    raise ManifestError(str(path), number, *problem)
                manifest.quarantined.append(QuarantinedRow(str(path), number, *problem, raw=raw))
                continue
            seen.add(example.id)
            manifest.examples.append(example)
    return manifest


def write_quarantine(path: Path, rows: Iterable[QuarantinedRow], append: bool = False) -> int:
    """Writes (or appends) quarantined rows as JSON Lines; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a" if append else "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def corpus_fingerprint(root: Path) -> str:
    """SHA-256 over every manifest and every audio file of the corpus, in a stable order."""
    root = Path(root)
    digest = hashlib.sha256()
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in {".jsonl", ".flac", ".wav"}
    )
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def load_split(
    root: Path, split: str, strict: bool = False, quarantine: Path | None = None
) -> list[Example]:
    """The valid examples of one split; quarantined rows are written to ``quarantine``."""
    path = manifest_path(root, split)
    if not path.is_file():
        raise ManifestError(str(path), 0, "<file>", f"no manifest for split '{split}'")
    manifest = read_manifest(path, root=root, strict=strict)
    if quarantine is not None and manifest.quarantined:
        write_quarantine(quarantine, manifest.quarantined)
    return manifest.examples
