"""Examples per second of the training loader (0, 1, 2 workers) beside what the tiny model's
training step consumes, on CPU.

The loader is ``omnisched.train.loader.make_loader`` as the training loop builds it: audio
read from FLAC, log-mel features and token ids collated by the model adapter, batches in the
order of a uniform schedule over the corpus' train speech rows. The step is the fine-tuning step
of the tiny Qwen2.5-Omni thinker (encoder and aligner frozen, LoRA r=16 on the LLM's attention;
fresh weights: speed does not depend on them) on batches collated beforehand. The loader keeps
up when its rate is at least the step's. Both are wall-clock rates on this machine, the loader
measured alone (its workers and the training step share the same cores in training).

Corpus: ``--corpus`` (the directory ``omnisched synth`` writes), else one made here with
``omnisched synth --size 40``.

    python benchmarks/loader.py [--corpus runs/corpus] [--batches 40] [--steps 10]
"""

from __future__ import annotations

import argparse
import itertools
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


def _rate(batches, count: int, batch_size: int) -> float:
    """Examples per second over ``count`` batches after the first (worker start-up)."""
    stream = iter(batches)
    next(stream)
    started = time.perf_counter()
    for _ in itertools.islice(stream, count):
        pass
    return count * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--batch", type=int, default=16, help="the demo recipe's batch size")
    parser.add_argument("--batches", type=int, default=40, help="measured loader batches")
    parser.add_argument("--steps", type=int, default=10, help="measured training steps")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus, made = args.corpus, False
        if not (corpus / "train" / "manifest.jsonl").is_file():
            corpus, made = Path(tmp) / "corpus", True
            synthesize_corpus(corpus, size=40, seed=0, progress=False)
        rows = load_split(corpus, "train")
        examples = [e for e in rows if e.modality == "speech" and e.task in PAPER1]
        texts = [task.prompt(lang) for task in TASKS.values() for lang in LANGUAGES]
        texts += [e.target for e in rows] + [e.meta.get("transcript", "") for e in rows]
        tokenizer = train_tokenizer(texts, 320)
        model = build_tiny(tokenizer)
        model = prepare_for_finetuning(model, FreezeSettings(), LoraSettings())
        adapter = AudioLMAdapter(model, tokenizer)

        def collate(items):
            return adapter.collate(items), [item.example.task for item in items]

        def sampler(steps: int) -> ScheduledBatchSampler:
            schedule = UniformSchedule(strategy="uniform", tasks=PAPER1)
            plan = build_plan(schedule.phases(), examples, args.batch, steps, seed=0)
            return ScheduledBatchSampler(plan, seed=0)

        table = []
        for workers in (0, 1, 2):
            loader = make_loader(
                examples, corpus, sampler(args.batches + 1), collate, num_workers=workers
            )
            rate = _rate(loader, args.batches, args.batch)
            table.append({"what": f"loader, {workers} workers", "examples/s": rate})

        batches = list(make_loader(examples, corpus, sampler(args.steps + 1), collate, 0))
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        model.train()

        def steps():
            for inputs, _tasks in batches:
                model(**inputs).loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                yield

        step_rate = _rate(steps(), args.steps, args.batch)
    rows_out = [
        {
            "what": row["what"],
            "examples/s": f"{row['examples/s']:.1f}",
            "÷ training step": f"{row['examples/s'] / step_rate:.2f}",
        }
        for row in table
    ]
    rows_out.append(
        {
            "what": "training step (tiny thinker, LoRA, pre-collated batches)",
            "examples/s": f"{step_rate:.1f}",
            "÷ training step": "1.00",
        }
    )
    source = "a corpus made here (synth --size 40)" if made else str(corpus)
    notes = [
        f"{len(examples)} train speech rows of {source}; batch {args.batch}; "
        f"{args.batches} loader batches, {args.steps} training steps, wall clock after the first",
        f"torch threads {torch.get_num_threads()}; pinned memory: {torch.cuda.is_available()}",
    ]
    print(append("Loader", rows_out, notes))


if __name__ == "__main__":
    main()
