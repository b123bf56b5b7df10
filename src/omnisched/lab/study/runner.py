"""Studies: recipes × seeds, each run in its own directory, resumable, then one report.

A study file names its recipes (paths relative to it), seeds, the corpus, the foundation (the
shipped one unless a directory is named: then it is pre-trained there on the other corpus when
missing), the learned-task bar, and overrides applied to every recipe. The foundation is
evaluated once on the dev subset and the test split (the bar's reference and the report's
first column). A finished run (its ``eval.json`` exists) is skipped; a half-finished one
resumes from its last checkpoint. ``scale`` files merge onto the study for larger runs
(corpus size, model, steps).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm.auto import tqdm

from omnisched.config import Recipe, describe_invalid, load_recipe, load_yaml
from omnisched.errors import ConfigError
from omnisched.lab.settings import CorpusSettings, PretrainSettings
from omnisched.lab.synth.corpus import PRETRAIN_CORPUS, check_disjoint


class Bar(BaseModel):
    """The learned-task bar: the dev value of each task's headline metric that ``recipe``
    must reach by its last dev evaluation for the study's runs to count as long enough;
    ``foundation`` means no worse than the foundation's own dev value (for ASR)."""

    model_config = ConfigDict(extra="forbid")

    recipe: str
    targets: dict[str, float | Literal["foundation"]] = Field(min_length=1)


class Study(BaseModel):
    """Recipes × seeds against one corpus and one foundation, with shared overrides."""

    model_config = ConfigDict(extra="forbid")

    name: str
    recipes: list[Path] = Field(min_length=1)
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    corpus: CorpusSettings = CorpusSettings()
    pretrain_corpus: CorpusSettings = Field(
        PRETRAIN_CORPUS, description="what the foundation is pre-trained on: other rows"
    )
    foundation: Path | None = Field(
        None, description="the shipped foundation when unset; else pre-trained here if missing"
    )
    pretrain: PretrainSettings = PretrainSettings()
    bar: Bar | None = None
    overrides: dict = Field(default_factory=dict, description="merged into every recipe")
    out: Path | None = None
    claims: str = Field("paper1", description="which claims the report judges: paper1, paper2")

    @model_validator(mode="after")
    def _foundation_hears_other_rows(self) -> Study:
        check_disjoint(self.corpus, self.pretrain_corpus)
        return self


