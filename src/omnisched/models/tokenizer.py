"""Qwen2.5-Omni's special tokens: the chat turns and audio span the adapter builds prompts of.

The real checkpoints bring their own tokenizer holding them; the tiny foundation's tokenizer
(``omnisched.lab.tokenizer``) gives them its first ids.
"""

from __future__ import annotations

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
AUDIO_BOS = "<|audio_bos|>"
AUDIO = "<|AUDIO|>"
AUDIO_EOS = "<|audio_eos|>"
IMAGE = "<|IMAGE|>"
VIDEO = "<|VIDEO|>"
VISION_BOS = "<|vision_bos|>"
VISION_EOS = "<|vision_eos|>"
SPECIAL_TOKENS = (
    PAD,
    IM_START,
    IM_END,
    AUDIO_BOS,
    AUDIO,
    AUDIO_EOS,
    IMAGE,
    VIDEO,
    VISION_BOS,
    VISION_EOS,
)
