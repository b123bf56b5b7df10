"""Auxiliary character CTC on the aligner output, for pre-training an audio LM from scratch.

A freshly initialized decoder first learns the text alone and ignores the audio tokens, so the
audio encoder gets almost no gradient for a long while; and a CTC loss from scratch first sits
on the all-blank plateau for a few hundred steps. So pre-training listens first: the encoder
and aligner alone learn a character CTC from the aligner's output (what the LLM receives),
which is cheap without the LLM, then the whole thinker trains with the CTC kept as an
auxiliary loss. Characters, not the LLM's byte-level tokens, are the CTC's labels: one label
per letter, and the head is used only in pre-training (it is not part of the saved thinker).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from omnisched.models.adapter import IGNORE_INDEX
from omnisched.models.families import family_of

BLANK = 0


class AlignerCTC(nn.Module):
    """Character CTC of a linear head on the audio tower's output.

    Registers a forward hook on the thinker's audio tower, so during training the loss reuses
    the features the forward pass has just computed; ``loss`` serves encoder-only steps.
    """

    def __init__(
        self, thinker: nn.Module, tokenizer, alphabet: Iterable[str], weight: float
    ) -> None:
        super().__init__()
        self.alphabet = "".join(sorted(set(alphabet)))
        self._index = {char: i + 1 for i, char in enumerate(self.alphabet)}  # 0 is blank
        self.head = nn.Linear(thinker.config.text_config.hidden_size, len(self.alphabet) + 1)
        self.tokenizer = tokenizer
        self.audio_token_id = thinker.config.audio_token_id
        self.weight = weight
        tower = thinker.model.audio_tower  # not kept as a submodule: its weights are the model's
        self._output_lengths = family_of(thinker).audio_lengths
        self._captured: torch.Tensor | None = None
        tower.register_forward_hook(self._capture)

    def _capture(self, _module: nn.Module, _inputs: tuple, output) -> None:
        self._captured = output.last_hidden_state

    def encode(self, text: str) -> list[int]:
        """Label ids of ``text``'s characters (characters outside the alphabet are skipped)."""
        return [self._index[char] for char in text if char in self._index]

    def loss(self, hidden: torch.Tensor, frames: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Weighted CTC loss per audio frame of the tower output ``hidden`` (all rows
        concatenated) for mel-frame counts ``frames`` and transcripts ``texts``."""
        _, counts = self._output_lengths(frames)
        log_probs = torch.log_softmax(self.head(hidden).float(), dim=-1)
        padded = nn.utils.rnn.pad_sequence(torch.split(log_probs, counts.tolist()))
        targets = [torch.tensor(self.encode(text), dtype=torch.long) for text in texts]
        loss = nn.functional.ctc_loss(
            padded,
            torch.cat(targets).to(padded.device),
            counts,
            torch.tensor([len(t) for t in targets]),
            blank=BLANK,
            reduction="sum",
            zero_infinity=True,
        )
        return self.weight * loss / counts.sum()

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss for the speech rows of the last forward pass, their answers as targets."""
        if self._captured is None or "feature_attention_mask" not in inputs:
            return torch.zeros((), device=inputs["input_ids"].device)
        speech_rows = (inputs["input_ids"] == self.audio_token_id).any(-1)
        answers = [row[row != IGNORE_INDEX][:-1] for row in inputs["labels"][speech_rows]]
        texts = self.tokenizer.batch_decode(answers)
        hidden, self._captured = self._captured, None
        return self.loss(hidden, inputs["feature_attention_mask"].sum(-1), texts)

    def greedy(self, hidden: torch.Tensor, frames: torch.Tensor) -> list[str]:
        """Greedy CTC transcripts of the tower output (for checking the encoder alone)."""
        _, counts = self._output_lengths(frames)
        texts = []
        for row in torch.split(self.head(hidden).argmax(-1), counts.tolist()):
            ids = row.tolist()
            kept = [i for k, i in enumerate(ids) if i != BLANK and (k == 0 or i != ids[k - 1])]
            texts.append("".join(self.alphabet[i - 1] for i in kept))
        return texts
