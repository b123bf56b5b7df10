"""The demo: the whole loop on the embedded default, with every step cached that can be.

synth (reused when present with the same size and seed) → pretrain (reused when corpus and
settings match) → fine-tune with the demo recipe → evaluate foundation and fine-tuned model →
``<out>/demo/REPORT.md``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from omnisched.config import PretrainSettings, load_recipe
from omnisched.data.synth.card import SYNTH_PARAMS
from omnisched.data.synth.corpus import CARD_NAME, synthesize_corpus
from omnisched.eval.evaluate import headline_table
from omnisched.eval.report import write_run_report
from omnisched.eval.run import evaluate_model, evaluate_run
from omnisched.train.loop import train
from omnisched.train.pretrain import pretrain


def corpus_is_ready(corpus: Path, size: int, seed: int) -> bool:
    params = corpus / SYNTH_PARAMS
    if not (params.is_file() and (corpus / CARD_NAME).is_file()):
        return False
    saved = json.loads(params.read_text(encoding="utf-8"))
    return saved.get("size") == size and saved.get("seed") == seed


def run_demo(out: Path, size: int, seed: int, recipe_path: Path) -> Path:
    """Runs the demo into ``out``; returns the path of its report."""
    out = Path(out)
    timings: dict[str, float] = {}

    corpus = out / "corpus"
    started = time.perf_counter()
    if corpus_is_ready(corpus, size, seed):
        print(f"[1/4] corpus at {corpus} is ready (size {size}, seed {seed}); reusing it")
    else:
        print(f"[1/4] synthesizing the corpus into {corpus}")
        if corpus.exists():
            shutil.rmtree(corpus)
        synthesize_corpus(corpus, size, seed)
    timings["synth"] = time.perf_counter() - started

    foundation = out / "foundation"
    started = time.perf_counter()
    print(f"[2/4] pre-training the tiny foundation into {foundation}")
    card = pretrain(corpus, foundation, PretrainSettings())
    timings["pretrain"] = time.perf_counter() - started

    recipe = load_recipe(recipe_path)
    recipe = recipe.model_copy(
        update={
            "corpus": corpus,
            "model": recipe.model.model_copy(update={"path": foundation}),
        }
    )
    run_dir = out / recipe.name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    print(f"[3/4] fine-tuning with '{recipe.schedule.strategy}' into {run_dir}")
    train(recipe, run_dir)
    timings["finetune"] = time.perf_counter() - started

    started = time.perf_counter()
    print("[4/4] evaluating the foundation and the fine-tuned model on the test split")
    base = evaluate_model(
        foundation, corpus, "test", recipe.schedule.tasks, run_dir / "foundation-eval"
    )
    tuned = evaluate_run(run_dir, "test")
    timings["eval"] = time.perf_counter() - started

    results = {"foundation": base, f"fine-tuned ({recipe.schedule.strategy})": tuned}
    print(headline_table(results))
    notes = [
        f"corpus: {corpus} (size {size}, seed {seed}); card in {corpus / CARD_NAME}",
        f"foundation: {foundation}, ASR test CER {card['asr_test']['cer']:.3f} "
        f"(pre-trained in {card['train_seconds']:.0f} s when it was made)",
        f"recipe: {recipe_path} — {recipe.train.steps} steps, batch {recipe.train.batch_size}, "
        f"lr {recipe.train.lr}, LoRA {recipe.model.lora}, tasks {recipe.schedule.tasks}",
        "wall time this run: "
        + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in timings.items()),
    ]
    report = write_run_report(run_dir, "omnisched demo: uniform mixing", results, notes)
    print(f"report: {report}")
    return report
