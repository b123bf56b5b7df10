"""Appends a benchmark's figures to benchmarks/RESULTS.md with machine, date and command.

Every figure in RESULTS.md is written here by the script that measured it, never by hand.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """A one-line description of where the figures were taken."""
    import torch

    cpu = platform.processor() or platform.machine()
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{model or cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )


def append(title: str, table: list[dict], notes: list[str] = ()) -> str:
    """Appends a section with a markdown table of ``table`` rows; returns the section's text."""
    columns = list(table[0])
    lines = [
        f"## {title}",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{shlex.join(['python', *sys.argv])}`",
        *[f"- {note}" for note in notes],
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in table],
        "",
    ]
    section = "\n".join(lines) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nWritten by the scripts in this folder.\n\n")
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(section)
    return section
