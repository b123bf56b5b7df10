"""Manifests: JSON Lines of Examples, one file per split, with bad rows quarantined, not lost.

A corpus is a directory holding ``<split>/manifest.jsonl`` for each split; audio paths inside
are relative to the corpus directory and must stay under it unless ``allow_outside_root``.
Reading never stops at a bad row unless ``strict``: the row goes to the quarantine with its
file, line, field and reason, and the valid rest loads. What reading changes about a row
(resampling, downmixing, cutting long audio into windows) is reported as a note, never done
silently.

Every audio file is decoded in full by default (``decode_audio``), in a few threads: a header
does not reveal a truncated FLAC or NaN samples, and a bad file found mid-training would stop
the run. With ``decode_audio: false`` only headers are read; such a file then raises an
AudioError naming it when a batch loads it.

A file that passed is checked once, not at every read: its verdict (frames, rate, channels)
is kept in ``<corpus>/.audio-checks.json`` under its path, size, modification time and inode
(``audio_cache: hash`` adds a SHA-256 of its bytes), so a changed or replaced file is decoded
again. Failed files are never cached; ``audio_cache: off`` checks every file every time.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnisched.data.audio import MAX_SECONDS, SAMPLE_RATE, AudioInfo, inspect_audio
from omnisched.data.example import Example
from omnisched.errors import AudioError, ManifestError
from omnisched.tasks import get_task

SPLITS: tuple[str, ...] = ("train", "dev", "test")
MANIFEST_NAME = "manifest.jsonl"
CHUNK_ROWS = 4096  # rows parsed and checked together; bounds memory and the threads' queue
THREADED_ROWS = 8  # audio of fewer speech rows than this is checked without threads
AUDIO_CACHE_NAME = ".audio-checks.json"


class DataSettings(BaseModel):
    """How manifests are read: where audio may lie, what long audio becomes, how deeply audio
    files are checked."""

    model_config = ConfigDict(extra="forbid")

    allow_outside_root: bool = Field(
        False, description="accept audio paths that resolve outside the corpus directory"
    )
    long_audio: Literal["error", "split"] = Field(
        "error",
        description="audio longer than the 30 s feature window: quarantine the row (error), or "
        "cut it into equal windows of at most 30 s (split; classification rows only, since "
        "their label holds for every window)",
    )
    decode_audio: bool = Field(
        True,
        description="decode every audio file when reading (finds truncated files and NaN or "
        "infinite samples); false reads headers only",
    )
    duration_tolerance: float = Field(
        0.05, ge=0, description="largest relative gap between a row's duration_s and its file"
    )
    audio_cache: Literal["stat", "hash", "off"] = Field(
        "stat",
        description="reuse the verdict on an audio file checked before (kept in "
        "<corpus>/.audio-checks.json) while its size, modification time and inode are unchanged "
        "(stat), or also its SHA-256 (hash); off checks every file at every read",
    )


@dataclass(frozen=True)
class QuarantinedRow:
    """A row that failed validation: where it is, which field, why, and the raw line."""

    file: str
    line: int
    field: str
    reason: str
    raw: str


@dataclass(frozen=True)
class Note:
    """Something reading did to a valid row that the user should know about."""

    file: str
    line: int
    field: str
    note: str


@dataclass
class Manifest:
    """The valid examples of one manifest file, the rows quarantined from it, and notes."""

    path: Path
    examples: list[Example] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


RowCheck = Callable[[Example], tuple[str, str] | None]
"""A further check of a valid row (e.g. the model's token budget): (field, reason) or None."""


def manifest_path(root: Path, split: str) -> Path:
    """Where the manifest of ``split`` lies in the corpus at ``root``."""
    return Path(root) / split / MANIFEST_NAME


def example_line(example: Example) -> str:
    """One manifest line: the example as JSON (UTF-8, stable key order) and a newline."""
    return json.dumps(example.model_dump(mode="json"), ensure_ascii=False) + "\n"


def write_manifest(path: Path, examples: Iterable[Example]) -> int:
    """Writes examples as JSON Lines; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(example_line(example))
            count += 1
    return count


def iter_examples(path: Path) -> Iterator[Example]:
    """The rows of a manifest omnisched wrote itself, one at a time (no audio checks): for
    streaming over a corpus without holding it in memory."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield Example.model_validate_json(line)


class _Invalid(Exception):
    """A row fails validation at ``field_name`` for ``reason``."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field_name, self.reason = field_name, reason


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first problem pydantic found in a row."""
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    if not location and ": " in message:  # raised by Example's own consistency check
        location, message = message.split(": ", 1)
    return location or "<row>", message


def _parse(raw_bytes: bytes) -> tuple[str, Example]:
    """The decoded line and the Example in it; raises _Invalid naming the field otherwise."""
    try:
        raw = raw_bytes.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise _Invalid("<bytes>", f"invalid UTF-8: {error}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _Invalid("<json>", f"malformed JSON: {error.msg} at column {error.colno}") from None
    except ValueError as error:  # e.g. an integer longer than Python's digit limit
        raise _Invalid("<json>", f"malformed JSON: {error}") from None
    except RecursionError:
        raise _Invalid("<json>", "malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise _Invalid("<json>", f"a row must be a JSON object, got {type(data).__name__}")
    try:
        return raw, Example.model_validate(data)
    except ValidationError as error:
        raise _Invalid(*first_error(error)) from None


@dataclass
class _Row:
    """One line on its way through the checks."""

    line: int
    raw: str
    example: Example | None = None
    problem: tuple[str, str] | None = None
    pieces: list[Example] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


class _VerdictCache:
    """Audio files that passed their check, by path: the file's identity when checked (size,
    modification time, inode, and SHA-256 in ``hash`` mode), whether it was decoded, and what
    it holds. A file whose identity changed is checked again."""

    def __init__(self, root: Path, mode: str) -> None:
        self.path, self.mode = root / AUDIO_CACHE_NAME, mode
        self.entries: dict[str, dict] = {}
        self.changed = False
        self.lock = threading.Lock()
        if mode == "off":
            return
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(loaded, dict) and loaded.get("version") == 1:
            self.entries = loaded.get("files", {})

    def _identity(self, path: Path) -> list:
        stat = path.stat()
        identity: list = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        if self.mode == "hash":
            digest = hashlib.sha256()
            with path.open("rb") as data:
                for block in iter(lambda: data.read(1 << 20), b""):
                    digest.update(block)
            identity.append(digest.hexdigest())
        return identity

    def check(self, path: Path, decode: bool) -> AudioInfo:
        """What ``path`` holds: from the cache while the file is unchanged, else checked by
        ``inspect_audio`` (AudioError when it fails) and remembered."""
        if self.mode == "off":
            return inspect_audio(path, decode=decode)
        try:
            identity = self._identity(path)
        except OSError:  # AudioError from inspect_audio names the problem
            return inspect_audio(path, decode=decode)
        entry = self.entries.get(str(path))
        if entry and entry.get("identity") == identity and (entry.get("decoded") or not decode):
            return AudioInfo(entry["frames"], entry["rate"], entry["channels"])
        info = inspect_audio(path, decode=decode)
        with self.lock:
            self.entries[str(path)] = {
                "identity": identity,
                "decoded": decode,
                "frames": info.frames,
                "rate": info.rate,
                "channels": info.channels,
            }
            self.changed = True
        return info

    def save(self) -> None:
        """Writes the cache when it changed (atomically; a read-only corpus keeps no cache)."""
        if not self.changed:
            return
        temporary = None
        try:
            handle, temporary = tempfile.mkstemp(prefix=".audio-checks", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "files": self.entries}, out)
            os.replace(temporary, self.path)
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


class _AudioCheck:
    """The checks of a speech row's audio file, against one corpus root and settings."""

    def __init__(self, root: Path, settings: DataSettings) -> None:
        self.root = root
        self.resolved_root = root.resolve()
        self.settings = settings
        self.cache = _VerdictCache(root, settings.audio_cache)

    def _path(self, audio: str) -> Path:
        try:
            path = (self.root / audio).resolve()
        except (RuntimeError, OSError) as error:  # a loop: RuntimeError up to 3.12, then OSError
            if "loop" in str(error).lower() or getattr(error, "errno", None) == errno.ELOOP:
                raise _Invalid("audio", f"symlink loop at {audio}") from None
            raise _Invalid("audio", f"path {audio} cannot be resolved ({error})") from None
        except ValueError as error:
            raise _Invalid("audio", f"path {audio!r} is not a file name ({error})") from None
        if not self.settings.allow_outside_root and not path.is_relative_to(self.resolved_root):
            raise _Invalid(
                "audio",
                f"path {audio} lies outside the corpus root {self.root} "
                "(pass --allow-outside-root to accept it)",
            )
        try:
            found = path.is_file()
        except OSError as error:
            raise _Invalid("audio", f"path {audio} cannot be used ({error.strerror})") from None
        if not found:
            raise _Invalid("audio", f"audio file not found: {audio}")
        return path

    def __call__(self, row: _Row) -> _Row:
        """Fills ``row.pieces`` and ``row.notes``, or ``row.problem``."""
        example = row.example
        try:
            path = self._path(example.audio)
            try:
                info = self.cache.check(path, decode=self.settings.decode_audio)
            except AudioError as error:
                raise _Invalid("audio", f"{example.audio}: {error.reason}") from None
            seconds = self._check_duration(example, info.seconds)
            row.pieces = self._windows(example, seconds, info.rate, row)
        except _Invalid as invalid:
            row.problem = (invalid.field_name, invalid.reason)
            return row
        if info.rate != SAMPLE_RATE:
            row.notes.append(("audio", f"resampled from {info.rate} Hz to {SAMPLE_RATE} Hz"))
        if info.channels > 1:
            row.notes.append(("audio", f"downmixed from {info.channels} channels to mono"))
        return row

    def _check_duration(self, example: Example, file_seconds: float) -> float:
        """The seconds the row covers, after checking its stated duration against the file."""
        stated, tolerance = example.duration_s, self.settings.duration_tolerance
        if example.offset_s is None:
            if abs(stated - file_seconds) > tolerance * file_seconds:
                raise _Invalid(
                    "duration_s",
                    f"states {stated:.3f} s but {example.audio} holds {file_seconds:.3f} s "
                    f"(more than {tolerance:.0%} apart)",
                )
            return file_seconds
        if example.offset_s + stated > file_seconds * (1 + tolerance):
            raise _Invalid(
                "offset_s",
                f"the clip {example.offset_s:.3f}+{stated:.3f} s ends after the "
                f"{file_seconds:.3f} s of {example.audio}",
            )
        return stated

    def _windows(self, example: Example, seconds: float, rate: int, row: _Row) -> list[Example]:
        """The row itself, or its windows when it is longer than the feature window: equal
        runs of whole samples at the file's ``rate``, together exactly the row's audio."""
        if seconds <= MAX_SECONDS:
            return [example]
        too_long = f"{seconds:.1f} s is longer than the {MAX_SECONDS:.0f} s feature window"
        if self.settings.long_audio == "error":
            raise _Invalid("audio", f"{too_long} (data.long_audio: split cuts classification rows)")
        if not get_task(example.task).is_classification:
            raise _Invalid(
                "audio",
                f"{too_long}, and a {example.task} target cannot be divided among windows; "
                "cut the audio and its target before training",
            )
        count = math.ceil(seconds / MAX_SECONDS)
        first, frames = round((example.offset_s or 0.0) * rate), round(seconds * rate)
        bounds = [first + k * frames // count for k in range(count + 1)]
        pieces = [
            example.model_copy(
                update={
                    "id": f"{example.id}#{k}",
                    "offset_s": start / rate,
                    "duration_s": (end - start) / rate,
                    "meta": {**example.meta, "window_of": example.id},
                }
            )
            for k, (start, end) in enumerate(itertools.pairwise(bounds))
        ]
        width = seconds / count
        row.notes.append(
            ("audio", f"{too_long}: split into {count} windows of {width:.2f} s ({pieces[0].id}…)")
        )
        return pieces


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    numbered = enumerate(lines, start=1)
    while chunk := list(itertools.islice(numbered, size)):
        yield chunk


def read_manifest(
    path: Path,
    root: Path | None = None,
    strict: bool = False,
    settings: DataSettings | None = None,
    check: RowCheck | None = None,
) -> Manifest:
    """Reads and validates a manifest; bad rows are quarantined (or raise, when ``strict``).

    ``root`` is the corpus directory audio paths are relative to; by default the parent of the
    split directory holding ``path``. ``check`` is a further test of each valid row (the
    model's token budget, which the data layer cannot know).
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent.parent
    settings = settings or DataSettings()
    audit = _AudioCheck(root, settings)
    manifest = Manifest(path=path)
    seen: set[str] = set()
    with path.open("rb") as lines, ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for chunk in _chunks(lines, CHUNK_ROWS):
            rows = []
            for number, raw_bytes in chunk:
                if not raw_bytes.strip():
                    continue
                row = _Row(number, raw_bytes.decode("utf-8", "replace").rstrip("\r\n"))
                try:
                    row.raw, row.example = _parse(raw_bytes)
                    row.pieces = [row.example]
                except _Invalid as invalid:
                    row.problem = (invalid.field_name, invalid.reason)
                rows.append(row)
            speech = [r for r in rows if r.problem is None and r.example.audio is not None]
            list((pool.map if len(speech) > THREADED_ROWS else map)(audit, speech))
            for row in rows:
                if row.problem is None:
                    row.problem = _check_row(row, seen, check)
                if row.problem is not None:
                    if strict:
                        raise ManifestError(str(path), row.line, *row.problem)
                    manifest.quarantined.append(
                        QuarantinedRow(str(path), row.line, *row.problem, raw=row.raw)
                    )
                    continue
                seen.update([row.example.id, *(piece.id for piece in row.pieces)])
                manifest.examples.extend(row.pieces)
                manifest.notes += [Note(str(path), row.line, *note) for note in row.notes]
    audit.cache.save()
    return manifest


def _check_row(row: _Row, seen: set[str], check: RowCheck | None) -> tuple[str, str] | None:
    """The first problem of a row whose own fields and audio are valid: a duplicate id or a
    failed further check."""
    for piece in row.pieces:
        if piece.id in seen or row.example.id in seen:
            return "id", f"duplicate id '{piece.id}'"
        if check is not None and (problem := check(piece)) is not None:
            return problem
    return None


def _write_jsonl(path: Path, rows: Iterable, append: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a" if append else "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_quarantine(path: Path, rows: Iterable[QuarantinedRow], append: bool = False) -> int:
    """Writes (or appends) quarantined rows as JSON Lines; returns how many."""
    return _write_jsonl(path, rows, append)


def write_notes(path: Path, notes: Iterable[Note]) -> int:
    """Writes notes as JSON Lines; returns how many."""
    return _write_jsonl(path, notes)


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


def read_split(
    root: Path,
    split: str,
    strict: bool = False,
    settings: DataSettings | None = None,
    check: RowCheck | None = None,
) -> Manifest:
    """The manifest of one split of the corpus at ``root``, read and validated."""
    path = manifest_path(root, split)
    if not path.is_file():
        raise ManifestError(str(path), 0, "<file>", f"no manifest for split '{split}'")
    return read_manifest(path, root=root, strict=strict, settings=settings, check=check)


def load_split(
    root: Path,
    split: str,
    strict: bool = False,
    quarantine: Path | None = None,
    settings: DataSettings | None = None,
    notes: Path | None = None,
) -> list[Example]:
    """The valid examples of one split; quarantined rows are written to ``quarantine`` and
    notes to ``notes``."""
    manifest = read_split(root, split, strict, settings)
    if quarantine is not None and manifest.quarantined:
        write_quarantine(quarantine, manifest.quarantined)
    if notes is not None and manifest.notes:
        write_notes(notes, manifest.notes)
    return manifest.examples
