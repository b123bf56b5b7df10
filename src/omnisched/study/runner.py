"""Studies: recipes × seeds, each run in its own directory, resumable, then one report.

A study file names its recipes (paths relative to it), seeds, the corpus, the foundation and
the other corpus it is pre-trained on (made and cached as the demo makes them), and overrides
applied to every recipe. A finished run (its ``eval.json`` exists) is skipped; a half-finished
one resumes from its last checkpoint. ``scale`` files merge onto the study for larger runs
(corpus size, model size, steps).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm.auto import tqdm

from omnisched.config import (
    CorpusSettings,
    PretrainSettings,
    Recipe,
    _describe,
    load_recipe,
    load_yaml,
)
from omnisched.data.synth.corpus import PRETRAIN_CORPUS, check_disjoint
from omnisched.errors import ConfigError


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
    foundation: Path = Path("runs/foundation")
    pretrain: PretrainSettings = PretrainSettings()
    overrides: dict = Field(default_factory=dict, description="merged into every recipe")
    out: Path | None = None
    claims: str = Field("paper1", description="which claims the report judges: paper1, paper2")

    @model_validator(mode="after")
    def _foundation_hears_other_rows(self) -> Study:
        check_disjoint(self.corpus, self.pretrain_corpus)
        return self


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_study(path: Path, scale: Path | None = None) -> Study:
    """The study at ``path`` with ``scale`` merged on; recipe paths resolved next to it."""
    data = load_yaml(path)
    if scale is not None:
        data = _merge(data, load_yaml(scale))
    try:
        study = Study.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, str(path))) from None
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
    data["model"]["path"] = str(study.foundation)
    data["train"]["seed"] = seed
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, f"{recipe_path} with the study's overrides")) from None


def run_dir(study: Study, recipe: Recipe, seed: int) -> Path:
    return study.out / "runs" / recipe.name / f"seed-{seed}"


def prepare(study: Study) -> None:
    """Synthesizes both corpora and pre-trains the foundation when they are missing or stale."""
    from omnisched.data.synth.corpus import ensure_corpus
    from omnisched.train.pretrain import pretrain

    ensure_corpus(study.corpus)
    ensure_corpus(study.pretrain_corpus)
    pretrain(study.pretrain_corpus.path, study.foundation, study.pretrain)


def run_study(study: Study) -> Path:
    """Runs every recipe × seed not finished yet, then writes the report; returns its path."""
    from omnisched.eval.run import evaluate_run
    from omnisched.study.report import write_study_report
    from omnisched.train.loop import train

    prepare(study)
    plan = [(run_recipe(study, path, seed), seed) for path in study.recipes for seed in study.seeds]
    with tqdm(total=len(plan), desc=f"study {study.name}", position=0) as bar:
        for recipe, seed in plan:
            directory = run_dir(study, recipe, seed)
            bar.set_postfix_str(f"{recipe.name} seed {seed}")
            if not (directory / "eval.json").is_file():
                train(recipe, directory)
                evaluate_run(directory, recipe.eval.split)
            bar.update(1)
    return write_study_report(study)
