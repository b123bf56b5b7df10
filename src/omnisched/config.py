"""Recipe schema: what a run trains on, from which model, with which schedule and settings.

Recipes are YAML (read with ``safe_load``) validated by pydantic; every error names the field
path and, for closed choices, the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from omnisched.data.manifest import DataSettings
from omnisched.errors import ConfigError
from omnisched.models.tiny import TinySize
from omnisched.schedule.recipes import Schedule, UniformSchedule
from omnisched.tasks import GENERIC


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Strict):
    """LoRA on the language model (peft); the papers' group uses r=16, alpha=32 on attention."""

    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]


class FreezeSettings(_Strict):
    """Which parts stay frozen: the audio encoder, the aligner (``audio_tower.proj``), the LLM.

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
    """One training run: corpus, model, schedule, training and evaluation settings."""

    name: str
    corpus: Path = Path("runs/corpus")
    data: DataSettings = DataSettings()
    model: ModelSettings = ModelSettings()
    schedule: Schedule = UniformSchedule(strategy="uniform")
    train: TrainSettings = TrainSettings()
    eval: EvalSettings = EvalSettings()
    cache: Path = Field(Path("runs/cache"), description="aligner embeddings and other caches")

    @field_validator("schedule", mode="before")
    @classmethod
    def _uniform_by_default(cls, schedule: object) -> object:
        if isinstance(schedule, dict) and "strategy" not in schedule:
            return {"strategy": "uniform", **schedule}
        return schedule


class CorpusSettings(_Strict):
    """An embedded corpus: where it lies, and its size and seed when it must be synthesized."""

    path: Path = Path("runs/corpus")
    size: int = Field(800, gt=0)
    seed: int = Field(0, ge=0)


class LengthStage(_Strict):
    """A stage of pre-training's length curriculum: ``steps`` on utterances of at most
    ``max_seconds``."""

    max_seconds: float = Field(gt=0)
    steps: int = Field(gt=0)


class PretrainSettings(_Strict):
    """Pre-training of the tiny foundation: the LLM reads text first (generic tasks), then
    the listener and the LLM learn speech (ASR, the generic tasks asked of speech, text
    replay), from scratch on every train speech row of the pre-training corpus."""

    tokenizer_vocab: int = Field(320, ge=300)  # byte-level: ~64 merges, about one per letter
    size: TinySize = TinySize()
    steps: int = Field(
        2400, gt=0, description="LLM steps on all utterances, after the length stages"
    )
    batch_size: int = Field(
        8,
        gt=0,
        description="batch of the LLM stages: at 8 the decoder gets twice the updates of 16 for "
        "the same examples and time, and it is short of updates, not of examples",
    )
    lr: float = Field(1.5e-3, gt=0)
    warmup_steps: int = Field(60, ge=0)
    max_grad_norm: float = Field(5.0, gt=0)
    sort_window: int = Field(
        16, ge=0, description="batches of similar duration within every this many batches"
    )
    listen_steps: int = Field(
        1600, ge=0, description="encoder-only character-CTC steps before the whole thinker trains"
    )
    listen_lr: float = Field(2e-3, gt=0, description="peak; cosine decay to 0 at listen_steps")
    listen_batch_size: int = Field(
        16,
        gt=0,
        description="batch of the listening stage: the listener is short of examples, not of "
        "updates (2400 steps of 8 left it at test CER 0.117, 2000 of 16 at 0.092)",
    )
    length_stages: list[LengthStage] = Field(
        default_factory=lambda: [
            LengthStage(max_seconds=2.5, steps=800),
            LengthStage(max_seconds=4.0, steps=400),
        ],
        description="LLM steps on utterances of at most max_seconds, stage by stage, before the "
        "steps on all of them: on short clips the decoder finds where in the audio each "
        "character is in a few hundred steps, on the whole mix it takes well over a thousand, "
        "and a jump from short clips to all of them undoes most of it",
    )
    freeze_listener: bool = Field(
        True,
        description="keep the audio encoder and aligner as the listening stage left them while "
        "the LLM learns the length stages (faster steps; the auxiliary CTC is then off)",
    )
    joint_last_stage: bool = Field(
        False,
        description="the last stage (every utterance) trains the audio encoder and aligner too, "
        "with the auxiliary CTC: the listener goes on learning while the decoder reads it",
    )
    aligner_ctc_weight: float = Field(
        0.5, ge=0, description="weight of the auxiliary CTC on the aligner output; 0 turns it off"
    )
    text_steps: int = Field(
        1200,
        ge=0,
        description="LLM steps on the generic tasks as text (every transcript of the corpus, "
        "written), before any speech reaches the LLM",
    )
    text_batch_size: int = Field(16, gt=0, description="batch of the text stage")
    generic_speech_share: float = Field(
        0.15,
        ge=0,
        lt=1,
        description="share of every speech-stage batch for the generic tasks asked of speech "
        "(the rest of the speech is ASR)",
    )
    text_replay: float = Field(
        0.15,
        ge=0,
        lt=1,
        description="share of every speech-stage batch for the generic tasks as text, so the "
        "LLM keeps what the text stage taught it",
    )
    held_out: str = Field(
        "last_word",
        description="generic task trained on text only: its speech score over its text score "
        "is the foundation's zero-shot text-to-speech transfer ratio",
    )
    generic_test_rows: int = Field(
        64, gt=0, description="test rows per generic task and modality in the card's scores"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _speech_keeps_asr(self) -> PretrainSettings:
        if self.generic_speech_share + self.text_replay >= 1:
            raise ValueError("generic_speech_share + text_replay must leave a share for ASR")
        spoken = [task.name for task in GENERIC if task.name != "continue"]
        if self.held_out not in spoken:
            raise ValueError(f"held_out: '{self.held_out}' is not one of {', '.join(spoken)}")
        return self


def _describe(error: ValidationError, source: str) -> str:
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
        raise ConfigError(_describe(error, source)) from None


def load_recipe(path: Path) -> Recipe:
    """A validated Recipe from YAML; a ConfigError names each bad field."""
    data = load_yaml(path)
    data.setdefault("name", Path(path).stem)
    return recipe_from_mapping(data, str(path))


def load_pretrain_settings(path: Path | None) -> PretrainSettings:
    """Pre-training settings from YAML, or the defaults."""
    if path is None:
        return PretrainSettings()
    try:
        return PretrainSettings.model_validate(load_yaml(path))
    except ValidationError as error:
        raise ConfigError(_describe(error, str(path))) from None
