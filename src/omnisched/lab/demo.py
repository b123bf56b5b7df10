"""The demo: the whole loop on the embedded default, with every step cached that can be.

synth the fine-tuning corpus (reused when present with the same size and seed) → fine-tune the
shipped foundation on it with the demo recipe → evaluate foundation and fine-tuned model on its
test split → ``<out>/<recipe name>/REPORT.md``. With ``pretrain``, the foundation is first
rebuilt from scratch on a second synthesized corpus, as ``make foundation`` does.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from omnisched.config import load_recipe
from omnisched.errors import ConfigError
from omnisched.eval.evaluate import compare_to_baseline, headline_table
from omnisched.eval.run_report import write_run_report
from omnisched.eval.runs import evaluate_model, evaluate_on_dev, evaluate_run
from omnisched.lab.foundation import shipped_card, shipped_foundation
from omnisched.lab.pretrain import pretrain
from omnisched.lab.settings import CorpusSettings, PretrainSettings
from omnisched.lab.synth.corpus import (
    CARD_NAME,
    PRETRAIN_CORPUS,
    check_disjoint,
    ensure_corpus,
)
from omnisched.train.loop import train


def run_demo(
    out: Path,
    size: int,
    seed: int,
    recipe_path: Path,
    pretrain_seed: int | None = None,
    pretrain_size: int | None = None,
    rebuild_foundation: bool = False,
) -> Path:
    """Runs the demo into ``out``; returns the path of its report.

    The foundation is the shipped one, pre-trained on another corpus than the one the demo
    fine-tunes on (other sentences, other speakers' prosody), so that fine-tuning brings rows it
    has never heard, as fine-tuning a real pre-trained model does. ``rebuild_foundation``
    pre-trains one instead, on a corpus of seed ``pretrain_seed`` (default ``seed + 1``) and
    size ``pretrain_size`` (default ``PRETRAIN_CORPUS.size``)."""
    out = Path(out)
    timings: dict[str, float] = {}
    corpus = CorpusSettings(path=out / "corpus", size=size, seed=seed)
    if rebuild_foundation:
        pretrain_corpus = CorpusSettings(
            path=out / "pretrain-corpus",
            size=PRETRAIN_CORPUS.size if pretrain_size is None else pretrain_size,
            seed=seed + 1 if pretrain_seed is None else pretrain_seed,
        )
    else:
        made_on = shipped_card().get("corpus_synth") or {}
        pretrain_corpus = CorpusSettings(
            path=Path(shipped_card()["corpus"]),
            size=made_on.get("size", PRETRAIN_CORPUS.size),
            seed=made_on.get("seed", PRETRAIN_CORPUS.seed),
        )
    try:
        check_disjoint(corpus, pretrain_corpus)
    except ValueError as error:
        raise ConfigError(f"demo: {error}") from None

    started = time.perf_counter()
    print(f"[1/4] fine-tuning corpus: {corpus.path} (size {size}, seed {seed})")
    if not ensure_corpus(corpus):
        print("      ready; reusing it")
    timings["synth"] = time.perf_counter() - started

    started = time.perf_counter()
    if rebuild_foundation:
        foundation = out / "foundation"
        print(f"[2/4] pre-training a foundation from scratch into {foundation}")
        where = f"{pretrain_corpus.path} (size {pretrain_corpus.size}, seed {pretrain_corpus.seed})"
        print(f"      pre-training corpus: {where}")
        ensure_corpus(pretrain_corpus)
        card = pretrain(pretrain_corpus.path, foundation, PretrainSettings())
        timings["pretrain"] = time.perf_counter() - started
    else:
        foundation, card = shipped_foundation(), shipped_card()
        print(f"[2/4] foundation: the shipped one ({foundation})")

    recipe = load_recipe(recipe_path)
    recipe = recipe.model_copy(
        update={
            "corpus": corpus.path,
            "model": recipe.model.model_copy(update={"path": foundation}),
        }
    )
    run_dir = out / recipe.name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    print(f"[3/4] fine-tuning with '{recipe.schedule.strategy}' into {run_dir}")
    train(recipe, run_dir, evaluate=evaluate_on_dev)
    timings["finetune"] = time.perf_counter() - started

    started = time.perf_counter()
    print("[4/4] evaluating the foundation and the fine-tuned model on the test split")
    base = evaluate_model(
        foundation, corpus.path, "test", recipe.schedule.tasks, run_dir / "foundation-eval"
    )
    tuned = evaluate_run(run_dir, "test")
    timings["eval"] = time.perf_counter() - started

    tuned_name = f"fine-tuned ({recipe.schedule.strategy})"
    results = {"foundation": base, tuned_name: tuned}
    verdict = compare_to_baseline(results, tuned_name, "foundation")
    print(headline_table(results))
    print(verdict)
    notes = [
        verdict,
        f"corpus: {corpus.path} (size {size}, seed {seed}); card in {corpus.path / CARD_NAME}",
        f"foundation: {foundation}, pre-trained on {pretrain_corpus.path} (seed "
        f"{pretrain_corpus.seed}) in {card['train_seconds']:.0f} s when it was made; ASR test "
        f"CER {card['asr_test']['cer']:.3f} on that corpus' test speakers; zero-shot "
        f"text-to-speech transfer of its held-out task: {_ratio(card)}",
        f"recipe: {recipe_path} — {recipe.train.steps} steps, batch {recipe.train.batch_size}, "
        f"lr {recipe.train.lr}, LoRA {recipe.model.lora}, tasks {recipe.schedule.tasks}",
        "wall time this run: "
        + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in timings.items()),
    ]
    report = write_run_report(run_dir, "omnisched demo: uniform mixing", results, notes)
    print(f"report: {report}")
    return report


def _ratio(card: dict) -> str:
    ratio = card.get("transfer_ratio")
    return "not measured" if ratio is None else f"{ratio:.2f} ({card['held_out']})"
