"""Adapter for audio LMs: prompts, collation, generation and aligner embeddings.

The one place that knows how a model wants its inputs: the ChatML format with the audio
placeholder expanded to as many ``<|AUDIO|>`` tokens as the audio tower will produce, log-mel
features with their mask, and loss only on the answer. What differs between Qwen2.5-Omni and
Qwen2-Audio comes from ``models.families``; the tiny embedded model and the 7B checkpoints
share their class, so they share this adapter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from omnisched.data.audio import SAMPLE_RATE
from omnisched.data.dataset import LoadedExample
from omnisched.data.example import Example
from omnisched.models import tokenizer as tok
from omnisched.models.families import family_of
from omnisched.models.features import LogMel
from omnisched.tasks import get_task

IGNORE_INDEX = -100


class AudioLMAdapter:
    """Turns examples into a Qwen2.5-Omni thinker's or Qwen2-Audio's inputs and model outputs
    back into text."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        features: LogMel | None = None,
    ) -> None:
        """``features`` defaults to the checkpoint's own extractor, or the Whisper default."""
        self.model = model
        self.tokenizer = tokenizer
        self.family = family_of(model)
        self.features = features or LogMel.for_checkpoint(
            self.thinker.config.name_or_path, self.family.fixed_frames
        )
        self.audio_id = tokenizer.convert_tokens_to_ids(tok.AUDIO)
        self.audio_bos_id = tokenizer.convert_tokens_to_ids(tok.AUDIO_BOS)
        self.audio_eos_id = tokenizer.convert_tokens_to_ids(tok.AUDIO_EOS)
        self.end_id = tokenizer.convert_tokens_to_ids(tok.IM_END)

    @property
    def thinker(self) -> torch.nn.Module:
        """The thinker under any PEFT wrapping."""
        model = self.model
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def audio_token_counts(self, frames: torch.Tensor) -> torch.Tensor:
        """How many audio tokens the audio tower emits for each count of mel frames."""
        _, counts = self.family.audio_lengths(frames)
        return counts

    def _text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def prompt_ids(self, example: Example, audio_tokens: int) -> list[int]:
        """The user turn and the opening of the assistant turn, in the model's chat format."""
        instruction = get_task(example.task).prompt(example.language)
        head = self._text(f"{tok.IM_START}user\n")
        tail = self._text(f"{instruction}{tok.IM_END}\n{tok.IM_START}assistant\n")
        if example.modality == "speech":
            audio = [self.audio_bos_id, *[self.audio_id] * audio_tokens, self.audio_eos_id]
            prefix = self._text(self.family.audio_prefix) if self.family.audio_prefix else []
            return head + prefix + audio + tail
        return head + self._text(f"{example.input_text}\n") + tail

    def target_ids(self, example: Example) -> list[int]:
        """The answer the model learns to give, closed by the end-of-turn token."""
        return [*self._text(example.target), self.end_id]

    def sequence_length(self, example: Example) -> tuple[int, int]:
        """(whole sequence, target) in tokens: prompt, audio tokens and answer, as collated."""
        target = len(self.target_ids(example))
        audio_tokens = 0
        if example.modality == "speech":
            hop = self.features.extractor.hop_length
            frames = torch.tensor([round(example.duration_s * SAMPLE_RATE) // hop])
            audio_tokens = int(self.audio_token_counts(frames)[0])
        return len(self.prompt_ids(example, audio_tokens)) + target, target

    def budget_check(
        self, max_target_tokens: int | None = None
    ) -> Callable[[Example], tuple[str, str] | None]:
        """A row check for ``read_manifest``: the target fits ``max_target_tokens`` and the
        whole sequence (prompt, audio tokens, target) fits the model's context."""
        context = self.thinker.config.get_text_config().max_position_embeddings

        def check(example: Example) -> tuple[str, str] | None:
            total, target = self.sequence_length(example)
            if max_target_tokens is not None and target > max_target_tokens:
                return "target", (
                    f"{target} tokens, more than train.max_target_tokens ({max_target_tokens})"
                )
            if total > context:
                return "target", (
                    f"prompt, audio and target take {total} tokens, more than the model's "
                    f"context of {context}"
                )
            return None

        return check

    def _audio_inputs(
        self, items: list[LoadedExample]
    ) -> tuple[dict[str, torch.Tensor], list[int]]:
        """The audio part of a batch: log-mel features, or the cached aligner rows of every
        speech row (``audio_embeds``, rows concatenated, and ``audio_frames``)."""
        if any(item.aligner is not None for item in items):
            cached = [item for item in items if item.has_audio]
            if any(item.aligner is None for item in cached):
                raise ValueError("a batch mixes cached aligner rows with raw audio")
            rows = [torch.from_numpy(np.asarray(item.aligner)) for item in cached]
            inputs = {
                "audio_embeds": torch.cat(rows).float(),
                "audio_frames": torch.tensor([item.frames for item in cached]),
            }
            counts = iter(len(row) for row in rows)
            return inputs, [next(counts) if item.has_audio else 0 for item in items]
        waveforms = [item.waveform for item in items if item.waveform is not None]
        if not waveforms:
            return {}, [0] * len(items)
        features, mask = self.features(waveforms)
        counts = iter(self.audio_token_counts(mask.sum(-1)).tolist())
        tokens = [next(counts) if item.waveform is not None else 0 for item in items]
        return {"input_features": features, "feature_attention_mask": mask}, tokens

    @torch.no_grad()
    def aligner_rows(self, items: list[LoadedExample]) -> tuple[list[torch.Tensor], list[int]]:
        """The aligner's output rows of every (speech) item and its count of mel frames: what
        the aligner cache stores."""
        inputs, counts = self._audio_inputs(items)
        inputs = self.to_model(inputs)
        mask = inputs["feature_attention_mask"]
        output = self.family.aligner_output(self.thinker, inputs["input_features"], mask)
        return list(torch.split(output.float(), counts)), mask.sum(-1).tolist()

    def forward_inputs(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What the model's forward (or ``generate``) takes for a collated batch, labels left
        out. Cached aligner rows go in as ``inputs_embeds``: the prompt's token embeddings with
        the rows in place of the ``<|AUDIO|>`` tokens, as the model's own forward would place
        its encoder's output."""
        given = {key: value for key, value in inputs.items() if key != "labels"}
        if "audio_embeds" not in given:
            return given
        rows, frames = given.pop("audio_embeds"), given.pop("audio_frames")
        embeds = self.thinker.get_input_embeddings()(given["input_ids"])
        slots = (given["input_ids"] == self.audio_id).unsqueeze(-1)
        given["inputs_embeds"] = embeds.masked_scatter(slots, rows.to(embeds.dtype))
        if self.family.positions_from_audio:
            longest = int(frames.max()) if len(frames) else 0
            span = torch.arange(longest, device=frames.device)
            given["feature_attention_mask"] = (span[None, :] < frames[:, None]).long()
        return given

    def collate(
        self, items: list[LoadedExample], with_targets: bool = True
    ) -> dict[str, torch.Tensor]:
        """Model inputs for a batch: right-padded with labels when training, left-padded prompts
        for generation."""
        inputs, audio_tokens = self._audio_inputs(items)
        sequences, labels = [], []
        for item, count in zip(items, audio_tokens, strict=True):
            prompt = self.prompt_ids(item.example, count)
            target = self.target_ids(item.example) if with_targets else []
            sequences.append(prompt + target)
            labels.append([IGNORE_INDEX] * len(prompt) + target)
        length = max(map(len, sequences))
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(items), length), pad, dtype=torch.long)
        attention = torch.zeros((len(items), length), dtype=torch.long)
        label_ids = torch.full((len(items), length), IGNORE_INDEX, dtype=torch.long)
        for row, (seq, lab) in enumerate(zip(sequences, labels, strict=True)):
            span = slice(0, len(seq)) if with_targets else slice(length - len(seq), length)
            input_ids[row, span] = torch.tensor(seq)
            attention[row, span] = 1
            label_ids[row, span] = torch.tensor(lab)
        inputs.update(input_ids=input_ids, attention_mask=attention)
        if with_targets:
            inputs["labels"] = label_ids
        return inputs

    def to_model(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``inputs`` on the model's device, features in its dtype (bf16 checkpoints)."""
        parameter = next(self.model.parameters())
        return {
            k: v.to(parameter.device, parameter.dtype if v.is_floating_point() else v.dtype)
            for k, v in inputs.items()
        }

    def split_batch(
        self, inputs: dict[str, torch.Tensor], parts: int
    ) -> list[dict[str, torch.Tensor]]:
        """A collated training batch as ``parts`` batches of consecutive rows, each computing
        exactly what those rows computed in the whole batch (same padding; audio features
        follow their speech rows)."""
        rows = torch.arange(inputs["input_ids"].shape[0])
        speech = (inputs["input_ids"] == self.audio_id).any(-1)
        feature_row = torch.cumsum(speech.long(), 0) - 1
        pieces = []
        for chosen in torch.tensor_split(rows, parts):
            piece = {
                key: value[chosen]
                for key, value in inputs.items()
                if key
                not in ("input_features", "feature_attention_mask", "audio_embeds", "audio_frames")
            }
            if "input_features" in inputs and speech[chosen].any():
                features = feature_row[chosen][speech[chosen]]
                piece["input_features"] = inputs["input_features"][features]
                piece["feature_attention_mask"] = inputs["feature_attention_mask"][features]
            if "audio_embeds" in inputs and speech[chosen].any():
                tokens = (inputs["input_ids"] == self.audio_id).sum(-1)
                ends = torch.cumsum(tokens, 0)
                first, last = int(chosen[0]), int(chosen[-1])
                start = int(ends[first - 1]) if first else 0
                piece["audio_embeds"] = inputs["audio_embeds"][start : int(ends[last])]
                piece["audio_frames"] = inputs["audio_frames"][feature_row[chosen][speech[chosen]]]
            pieces.append(piece)
        return pieces

    def answer_loss_sum(
        self, logits: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed token cross-entropy of the batch's answers, and how many answer tokens there
        are: the training loss divides the sum by the count over every rank's batch, so each
        token weighs the same however the global batch is split (only answer positions are
        upcast to float32, not the whole vocabulary-wide logits)."""
        targets = labels[:, 1:]
        answer = targets != IGNORE_INDEX
        total = torch.nn.functional.cross_entropy(
            logits[:, :-1][answer].float(), targets[answer], reduction="sum"
        )
        return total, answer.sum()

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean token cross-entropy of each example's answer (for per-task loss logging)."""
        shifted = logits[:, :-1].float().transpose(1, 2)
        targets = labels[:, 1:]
        losses = torch.nn.functional.cross_entropy(
            shifted, targets, ignore_index=IGNORE_INDEX, reduction="none"
        )
        counts = (targets != IGNORE_INDEX).sum(-1).clamp(min=1)
        return losses.sum(-1) / counts

    @torch.no_grad()
    def embed(self, items: list[LoadedExample]) -> torch.Tensor:
        """Aligner embeddings [batch, width]: the mean of the audio-to-LLM projector's output
        for speech rows, the mean input-token embedding of ``input_text`` for text rows."""
        thinker = self.thinker
        device = next(thinker.parameters()).device
        rows: list[torch.Tensor | None] = [None] * len(items)
        inputs, counts = self._audio_inputs(items)
        if "audio_embeds" in inputs:
            pooled = iter(part.mean(0) for part in torch.split(inputs["audio_embeds"], counts))
            for row, item in enumerate(items):
                rows[row] = next(pooled).to(device) if item.has_audio else None
        elif inputs:
            inputs = self.to_model(inputs)
            output = self.family.aligner_output(
                thinker, inputs["input_features"], inputs["feature_attention_mask"]
            )
            pooled = iter(part.mean(0) for part in torch.split(output, [c for c in counts if c]))
            for row, item in enumerate(items):
                if item.waveform is not None:
                    rows[row] = next(pooled)
        table = thinker.get_input_embeddings()
        for row, item in enumerate(items):
            if not item.has_audio:
                ids = torch.tensor(self._text(item.example.input_text or ""), device=device)
                rows[row] = table(ids).mean(0)
        return torch.stack(rows).float()

    @torch.no_grad()
    def generate(self, items: list[LoadedExample], max_new_tokens: int = 64) -> list[str]:
        """Greedy answers for a batch of examples."""
        return [answer for answer, _ in self.generate_checked(items, max_new_tokens)]

    def generate_checked(
        self, items: list[LoadedExample], max_new_tokens: int = 64
    ) -> list[tuple[str, bool]]:
        """Greedy answers for a batch of examples, each with whether it ended by itself (an
        answer cut at ``max_new_tokens`` is scored as written, so its caller should say so)."""
        inputs = self.to_model(self.collate(items, with_targets=False))
        output = self.model.generate(
            **self.forward_inputs(inputs),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=self.end_id,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        answers = output[:, inputs["input_ids"].shape[1] :]
        ended = (answers == self.end_id).any(dim=1).tolist()
        texts = self.tokenizer.batch_decode(answers, skip_special_tokens=True)
        return [(text.strip(), done) for text, done in zip(texts, ended, strict=True)]
