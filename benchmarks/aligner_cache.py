"""Frozen-encoder cache: fill time, disk per hour of audio, and training step time with and
without it, on CPU.

The model is the tiny thinker fine-tuned as the demo does (encoder and aligner frozen, LoRA on
the LLM): ``--model`` (a saved foundation, e.g. the shipped one) or fresh weights of the tiny
default size (speed does not depend on them). The corpus is ``--corpus`` (what ``omnisched
synth`` writes), else one made here with ``omnisched synth --size 40``. A step is what the
training loop does: the loader (one worker, as the demo) reads a uniform schedule's batch,
the adapter collates it, and one forward, backward and optimizer step follow; ``audio``
decodes FLAC and runs log-mel and the encoder, ``cache`` reads the aligner rows. Wall clock
over the measured steps after ``--warmup`` steps, median of ``--rounds`` rounds.

    python benchmarks/aligner_cache.py [--corpus runs/corpus] [--model DIR] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from omnisched.config import FreezeSettings, LoraSettings
from omnisched.data.manifest import load_split
from omnisched.lab.synth.corpus import synthesize_corpus
from omnisched.lab.tiny import build_tiny
from omnisched.lab.tokenizer import train_tokenizer
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.aligner_cache import fill_cache
from omnisched.models.loading import load_pretrained
from omnisched.models.lora import prepare_for_finetuning
from omnisched.schedule.plan import build_plan
from omnisched.schedule.sampler import ScheduledBatchSampler
from omnisched.schedule.strategies import UniformSchedule
from omnisched.tasks import LANGUAGES, TASKS
from omnisched.train.loader import make_loader

try:
    from results import append
except ImportError:  # run as a module
    from benchmarks.results import append

PAPER1 = ["asr", "ssum", "dialect", "emotion"]


def _model(path: Path | None, rows):
    if path is not None:
        return load_pretrained(path)
    texts = [task.prompt(lang) for task in TASKS.values() for lang in LANGUAGES]
    texts += [e.target for e in rows] + [e.meta.get("transcript", "") for e in rows]
    tokenizer = train_tokenizer(texts, 320)
    return build_tiny(tokenizer), tokenizer


def _step_seconds(model, adapter, loader, warmup: int) -> float:
    """Mean wall seconds per training step after ``warmup`` steps."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    model.train()
    started, measured = None, 0
    for step, inputs in enumerate(loader):
        if step == warmup:
            started = time.perf_counter()
        logits = model(**adapter.forward_inputs(inputs)).logits
        total, tokens = adapter.answer_loss_sum(logits, inputs["labels"])
        (total / tokens).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        measured += step >= warmup
    return (time.perf_counter() - started) / measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=8, help="the demo recipe's batch size")
    parser.add_argument("--steps", type=int, default=30, help="measured steps per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus, made = args.corpus, False
        if not (corpus / "train" / "manifest.jsonl").is_file():
            corpus, made = Path(tmp) / "corpus", True
            synthesize_corpus(corpus, size=40, seed=0, progress=False)
        rows = load_split(corpus, "train")
        examples = [e for e in rows if e.modality == "speech" and e.task in PAPER1]
        model, tokenizer = _model(args.model, rows)
        started = time.perf_counter()
        cache = fill_cache(AudioLMAdapter(model, tokenizer), examples, corpus, Path(tmp) / "c")
        fill = time.perf_counter() - started
        hours = sum(e.duration_s for e in examples) / 3600
        model = prepare_for_finetuning(model, FreezeSettings(), LoraSettings())
        adapter = AudioLMAdapter(model, tokenizer)

        def loader(cached: bool, seed: int):
            schedule = UniformSchedule(strategy="uniform", tasks=PAPER1, sort_window=16)
            steps = args.warmup + args.steps
            plan = build_plan(schedule.phases(), examples, args.batch, steps, seed=seed)
            return make_loader(
                examples,
                corpus,
                ScheduledBatchSampler(plan, seed=seed),
                adapter.collate,
                num_workers=1,
                aligner_cache=cache if cached else None,
            )

        seconds = {"audio": [], "cache": []}
        for round_ in range(args.rounds):
            for name in seconds:
                step = _step_seconds(model, adapter, loader(name == "cache", round_), args.warmup)
                seconds[name].append(step)
    audio, cached = (statistics.median(seconds[name]) for name in ("audio", "cache"))
    table = [
        {
            "what": f"training step, batch {args.batch}, from {name}",
            "ms/step (median)": f"{1000 * statistics.median(values):.0f}",
            "rounds (ms)": ", ".join(f"{1000 * v:.0f}" for v in values),
            "÷ audio": f"{statistics.median(values) / audio:.2f}",
        }
        for name, values in seconds.items()
    ]
    source = "a corpus made here (synth --size 40)" if made else str(corpus)
    model_name = str(args.model) if args.model else "fresh tiny default weights"
    notes = [
        f"{len(examples)} train speech rows of {source} ({hours:.2f} h of audio); model "
        f"{model_name}, encoder and aligner frozen, LoRA on the LLM; loader with 1 worker",
        f"fill: {fill:.1f} s for {len(cache.offsets) - 1} clips; {cache.nbytes / 1e6:.1f} MB "
        f"of float16 aligner rows = {cache.nbytes / 1e6 / hours:.0f} MB per hour of audio "
        f"({cache.outputs.shape[0] / hours / 3600:.1f} rows per second of audio at LLM width "
        f"{cache.outputs.shape[1]}; a 7B LLM of width 3584 at the same rows per second would "
        f"take {cache.nbytes / cache.outputs.shape[1] * 3584 / 1e6 / hours:.0f} MB/h)",
        f"step with the cache / step from audio: {cached / audio:.2f}; torch threads "
        f"{torch.get_num_threads()}; load average at the end {os.getloadavg()[0]:.2f}",
    ]
    print(append("Frozen-encoder cache", table, notes))


if __name__ == "__main__":
    main()
