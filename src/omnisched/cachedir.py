"""Cache directories written atomically and safely by several processes at once.

A writer fills a private partial directory (its name carries the process id), then publishes it
under the final name in one rename. When another process published the same key first, the
writer keeps theirs and drops its own: a published cache is never removed under a reader.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def partial_dir(directory: Path) -> Path:
    """A fresh, empty directory beside ``directory`` for this process to fill."""
    partial = directory.with_name(f"{directory.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def publish(partial: Path, directory: Path, complete: Callable[[], bool]) -> None:
    """Renames the filled ``partial`` to ``directory``. If ``directory`` exists and
    ``complete()`` says it holds what ``partial`` does (another process published it first),
    ``partial`` is dropped; a stale ``directory`` (another key's cache at the same path) is
    replaced."""
    try:
        os.rename(partial, directory)
        return
    except OSError:  # the directory exists and is not empty
        if complete():
            shutil.rmtree(partial, ignore_errors=True)
            return
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
