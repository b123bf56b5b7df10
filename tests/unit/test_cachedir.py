"""Cache directories published by several processes: the first complete one stays."""

from __future__ import annotations

from pathlib import Path

from omnisched.cachedir import partial_dir, publish


def _filled(directory: Path, text: str) -> Path:
    partial = partial_dir(directory)
    (partial / "data").write_text(text, encoding="utf-8")
    return partial


def test_a_second_writer_keeps_the_first_complete_cache(tmp_path: Path):
    cache = tmp_path / "key"
    first, second = _filled(cache, "first"), _filled(cache.parent / "other" / "key", "second")
    publish(first, cache, lambda: False)
    publish(second, cache, lambda: (cache / "data").is_file())
    assert (cache / "data").read_text(encoding="utf-8") == "first"
    assert not second.exists() and not first.exists()


def test_a_stale_cache_at_the_same_path_is_replaced(tmp_path: Path):
    cache = tmp_path / "key"
    cache.mkdir()
    (cache / "old").write_text("another key", encoding="utf-8")
    publish(_filled(cache, "new"), cache, lambda: False)
    assert sorted(p.name for p in cache.iterdir()) == ["data"]
    assert [p.name for p in tmp_path.iterdir()] == ["key"]
