"""The audio-LM families omnisched fine-tunes, and what differs between them.

Qwen2.5-Omni (its thinker) and Qwen2-Audio both put a Whisper-style encoder of 128-bin log-mel
at 16 kHz and an audio-to-LLM projector (the aligner) in front of a Qwen LLM, and both mark
audio in a ChatML prompt as ``<|audio_bos|><|AUDIO|>…<|audio_eos|>``. They differ in how a
checkpoint is loaded, where the projector lives, whether the encoder insists on Whisper's full
30 s window of features, how the prompt introduces the audio, and how the projector output is
reached. A :class:`Family` record holds all of it; nothing else names a family's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    PreTrainedModel,
    Qwen2_5OmniConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2AudioForConditionalGeneration,
)
from transformers.masking_utils import create_bidirectional_mask

from omnisched.errors import ConfigError


def whisper_lengths(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mel frames -> (frames after a Whisper-style encoder's stride-2 convolution, audio tokens
    after its stride-2 pooling): what the two families' towers compute in their private
    ``_get_feat_extract_output_lengths``, which transformers does not offer publicly."""
    convolved = (frames - 1) // 2 + 1
    return convolved, (convolved - 2) // 2 + 1


def _load_thinker(path: Path, model_type: str, dtype: torch.dtype) -> PreTrainedModel:
    """A Qwen2.5-Omni thinker saved alone, or taken out of a whole Qwen2.5-Omni checkpoint
    (its talker and token2wav weights are skipped)."""
    options = {}
    if model_type == "qwen2_5_omni":
        options["config"] = Qwen2_5OmniConfig.from_pretrained(path).thinker_config
    return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
        path, local_files_only=True, dtype=dtype, **options
    )


def _load_qwen2_audio(path: Path, model_type: str, dtype: torch.dtype) -> PreTrainedModel:
    return Qwen2AudioForConditionalGeneration.from_pretrained(
        path, local_files_only=True, dtype=dtype
    )


def _omni_aligner_output(model: PreTrainedModel, features, mask) -> torch.Tensor:
    return model.get_audio_features(features, mask).last_hidden_state


def _qwen2_audio_aligner_output(model: PreTrainedModel, features, mask) -> torch.Tensor:
    """What Qwen2AudioModel.forward computes before scattering into the prompt."""
    tower = model.model.audio_tower
    conv_lengths, counts = whisper_lengths(mask.sum(-1))
    frames = (features.shape[-1] - 2) // 2 + 1
    valid = torch.arange(frames, device=features.device)[None, :] < conv_lengths[:, None]
    attention = create_bidirectional_mask(
        config=tower.config,
        inputs_embeds=torch.zeros(len(features), frames, 1, dtype=features.dtype),
        attention_mask=valid.long(),
    )
    hidden = tower(features, attention_mask=attention).last_hidden_state
    projected = model.model.multi_modal_projector(hidden)
    keep = torch.arange(projected.shape[1], device=features.device)[None, :] < counts[:, None]
    return projected[keep]


@dataclass(frozen=True)
class Family:
    """One family of audio LMs: its model class and the few ways it differs from the others."""

    name: str
    model_class: type[PreTrainedModel]
    model_types: tuple[str, ...]  # config.json ``model_type`` values this family loads
    # (directory, its model_type, dtype) -> the model, read from local files only
    load: Callable[[Path, str, torch.dtype], PreTrainedModel]
    # parameter names of each part contain its prefix; the aligner's is tested first, since
    # it may live inside the audio encoder
    audio_encoder_prefix: str
    aligner_prefix: str  # the audio-to-LLM projector
    llm_prefixes: tuple[str, ...]  # the language model and its output head
    fixed_frames: int | None  # mel frames the encoder insists on (None: any length)
    audio_prefix: str  # text before the audio span in the user turn (the family's template)
    # the LLM's position ids depend on each clip's mel frame count (Qwen2.5-Omni's 3-D rope),
    # so a forward from cached aligner rows passes those counts as a feature mask
    positions_from_audio: bool
    # mel frames -> (encoder frames after its convolution, audio tokens the aligner emits)
    audio_lengths: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    # (model, features, mask) -> the projector's output for every valid audio frame, rows
    # concatenated [audio tokens, LLM width]: what the LLM receives in place of <|AUDIO|>
    aligner_output: Callable[[PreTrainedModel, torch.Tensor, torch.Tensor], torch.Tensor]


QWEN2_5_OMNI = Family(
    name="qwen2_5_omni",
    model_class=Qwen2_5OmniThinkerForConditionalGeneration,
    model_types=("qwen2_5_omni_thinker", "qwen2_5_omni"),
    load=_load_thinker,
    audio_encoder_prefix="audio_tower.",
    aligner_prefix="audio_tower.proj.",
    llm_prefixes=("language_model.", "lm_head."),
    fixed_frames=None,
    audio_prefix="",
    positions_from_audio=True,
    audio_lengths=whisper_lengths,
    aligner_output=_omni_aligner_output,
)
QWEN2_AUDIO = Family(
    name="qwen2_audio",
    model_class=Qwen2AudioForConditionalGeneration,
    model_types=("qwen2_audio",),
    load=_load_qwen2_audio,
    audio_encoder_prefix="audio_tower.",
    aligner_prefix="multi_modal_projector.",
    llm_prefixes=("language_model.", "lm_head."),
    fixed_frames=3000,
    audio_prefix="Audio 1: ",
    positions_from_audio=False,
    audio_lengths=whisper_lengths,
    aligner_output=_qwen2_audio_aligner_output,
)
FAMILIES: list[Family] = [QWEN2_5_OMNI, QWEN2_AUDIO]


def register_family(family: Family) -> Family:
    """Makes ``family``'s checkpoints loadable and its models recognized; a model type another
    family already loads is a ConfigError."""
    taken = [t for known in FAMILIES for t in known.model_types if t in family.model_types]
    if taken:
        raise ConfigError(f"family '{family.name}': model_type {taken} is already loaded")
    FAMILIES.append(family)
    return family


def family_for_type(model_type: str, where: str = "config.json") -> Family:
    """The family that loads checkpoints of ``model_type``; ConfigError lists the known ones."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    known = ", ".join(t for family in FAMILIES for t in family.model_types)
    raise ConfigError(f"{where}: model_type '{model_type}' is not supported (known: {known})")


def family_of(model: torch.nn.Module) -> Family:
    """The family of a loaded model (under any PEFT wrapping)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for family in FAMILIES:
        if isinstance(base, family.model_class):
            return family
    raise ConfigError(f"{type(base).__name__} is not a supported audio LM")
