"""Metrics log: one JSON object per line in ``metrics.jsonl``, appended as training goes."""

from __future__ import annotations

import json
import math
from pathlib import Path


class MetricsLog:
    """Appends records to a JSON Lines file; non-finite numbers are written as null."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(clean, ensure_ascii=False) + "\n")


def read_metrics(path: Path) -> list[dict]:
    """All records of a metrics log."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
