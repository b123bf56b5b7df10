"""Settings of the lab's work: the embedded corpora and pre-training of the tiny foundation.

The core's recipe schema (``omnisched.config``) knows none of these; they are read by the
synthesizer, pre-training, the demo and the studies.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from omnisched.config import describe_invalid, load_yaml
from omnisched.errors import ConfigError
from omnisched.lab.tiny import TinySize
from omnisched.tasks import GENERIC


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
        3600, gt=0, description="LLM steps on all utterances, after the length stages"
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
        "updates",
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


def load_pretrain_settings(path: Path | None) -> PretrainSettings:
    """Pre-training settings from YAML, or the defaults."""
    if path is None:
        return PretrainSettings()
    try:
        return PretrainSettings.model_validate(load_yaml(path))
    except ValidationError as error:
        raise ConfigError(describe_invalid(error, str(path))) from None