def _merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` on top: mappings merge key by key, any other value (a list
    included) replaces the one below it."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_study(path: Path, scale: Path | None = None, seeds: list[int] | None = None) -> Study:
    """The study at ``path`` with ``scale`` merged on (and ``seeds`` in place of its own);
    recipe paths resolved next to it."""
    data = load_yaml(path)
    if scale is not None:
        data = _merge(data, load_yaml(scale))
    if seeds is not None:
        data["seeds"] = seeds
    try:
        study = Study.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_invalid(error, str(path))) from None
    recipes = [(Path(path).parent / r).resolve() for r in study.recipes]
    missing = [str(r) for r in recipes if not r.is_file()]
    if missing:
        raise ConfigError(f"{path}: field 'recipes': no such file(s) {missing}")
    return study.model_copy(
        update={"recipes": recipes, "out": study.out or Path("results") / study.name}
    )


def run_recipe(study: Study, recipe_path: Path, seed: int) -> Recipe:
    """A study's recipe for one seed: its corpus, foundation, overrides and seed."""
    recipe = load_recipe(recipe_path)
    data = _merge(recipe.model_dump(mode="json"), study.overrides)
    data["corpus"] = str(study.corpus.path)
    data["model"]["path"] = str(foundation_dir(study))
    data["train"]["seed"] = seed
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        where = f"{recipe_path} with the study's overrides"
        raise ConfigError(describe_invalid(error, where)) from None


def run_dir(study: Study, recipe: Recipe, seed: int) -> Path:
    return study.out / "runs" / recipe.name / f"seed-{seed}"


def foundation_dir(study: Study) -> Path:
    """The directory of the study's foundation: its own, or the shipped one."""
    from omnisched.lab.foundation import shipped_foundation

    return study.foundation if study.foundation is not None else shipped_foundation()


def prepare(study: Study) -> None:
    """Synthesizes the embedded corpus when missing (a corpus of your own, with manifests and
    no synthesis card, is used as it is), and pre-trains the study's own foundation on the
    other corpus when its directory holds no model yet."""
    from omnisched.data.card import SYNTH_PARAMS
    from omnisched.lab.pretrain import pretrain
    from omnisched.lab.synth.corpus import ensure_corpus

    corpus = Path(study.corpus.path)
    own = (corpus / "train" / "manifest.jsonl").is_file() and not (corpus / SYNTH_PARAMS).is_file()
    if not own:
        ensure_corpus(study.corpus)
    if study.foundation is not None and not (study.foundation / "config.json").is_file():
        ensure_corpus(study.pretrain_corpus)
        pretrain(study.pretrain_corpus.path, study.foundation, study.pretrain)


def evaluate_foundation(study: Study, recipe: Recipe) -> None:
    """The foundation's scores on the dev subset the runs are evaluated on during training
    and on the test split, under ``<out>/foundation/<split>/`` (once)."""
    from omnisched.eval.runs import evaluate_model

    settings = recipe.eval
    for split, limit in [
        (settings.dev_split, settings.dev_limit_per_task),
        (settings.split, settings.limit_per_task),
    ]:
        out = study.out / "foundation" / split
        if not (out / "eval.json").is_file():
            evaluate_model(
                foundation_dir(study),
                recipe.corpus,
                split,
                recipe.schedule.tasks,
                out,
                limit=limit,
                settings=settings,
                data=recipe.data,
                dtype=recipe.model.dtype,
            )


def _run_one(recipe: dict, directory: str) -> str:
    """Trains and evaluates one run (in a worker process of ``run_study``)."""
    from omnisched.eval.runs import evaluate_on_dev, evaluate_run
    from omnisched.train.loop import train

    parsed = Recipe.model_validate(recipe)
    train(parsed, Path(directory), evaluate=evaluate_on_dev)
    evaluate_run(Path(directory), parsed.eval.split)
    return directory


def _worker_start() -> None:
    """A spawned worker inherits the "spawn" start method; its data loader's workers start
    as they would in the main process (the platform's default)."""
    multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set, for processes started inside the block."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_study(study: Study, jobs: int = 1) -> Path:
    """Runs every recipe × seed not finished yet, then writes the report; returns its path.

    With ``jobs`` > 1, that many runs train at once in worker processes, the cores shared
    evenly between them (on a small CPU, two single-threaded runs finish more steps per second
    than one run on both cores); the first run trains alone, so that the caches every run
    reads (frozen-encoder outputs, aligner embeddings) are filled once."""
    from omnisched.lab.study.claims import CLAIMS
    from omnisched.lab.study.report import write_study_report

    prepare(study)
    plan = [(run_recipe(study, path, seed), seed) for path in study.recipes for seed in study.seeds]
    if study.bar is not None and study.bar.recipe not in {recipe.name for recipe, _ in plan}:
        raise ConfigError(f"study {study.name}: bar.recipe {study.bar.recipe!r} is not one of its")
    reference = next((r for r, _ in plan if study.bar and r.name == study.bar.recipe), plan[0][0])
    evaluate_foundation(study, reference)
    todo = [
        (recipe.model_dump(mode="json"), str(run_dir(study, recipe, seed)))
        for recipe, seed in plan
        if not (run_dir(study, recipe, seed) / "eval.json").is_file()
    ]
    with tqdm(total=len(plan), initial=len(plan) - len(todo), desc=f"study {study.name}") as bar:
        if todo and jobs > 1:
            bar.set_postfix_str(Path(todo[0][1]).parent.name + " (fills the caches)")
            _run_one(*todo.pop(0))
            bar.update(1)
        if jobs <= 1:
            for recipe, directory in todo:
                bar.set_postfix_str(f"{Path(directory).parent.name} {Path(directory).name}")
                _run_one(recipe, directory)
                bar.update(1)
        elif todo:
            threads = str(max(1, (os.cpu_count() or 1) // jobs))
            quiet = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TQDM_DISABLE": "1"}
            context = multiprocessing.get_context("spawn")
            with (
                _environment(**quiet),
                ProcessPoolExecutor(jobs, context, _worker_start) as pool,
            ):
                bar.set_postfix_str(f"{jobs} runs at once, {threads} thread(s) each")
                for done in as_completed([pool.submit(_run_one, *job) for job in todo]):
                    done.result()
                    bar.update(1)
    return write_study_report(study, CLAIMS[study.claims])
