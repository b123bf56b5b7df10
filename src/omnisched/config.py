"""Recipe schema: what a run trains on, from which model, with which schedule and settings.

Recipes are YAML (read with ``safe_load``) validated by pydantic; every error names the field
path and, for closed choices, the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from omnisched.data.manifest import DataSettings
from omnisched.errors import ConfigError
from omnisched.schedule.strategies import Schedule, UniformSchedule
from omnisched.tasks import Task, declare_tasks

Settings = TypeVar("Settings", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Strict):
    """LoRA on the language model (peft); the papers' group uses r=16, alpha=32 on attention."""

    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]


class FreezeSettings(_Strict):
    """Which parts stay frozen: the audio encoder, the aligner (the audio-to-LLM projector),
    the LLM.

    A frozen LLM is still adapted through LoRA when ``lora`` is set."""

    audio_encoder: bool = True
    aligner: bool = True
    llm: bool = True


class ModelSettings(_Strict):
    """The model to fine-tune: a local directory written by ``save_pretrained`` (weights,
    tokenizer, and for real checkpoints their processor): a Qwen2.5-Omni thinker or whole
    Qwen2.5-Omni checkpoint (the thinker is loaded), or Qwen2-Audio."""

    path: Path = Path("runs/foundation")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="weights' dtype; bfloat16 for 7B checkpoints on GPUs"
    )
    gradient_checkpointing: bool = Field(False, description="recompute activations (memory)")
    lora: LoraSettings | None = LoraSettings()
    freeze: FreezeSettings = FreezeSettings()


class TrainSettings(_Strict):
    """Optimization and bookkeeping of the training loop."""

    steps: int = Field(600, gt=0)
    batch_size: int = Field(16, gt=0)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(50, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    checkpoint_every: int = Field(200, gt=0)
    log_every: int = Field(10, gt=0)
    seed: int = 0
    num_workers: int = Field(1, ge=0)
    max_nonfinite_steps: int = Field(
        10,
        ge=0,
        description="steps with a non-finite loss or gradient are skipped (no update) and "
        "logged; the run stops with an error after more than this many",
    )
    max_target_tokens: int | None = Field(
        None,
        gt=0,
        description="quarantine rows whose target is longer (in tokens); the model's context "
        "length is always a limit",
    )
    log_batches: bool = Field(
        False, description="write the ids of every step's batch to batches.jsonl"
    )
    aligner_cache: bool = Field(
        True,
        description="when the audio encoder and aligner are frozen, compute their output for "
        "every speech example once (cached under the recipe's cache directory) and train on "
        "it instead of the audio",
    )


class EvalSettings(_Strict):
    """Evaluation after training: split, generation budget, normalization option."""

    split: str = "test"
    modalities: list[Literal["speech", "text"]] = ["speech"]
    languages: list[str] | None = None
    batch_size: int = Field(32, gt=0)
    max_new_tokens: int = Field(96, gt=0)
    fold_ta_marbuta_alef_maqsura: bool = False
    limit_per_task: int | None = Field(None, gt=0)
    every: int | None = Field(
        None, gt=0, description="also evaluate on dev_split every this many training steps"
    )
    dev_split: str = "dev"
    dev_limit_per_task: int = Field(16, gt=0)


class Recipe(_Strict):
    """One training run: its own tasks, corpus, model, schedule, training and evaluation
    settings."""

    name: str
    tasks: list[Task] = Field(
        [],
        description="tasks beyond the built-in ones, declared here (omnisched.tasks.Task): "
        "known from the moment the recipe is read, so that its schedule and corpus may name them",
    )
    corpus: Path = Path("runs/corpus")
    data: DataSettings = DataSettings()
    model: ModelSettings = ModelSettings()
    schedule: Schedule = UniformSchedule(strategy="uniform")
    train: TrainSettings = TrainSettings()
    eval: EvalSettings = EvalSettings()
    cache: Path = Field(Path("runs/cache"), description="aligner embeddings and other caches")

    @field_validator("tasks")
    @classmethod
    def _declare(cls, tasks: list[Task]) -> list[Task]:
        try:
            declare_tasks(tasks)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        return tasks

    @field_validator("schedule", mode="before")
    @classmethod
    def _uniform_by_default(cls, schedule: object) -> object:
        if isinstance(schedule, dict) and "strategy" not in schedule:
            return {"strategy": "uniform", **schedule}
        return schedule


def describe_invalid(error: ValidationError, source: str) -> str:
    """Every field ``error`` finds wrong in what was read from ``source``, one per line."""
    lines = [f"{source}: invalid recipe"]
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "<root>"
        lines.append(f"  field '{where}': {problem['msg']}")
    return "\n".join(lines)


def parse_yaml(text: str, source: str) -> dict:
    """The mapping in YAML ``text``, read with ``safe_load``; ConfigError names ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML ({error})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a recipe must be a YAML mapping")
    return data


def load_yaml(path: Path) -> dict:
    """The mapping in a YAML file, read with ``safe_load``; ConfigError names the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error})") from None
    return parse_yaml(text, str(path))


def recipe_from_mapping(data: dict, source: str) -> Recipe:
    """A validated Recipe from a mapping read out of ``source``; ConfigError names each bad
    field."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_invalid(error, source)) from None


def with_overrides(settings: Settings, overrides: dict[str, Any], source: str) -> Settings:
    """``settings`` with the fields at the dotted paths of ``overrides`` (``train.steps``)
    replaced, then validated again as a whole, as if read from ``source``: an override is never
    assigned unchecked, and a ConfigError names each field it makes wrong."""
    data = settings.model_dump()
    for path, value in overrides.items():
        *parents, field = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[field] = value
    try:
        return type(settings).model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_invalid(error, source)) from None


def load_recipe(path: Path) -> Recipe:
    """A validated Recipe from YAML; a ConfigError names each bad field."""
    data = load_yaml(path)
    data.setdefault("name", Path(path).stem)
    return recipe_from_mapping(data, str(path))
