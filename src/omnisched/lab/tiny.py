"""The tiny Qwen2.5-Omni thinker of the embedded default: the real class at a few M parameters.

Built from a config, never downloaded. Its vocabulary is the corpus tokenizer's; its audio
encoder takes the real 128-bin log-mel features, so the same collator serves the 7B checkpoint.
A tiny Qwen2-Audio of the same sizes stands in for that family in tests.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from torch import nn
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
)

from omnisched.models import tokenizer as tok
from omnisched.models.features import N_MELS


class TinySize(BaseModel):
    """Widths and depths of the tiny thinker (audio encoder and language model)."""

    model_config = ConfigDict(extra="forbid")

    audio_layers: int = 4
    audio_width: int = 128
    audio_heads: int = 4
    text_layers: int = 4
    text_width: int = 192
    text_heads: int = 4
    text_kv_heads: int = 2


def _encoder(size: TinySize) -> dict:
    """The audio encoder at ``size``, as both families configure it."""
    return {
        "num_mel_bins": N_MELS,
        "encoder_layers": size.audio_layers,
        "encoder_attention_heads": size.audio_heads,
        "encoder_ffn_dim": 4 * size.audio_width,
        "d_model": size.audio_width,
        "max_source_positions": 1500,
    }


def _llm(tokenizer: PreTrainedTokenizerFast, size: TinySize) -> dict:
    """The language model at ``size`` over the tokenizer's vocabulary, as both families
    configure it."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_width,
        "intermediate_size": 3 * size.text_width,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": size.text_kv_heads,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
    }


def thinker_token_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    """The thinker config's special-token ids (audio, image, video, their start/end markers),
    taken from ``tokenizer``."""
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in tok.SPECIAL_TOKENS}
    return {
        "audio_token_id": ids[tok.AUDIO],
        "image_token_id": ids[tok.IMAGE],
        "video_token_id": ids[tok.VIDEO],
        "vision_start_token_id": ids[tok.VISION_BOS],
        "audio_start_token_id": ids[tok.AUDIO_BOS],
        "audio_end_token_id": ids[tok.AUDIO_EOS],
    }


def tiny_config(tokenizer: PreTrainedTokenizerFast, size: TinySize) -> Qwen2_5OmniThinkerConfig:
    """A Qwen2.5-Omni thinker config at ``size`` whose special ids are the tokenizer's."""
    head_dim = size.text_width // size.text_heads
    quarter = head_dim // 2 // 4  # mrope splits head_dim/2 rotary pairs over (t, h, w)
    return Qwen2_5OmniThinkerConfig(
        audio_config={
            **_encoder(size),
            "output_dim": size.text_width,
            "n_window": 50,
        },
        text_config={
            **_llm(tokenizer, size),
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [head_dim // 2 - 2 * quarter, quarter, quarter],
            },
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": size.text_width,
            "embed_dim": 32,
        },
        **thinker_token_ids(tokenizer),
        position_id_per_seconds=25,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def tiny_qwen2_audio_config(tokenizer: PreTrainedTokenizerFast, size: TinySize) -> Qwen2AudioConfig:
    """A Qwen2-Audio config at ``size`` whose special ids are the tokenizer's."""
    return Qwen2AudioConfig(
        audio_config=_encoder(size),
        text_config={
            "model_type": "qwen2",
            **_llm(tokenizer, size),
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        audio_token_id=tokenizer.convert_tokens_to_ids(tok.AUDIO),
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_qwen2_audio(
    tokenizer: PreTrainedTokenizerFast, size: TinySize | None = None
) -> PreTrainedModel:
    """A freshly initialized tiny Qwen2-Audio for ``tokenizer`` (tests of that family)."""
    return Qwen2AudioForConditionalGeneration(
        tiny_qwen2_audio_config(tokenizer, size or TinySize())
    )


def build_tiny(
    tokenizer: PreTrainedTokenizerFast, size: TinySize | None = None
) -> Qwen2_5OmniThinkerForConditionalGeneration:
    """A freshly initialized tiny thinker for ``tokenizer``.

    The audio tower's convolutions get Kaiming init instead of the config's std 0.02: at 0.02
    their output (std ~0.03) is buried under the sinusoidal position embedding (std ~0.6) and
    a from-scratch encoder takes far longer to hear anything.
    """
    model = Qwen2_5OmniThinkerForConditionalGeneration(tiny_config(tokenizer, size or TinySize()))
    tower = model.model.audio_tower
    for conv in (tower.conv1, tower.conv2):
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)
    return model
