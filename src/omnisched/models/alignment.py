"""Auxiliary CTC on the aligner output, for pre-training an audio LM from scratch.

A freshly initialized decoder first learns the text alone and ignores the audio tokens, so the
audio encoder gets almost no gradient for a long while. A CTC loss from the aligner's output
(what the LLM receives) to the transcript tokens gives the encoder a direct signal from step
one. The head is used only during pre-training and is not part of the saved thinker.
"""

from __future__ import annotations

import torch
from torch import nn

from omnisched.models.qwen_omni import IGNORE_INDEX


class AlignerCTC(nn.Module):
    """CTC loss of a linear head on the audio tower's output against each answer's tokens.

    Registers a forward hook on the thinker's audio tower, so the loss reuses the features the
    training forward pass has just computed.
    """

    def __init__(self, thinker: nn.Module, blank_id: int, weight: float) -> None:
        super().__init__()
        config = thinker.config
        self.head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size)
        self.blank_id = blank_id
        self.audio_token_id = config.audio_token_id
        self.weight = weight
        tower = thinker.model.audio_tower  # not kept as a submodule: its weights are the model's
        self._output_lengths = tower._get_feat_extract_output_lengths
        self._captured: torch.Tensor | None = None
        tower.register_forward_hook(self._capture)

    def _capture(self, _module: nn.Module, _inputs: tuple, output) -> None:
        self._captured = output.last_hidden_state

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted CTC loss per audio frame for the speech rows of the last forward pass."""
        if self._captured is None or "feature_attention_mask" not in inputs:
            return torch.zeros((), device=inputs["input_ids"].device)
        frames = inputs["feature_attention_mask"].sum(-1)
        _, counts = self._output_lengths(frames)
        log_probs = torch.log_softmax(self.head(self._captured).float(), dim=-1)
        per_row = torch.split(log_probs, counts.tolist())
        padded = nn.utils.rnn.pad_sequence(per_row)  # (time, batch, vocab)
        speech_rows = (inputs["input_ids"] == self.audio_token_id).any(-1)
        targets = [row[row != IGNORE_INDEX][:-1] for row in inputs["labels"][speech_rows]]
        loss = nn.functional.ctc_loss(
            padded,
            torch.cat(targets),
            counts,
            torch.tensor([len(t) for t in targets]),
            blank=self.blank_id,
            reduction="sum",
            zero_infinity=True,
        )
        self._captured = None
        return self.weight * loss / counts.sum()
