"""Tokens/s and model-FLOPs utilization (MFU) of one LoRA training step of the Qwen2.5-Omni-7B
thinker, fed by omnisched's data path, against the same step on pre-built tensors.

The model is the real ``Qwen2_5OmniThinkerForConditionalGeneration`` built from the 7B thinker's
configuration (numbers below) with random weights — no checkpoint can be downloaded here — in
bf16 (float32 on CPUs), frozen, with the recipe default LoRA (r 16, alpha 32, dropout 0.05 on
q/k/v/o of the LLM). Batches are real speech rows of an omnisched corpus drawn by the
ScheduledBatchSampler and collated by the model adapter (audio decoding, log-mel features,
prompts) in DataLoader workers. The same batches again, already on the device, give the step
alone; the difference is the data path's overhead.

Model FLOPs of a step (counted on non-padding tokens, attention over full squares as in PaLM):
  LLM, frozen under LoRA: 2·N·T forward + 2·N·T backward (input gradients only: frozen weights
    get no weight gradient), N = weights of every LLM matmul incl. lm_head, T = LLM tokens
    (text + audio placeholders); attention 4·L·d·Σs² forward and twice that backward;
  LoRA adapters: 6·N_lora·T (forward, input and weight gradients);
  audio encoder + aligner, frozen, no gradient reaches them: 2·N_enc·T_enc forward, T_enc =
    encoder frames after the stride-2 convolution (the aligner sees T_enc / 2 after pooling,
    counted at T_enc as an upper bound < 0.1 % of the total), plus the two convolutions and
    windowed attention (n_window·2 mel frames per window).
MFU = model FLOPs / step time / peak dense bf16 FLOPS of the GPU (table below or
--peak-tflops). A 6·N·T count (full fine-tuning) would read 1.5× higher for the LLM part.

Text is tokenized by a tokenizer trained on the corpus (the Qwen tokenizer cannot be downloaded
here), so text spans are longer in tokens than Qwen's; audio spans are the real count (25 tokens
per second of audio).

With ``--budget-seconds S`` the batches are budget batches (``batching: {max_seconds: S}``,
at most ``--batch`` examples, sort_window 16) instead of ``--batch`` examples each.

    python benchmarks/gpu_step.py                  # full 7B configuration, on a GPU
    python benchmarks/gpu_step.py --tiny           # same shape ratios at toy size (CPU)
    python benchmarks/gpu_step.py --budget-seconds 120 --batch 48   # budget batches
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

from omnisched.config import FreezeSettings, LoraSettings
from omnisched.data.dataset import ExampleDataset
from omnisched.data.manifest import load_split
from omnisched.lab.synth.corpus import synthesize_corpus
from omnisched.lab.tiny import thinker_token_ids
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.features import N_MELS
from omnisched.models.loading import DTYPES
from omnisched.models.lora import prepare_for_finetuning
from omnisched.schedule.budget import Budget
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import UniformSchedule
from omnisched.tasks import get_task

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

# The Qwen2.5-Omni-7B thinker (config.json, thinker_config): checked against transformers'
# Qwen2_5OmniThinkerConfig defaults (documented as that checkpoint's) and public copies of the
# released config.json; the LLM is Qwen2.5-7B's shape with an untied lm_head.
OMNI_7B = {
    "text": {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "vocab_size": 152064,
        "rope_theta": 1_000_000.0,
        "mrope_section": [16, 24, 24],
        "tie_word_embeddings": False,
    },
    "audio": {
        "encoder_layers": 32,
        "d_model": 1280,
        "encoder_attention_heads": 20,
        "encoder_ffn_dim": 5120,
        "output_dim": 3584,
        "n_window": 100,
    },
}
# The same ratios at toy size: GQA 7:1, MLP 5.29× hidden, head dim 64, 4× encoder FFN.
TINY = {
    "text": {
        "hidden_size": 448,
        "num_hidden_layers": 4,
        "num_attention_heads": 7,
        "num_key_value_heads": 1,
        "intermediate_size": 2368,
        "vocab_size": 9504,
        "rope_theta": 1_000_000.0,
        "mrope_section": [8, 12, 12],
        "tie_word_embeddings": False,
    },
    "audio": {
        "encoder_layers": 4,
        "d_model": 128,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 512,
        "output_dim": 448,
        "n_window": 100,
    },
}
# Dense bf16 tensor-core peak per GPU, TFLOPS (NVIDIA data sheets, without sparsity).
PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 989.4,  # SXM (e.g. "NVIDIA H100 80GB HBM3")
    "A100": 312.0,
}


def thinker_config(shape: dict, tokenizer, full_vision: bool) -> Qwen2_5OmniThinkerConfig:
    """A thinker config of ``shape`` whose special-token ids are the tokenizer's; the vision
    tower (unused by audio and text, but in memory) is the 7B's or a one-block stand-in."""
    text, audio = shape["text"], shape["audio"]
    vision = (
        {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16}
        if full_vision
        else {"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2}
    )
    return Qwen2_5OmniThinkerConfig(
        audio_config={
            "num_mel_bins": N_MELS,
            "max_source_positions": 1500,
            **audio,
        },
        text_config={
            **{k: v for k, v in text.items() if k not in ("rope_theta", "mrope_section")},
            "max_position_embeddings": 32768,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": text["rope_theta"],
                "mrope_section": text["mrope_section"],
            },
        },
        vision_config={**vision, "out_hidden_size": text["hidden_size"]},
        **thinker_token_ids(tokenizer),
        position_id_per_seconds=25,
        tie_word_embeddings=text["tie_word_embeddings"],
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def matmul_weights(model: nn.Module) -> dict[str, int]:
    """Weights of every Linear by part: LLM (layers and lm_head), encoder (with the aligner),
    LoRA; the unused vision tower is left out."""
    parts = {"llm": 0, "encoder": 0, "lora": 0}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if "lora_" in name:
            parts["lora"] += module.weight.numel()
        elif "audio_tower" in name:
            parts["encoder"] += module.weight.numel()
        elif "language_model" in name or "lm_head" in name:
            parts["llm"] += module.weight.numel()
    return parts


def step_flops(config: Qwen2_5OmniThinkerConfig, weights: dict[str, int], inputs: dict) -> float:
    """Model FLOPs of one LoRA step on ``inputs`` (the module docstring's formula)."""
    text, audio = config.text_config, config.audio_config
    lengths = inputs["attention_mask"].sum(-1).double()
    tokens = lengths.sum().item()
    attention = 4 * text.num_hidden_layers * text.hidden_size * (lengths**2).sum().item()
    llm = 2 * weights["llm"] * tokens * 2 + attention * 3 + 6 * weights["lora"] * tokens
    encoder = 0.0
    if "feature_attention_mask" in inputs:
        mel = inputs["feature_attention_mask"].sum(-1).double()
        frames = torch.div(mel - 1, 2, rounding_mode="floor") + 1  # after conv2 (stride 2)
        conv = 2 * 3 * (N_MELS * audio.d_model * mel + audio.d_model**2 * frames)
        window = audio.n_window  # n_window·2 mel frames = n_window frames per window
        full, rest = torch.div(frames, window, rounding_mode="floor"), frames % window
        squares = full * window**2 + rest**2
        encoder_attention = 4 * audio.encoder_layers * audio.d_model * squares.sum().item()
        encoder = 2 * weights["encoder"] * frames.sum().item() + conv.sum().item()
        encoder += encoder_attention
    return llm + encoder


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(model, adapter, optimizer, inputs: dict) -> None:
    labels = inputs["labels"]
    logits = model(**{k: v for k, v in inputs.items() if k != "labels"}).logits
    total, count = adapter.answer_loss_sum(logits, labels)
    (total / count).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _timed(device: torch.device, run) -> tuple[float, int]:
    """Seconds of ``run()`` and the peak GPU memory it reached (0 on CPU)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _synchronize(device)
    started = time.perf_counter()
    run()
    _synchronize(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return seconds, peak


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The GPU's dense bf16 peak (TFLOPS) from the table, or ``override``."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


def _corpus(path: Path, scratch: Path) -> Path:
    if (path / "train" / "manifest.jsonl").is_file():
        return path
    print(f"{path}: no corpus; synthesizing a small one")
    synthesize_corpus(scratch / "corpus", size=24, seed=0, progress=False)
    return scratch / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="toy size, same shape ratios")
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--batch", type=int, default=None, help="default 8 (4 with --tiny)")
    parser.add_argument("--steps", type=int, default=None, help="steps per round (20, 4 tiny)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps (default 2 × workers + 1)"
    )
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the table")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=None,
        help="budget batches of this many padded seconds of audio (--batch: the most examples)",
    )
    parser.add_argument("--device", default=None, help="default cuda if available, else cpu")
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default=None,
        help="default bfloat16 on GPUs, float32 on CPUs (most emulate bf16 matmuls)",
    )
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    batch = args.batch or (4 if args.tiny else 8)
    steps = args.steps or (4 if args.tiny else 20)
    warmup = args.warmup if args.warmup is not None else 2 * args.workers + 1
    load = os.getloadavg()
    shape = TINY if args.tiny else OMNI_7B
    batching = (
        f"budget {args.budget_seconds:g} s (≤ {batch})"
        if args.budget_seconds is not None
        else f"fixed {batch}"
    )

    with tempfile.TemporaryDirectory() as scratch:
        corpus = _corpus(args.corpus, Path(scratch))
        speech = [e for e in load_split(corpus, "train") if e.modality == "speech"]
        texts = [get_task(e.task).prompt(e.language) for e in speech[:500]]
        texts += [text for e in speech for text in (e.target, e.meta.get("transcript", ""))]
        tokenizer = train_tokenizer(texts, 1000)
        config = thinker_config(shape, tokenizer, full_vision=not args.tiny)
        torch.manual_seed(0)
        with device:
            model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(
                config, dtype=DTYPES[dtype]
            )
        model = prepare_for_finetuning(model, FreezeSettings(), LoraSettings())
        if args.gradient_checkpointing:
            model.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": False}
            )
        model.train()
        adapter = AudioLMAdapter(model, tokenizer)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-4)
        weights = matmul_weights(model)

        schedule = UniformSchedule(strategy="uniform")
        if args.budget_seconds is not None:
            budget = Budget(max_seconds=args.budget_seconds)
            schedule = schedule.model_copy(update={"batching": budget, "sort_window": 16})
        plan = build_plan(schedule.phases(), speech, batch, warmup + args.repeats * steps, 0, None)
        loader = DataLoader(
            ExampleDataset(speech, corpus),
            batch_sampler=ScheduledBatchSampler(plan, seed=0),
            collate_fn=adapter.collate,
            num_workers=args.workers,
            pin_memory=device.type == "cuda",
        )
        batches = iter(loader)
        for _ in range(warmup):  # also drains what the workers fetched ahead meanwhile
            _train_step(model, adapter, optimizer, adapter.to_model(next(batches)))

        rounds = []
        for _ in range(args.repeats):
            block: list[dict] = []

            def data_path(block=block) -> None:
                for _ in range(steps):
                    inputs = adapter.to_model(next(batches))
                    _train_step(model, adapter, optimizer, inputs)
                    block.append(inputs)

            def tensors_only(block=block) -> None:  # the same batches, already on the device
                for inputs in block:
                    _train_step(model, adapter, optimizer, inputs)

            fed = _timed(device, data_path)
            rounds.append({"fed": (*fed, block), "pre": (*_timed(device, tensors_only), block)})

    peak = peak_tflops(device, args.peak_tflops)
    rows = []
    for kind, name in [
        ("fed", "omnisched data path (sampler, workers, collator)"),
        ("pre", "the same batches, pre-built on the device"),
    ]:
        measured = []
        for one in rounds:
            seconds, peak_memory, block = one[kind]
            tokens = sum(int(r["attention_mask"].sum()) for r in block)
            flops = sum(step_flops(config, weights, r) for r in block)
            measured.append((flops / seconds / 1e12, seconds, tokens, block))
        achieved, seconds, tokens, block = max(measured, key=lambda m: m[0])
        padded = sum(r["attention_mask"].numel() for r in block)
        peak_memory = max(one[kind][1] for one in rounds)
        rows.append(
            {
                "input": name,
                "batches": batching,
                "step (ms)": f"{1000 * seconds / steps:.1f}",
                "LLM tokens/step": f"{tokens / steps:.0f}",
                "padding": f"{1 - tokens / padded:.1%}",
                "tokens/s": f"{tokens / seconds:,.0f}",
                "model TFLOPS": f"{achieved:.3g}",
                "MFU": f"{achieved / peak:.1%}" if peak else "n/a (no peak for this device)",
                "peak memory (GiB)": f"{peak_memory / 2**30:.1f}" if peak_memory else "n/a",
            }
        )
    overheads = sorted(one["fed"][0] / one["pre"][0] - 1 for one in rounds)
    stalls = sorted(1 - one["pre"][0] / one["fed"][0] for one in rounds)
    size = "tiny (7B shape ratios)" if args.tiny else "Qwen2.5-Omni-7B thinker"
    text = config.text_config
    notes = [
        f"model: {size}, random init, {dtype}, on {device.type}; LLM {text.num_hidden_layers}×"
        f"{text.hidden_size} (heads {text.num_attention_heads}/{text.num_key_value_heads} kv, "
        f"MLP {text.intermediate_size}, vocab {text.vocab_size}), audio encoder "
        f"{config.audio_config.encoder_layers}×{config.audio_config.d_model}",
        f"matmul weights: LLM {weights['llm'] / 1e9:.3f} B, audio encoder + aligner "
        f"{weights['encoder'] / 1e9:.3f} B, LoRA {weights['lora'] / 1e6:.2f} M (trained)",
        f"{batching} speech rows of {corpus}; {warmup} warm-up steps, then {args.repeats} "
        f"rounds of {steps} steps fed by the data path followed by the same {steps} batches "
        f"pre-built; rows show each input's best round; {args.workers} loader workers; gradient "
        f"checkpointing {'on' if args.gradient_checkpointing else 'off'}",
        "FLOPs: LLM 4·N·T (frozen: forward + input gradients) + attention 12·L·d·Σs² + LoRA "
        "6·N_lora·T + encoder forward (see the script's docstring)",
        f"peak: {f'{peak} TFLOPS dense bf16' if peak else 'none for this device'}",
        "data path overhead over pre-built tensors, per round (same batches): "
        + ", ".join(f"{o:+.1%}" for o in overheads)
        + f" of step time (median {overheads[len(overheads) // 2]:+.1%}); data-stall share of "
        f"the fed step time: median {stalls[len(stalls) // 2]:.1%}",
        f"load average (1 min) at the start {load[0]:.1f}, at the end {os.getloadavg()[0]:.1f}",
    ]
    print(append(f"LoRA step, {size}, {batching} batches", rows, notes))


if __name__ == "__main__":
    main()
