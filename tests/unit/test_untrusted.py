"""Untrusted files: nothing a user hands omnisched is unpickled or YAML-constructed, audio stays
under the corpus root, and fuzzed recipes and manifests raise only omnisched's own errors."""

from __future__ import annotations

import ast
import contextlib
import itertools
import json
import os
import pathlib
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnisched
from omnisched.config import load_recipe, parse_yaml, recipe_from_mapping
from omnisched.data.audio import write_audio
from omnisched.data.manifest import read_manifest
from omnisched.errors import CheckpointError, ConfigError, ManifestError
from omnisched.train.checkpoint import OPTIMIZER_FILE, load_optimizer_state

SRC = Path(omnisched.__file__).parent
# The one pickle in the package: a forked child of the synthesizer sends its result back
# through a pipe to the process that forked it; no file, nothing from a user.
PICKLE_ALLOWED = {("lab/synth/corpus.py", "_isolated")}


def _calls(tree: ast.AST):
    """(innermost enclosing function name, call node) of every call in a module."""
    stack = [(tree, "<module>")]
    while stack:
        node, function = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            yield function, node
        stack += [(child, function) for child in ast.iter_child_nodes(node)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def test_no_unpickling_and_no_unsafe_yaml_in_the_package():
    problems, pickles = [], set()
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        for function, call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            name = _dotted(call.func)
            keywords = {k.arg: k.value for k in call.keywords}
            if name == "torch.load":
                safe = keywords.get("weights_only")
                if not (isinstance(safe, ast.Constant) and safe.value is True):
                    problems.append(f"{module}: torch.load without weights_only=True")
            elif name in {"pickle.load", "pickle.loads", "pickle.Unpickler"}:
                pickles.add((module, function))
            elif name.startswith("yaml.") and name not in {"yaml.safe_load", "yaml.safe_dump"}:
                problems.append(f"{module}: {name}")
            elif name == "np.load" and "allow_pickle" in keywords:
                problems.append(f"{module}: np.load with allow_pickle")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in {"pickle", "yaml", "dill"}:
                problems.append(f"{module}: from {node.module} import …")  # hides the calls
    assert problems == []
    assert pickles == PICKLE_ALLOWED


class _Payload:
    """Unpickling this runs code: it touches a file."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):
        return (pathlib.Path.touch, (self.flag,))


def test_a_pickled_payload_in_a_checkpoint_or_model_is_refused_unrun(
    micro_foundation: Path, tmp_path: Path
):
    flag = tmp_path / "ran"
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    torch.save({"optimizer": _Payload(flag)}, checkpoint / OPTIMIZER_FILE)
    with pytest.raises(CheckpointError, match="holds more than tensors"):
        load_optimizer_state(checkpoint)

    model = tmp_path / "model"
    shutil.copytree(micro_foundation, model, ignore=shutil.ignore_patterns("run", "init"))
    (model / "model.safetensors").unlink()
    torch.save({"weight": _Payload(flag)}, model / "pytorch_model.bin")
    from omnisched.models.loading import load_pretrained

    with pytest.raises(pickle.UnpicklingError):  # transformers loads .bin weights_only
        load_pretrained(model)
    assert not flag.exists()


def test_a_symlink_out_of_the_root_counts_as_outside(tmp_path: Path):
    corpus = tmp_path / "corpus"
    write_audio(tmp_path / "elsewhere.wav", np.zeros(8000, dtype=np.float32))
    (corpus / "train").mkdir(parents=True)
    (corpus / "audio").mkdir()
    os.symlink(tmp_path / "elsewhere.wav", corpus / "audio" / "link.wav")
    row = {"id": "a", "task": "asr", "modality": "speech", "language": "ar"}
    row |= {"audio": "audio/link.wav", "duration_s": 0.5, "target": "x"}
    (corpus / "train" / "manifest.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    (quarantined,) = read_manifest(corpus / "train" / "manifest.jsonl").quarantined
    assert quarantined.field == "audio" and "outside the corpus root" in quarantined.reason


# Fuzzing ---------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
)
values = (
    scalars
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.text(max_size=4) | st.integers(), scalars, max_size=2)
)
DELETE = object()  # a mutation that removes the key


VALID_RECIPE = {
    "name": "fuzz",
    "corpus": "corpus",
    "data": {"long_audio": "split"},
    "model": {"path": "model", "lora": {"r": 8}, "freeze": {"llm": True}},
    "schedule": {"strategy": "hybrid", "switch": 0.5},
    "train": {"steps": 10, "batch_size": 4, "lr": 1e-4},
    "eval": {"split": "test", "every": 5},
}
RECIPE_KEYS = sorted(
    {"strategy", "plan", "stages", "speech_share", "temperature", "diversity", "plateau"}
    | {key for part in VALID_RECIPE.values() if isinstance(part, dict) for key in part}
    | set(VALID_RECIPE)
)
STRATEGIES = ["uniform", "proportional", "temperature", "tpc", "ads", "hybrid"]
STRATEGIES += ["text_only", "mix", "curriculum", "crosslingual", "phases", "nonsense"]


def _mutated_recipe(strategy: str, mutations: list[tuple]) -> dict:
    """The valid recipe with ``strategy`` and keys replaced, added or removed anywhere."""
    recipe = json.loads(json.dumps(VALID_RECIPE))
    recipe["schedule"]["strategy"] = strategy
    for section, key, value in mutations:
        target = recipe.get(section) if section is not None else recipe
        if not isinstance(target, dict):  # an earlier mutation replaced the section
            target = recipe
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return recipe


SECTIONS = [None, *(key for key, part in VALID_RECIPE.items() if isinstance(part, dict))]
mutated_recipes = st.builds(
    _mutated_recipe,
    st.sampled_from(STRATEGIES),
    st.lists(
        st.tuples(
            st.sampled_from(SECTIONS),
            st.sampled_from(RECIPE_KEYS) | st.text(max_size=6),
            values | st.just(DELETE),
        ),
        min_size=1,
        max_size=2,
    ),
)


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@FUZZ
@given(text=st.text(max_size=200))
def test_fuzzed_recipe_text_raises_only_config_errors(text: str):
    with contextlib.suppress(ConfigError):
        recipe_from_mapping(parse_yaml(text, "fuzz.yaml"), "fuzz.yaml")


@FUZZ
@given(recipe=mutated_recipes)
def test_fuzzed_recipe_mappings_raise_only_config_errors(recipe: dict):
    with contextlib.suppress(ConfigError):
        recipe_from_mapping(recipe, "fuzz.yaml")


def test_recipe_files_that_are_not_utf8_or_deeply_nested_are_config_errors(scratch: Path):
    path = scratch / "recipe.yaml"
    for content, needle in [(b"name: \xff\xfe\n", "not UTF-8"), (b"[" * 1000, "not valid YAML")]:
        path.write_bytes(content)
        with pytest.raises(ConfigError, match=needle):
            load_recipe(path)


def test_the_unmutated_recipe_loads(scratch: Path):
    path = scratch / "recipe.yaml"
    path.write_text(yaml.safe_dump(VALID_RECIPE), encoding="utf-8")
    assert load_recipe(path).schedule.strategy == "hybrid"


VALID_ROWS = [
    {"id": "ok-1", "task": "asr", "modality": "text", "language": "ar", "input_text": "نص"}
    | {"target": "نص"},
    {"id": "ok-2", "task": "emotion", "modality": "speech", "language": "ar"}
    | {"audio": "audio/ok.wav", "duration_s": 0.5, "target": "sad", "label": "sad"},
]
ROW_KEYS = sorted({*VALID_ROWS[0], *VALID_ROWS[1], "offset_s", "meta"})


def _mutated_row(row: dict, mutations: list[tuple], ascii_only: bool) -> bytes:
    """A valid row with fields replaced by anything, removed or added, as one JSON line."""
    row = dict(row, id="fuzz")
    for key, value in mutations:
        if value is DELETE:
            row.pop(key, None)
        else:
            row[key] = value
    return json.dumps(row, ensure_ascii=ascii_only).encode()


PATHS = st.sampled_from(["../x.wav", "/etc/passwd", "audio", "a\0b", "x" * 300])
mutated_rows = st.builds(
    _mutated_row,
    st.sampled_from(VALID_ROWS),
    st.lists(
        st.tuples(
            st.sampled_from(ROW_KEYS) | st.text(max_size=6), values | PATHS | st.just(DELETE)
        ),
        min_size=1,
        max_size=2,
    ),
    st.booleans(),
)
lines = mutated_rows | st.binary(max_size=80) | values.map(lambda v: json.dumps(v).encode())
MANIFESTS = itertools.count()


@pytest.fixture(scope="module")
def corpus(scratch: Path) -> Path:
    root = scratch / "corpus"
    write_audio(root / "audio" / "ok.wav", np.zeros(8000, dtype=np.float32))
    (root / "train").mkdir(parents=True)
    return root


@FUZZ
@given(fuzzed=lines)
def test_fuzzed_manifest_lines_are_quarantined_and_valid_rows_kept(corpus: Path, fuzzed):
    good = [json.dumps(row, ensure_ascii=False).encode() for row in VALID_ROWS]
    content = b"\n".join([good[0], fuzzed, good[1]]) + b"\n"
    # a new file each time: rewriting one in place makes ext4 flush it, 1 ms a write
    path = corpus / "train" / f"{next(MANIFESTS)}.jsonl"
    path.write_bytes(content)
    manifest = read_manifest(path, root=corpus)
    ids = [e.id for e in manifest.examples]
    assert ids[0] == "ok-1" and ids.count("ok-2") == 1
    numbered = content.split(b"\n")[:-1]
    last = {row.line: row for row in manifest.quarantined}.get(len(numbered))
    assert last is None or last.field == "id"  # kept, or a fuzzed row took its id
    rows = [line for line in numbered if line.strip()]
    assert len(rows) == len(manifest.quarantined) + len(manifest.examples)
    with contextlib.suppress(ManifestError):
        read_manifest(path, root=corpus, strict=True)
    path.unlink()
