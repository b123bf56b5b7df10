"""The ``omnisched`` command: synth, validate, import, export, pretrain, train, preview, eval,
study, demo.

Each sub-command is a thin shell over one library function; errors omnisched raises on purpose
are printed as one clear message and exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnisched.errors import OmnischedError

if TYPE_CHECKING:
    from omnisched.config import Recipe
    from omnisched.data.manifest import DataSettings

NOTES_SHOWN = 50  # notes printed by validate; all of them go to notes.jsonl
COMMAND_LINE = "command line"  # where an override's error says it came from


def _synth(args: argparse.Namespace) -> None:
    from omnisched.lab.synth.corpus import synthesize_corpus

    synthesize_corpus(args.out, args.size, args.seed, noise_snr_db=args.noise_snr)
    print((args.out / "CORPUS.md").read_text(encoding="utf-8"))


def _data_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The data settings the command line sets, by field name."""
    overrides: dict[str, Any] = {}
    if getattr(args, "allow_outside_root", False):
        overrides["allow_outside_root"] = True
    if getattr(args, "long_audio", None) is not None:
        overrides["long_audio"] = args.long_audio
    return overrides


def _data_settings(args: argparse.Namespace) -> DataSettings:
    """The default data settings with the command line's options on top."""
    from omnisched.config import with_overrides
    from omnisched.data.manifest import DataSettings

    return with_overrides(DataSettings(), _data_overrides(args), COMMAND_LINE)


def _recipe(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Recipe:
    """The recipe of ``--recipe`` with ``--steps``, the data options and ``overrides`` (dotted
    field paths; None sets nothing) on top, validated as a whole."""
    from omnisched.config import load_recipe, with_overrides

    given = {"train.steps": args.steps, **(overrides or {})}
    given |= {f"data.{name}": value for name, value in _data_overrides(args).items()}
    given = {path: value for path, value in given.items() if value is not None}
    return with_overrides(load_recipe(args.recipe), given, COMMAND_LINE)


def _declare_tasks(args: argparse.Namespace) -> None:
    """Makes the tasks of ``--tasks-file`` known: its ``tasks:`` list (a recipe's will do)."""
    if getattr(args, "tasks_file", None) is None:
        return
    from omnisched.config import load_yaml
    from omnisched.tasks import declare_tasks, parse_tasks

    data = load_yaml(args.tasks_file)
    if "tasks" not in data:
        raise OmnischedError(f"{args.tasks_file}: no 'tasks' list of task declarations")
    declare_tasks(parse_tasks(data["tasks"], str(args.tasks_file)))


def _read_corpus(
    root: Path, strict: bool, settings: DataSettings | None = None, check=None
) -> tuple[dict, list, list]:
    """The valid examples of every split of the corpus at ``root``, its quarantined rows and
    the notes on rows changed when loaded."""
    from omnisched.data.manifest import SPLITS, manifest_path, read_manifest

    examples, quarantined, notes = {}, [], []
    for split in SPLITS:
        if manifest_path(root, split).is_file():
            manifest = read_manifest(manifest_path(root, split), root, strict, settings, check)
            examples[split] = manifest.examples
            quarantined += manifest.quarantined
            notes += manifest.notes
    if not examples:
        raise OmnischedError(f"{root}: no <split>/manifest.jsonl found")
    return examples, quarantined, notes


def _validate(args: argparse.Namespace) -> None:
    from omnisched.data.card import corpus_card
    from omnisched.data.manifest import write_notes, write_quarantine

    check = None
    if args.model is not None:
        from omnisched.models.adapter import AudioLMAdapter
        from omnisched.models.loading import load_pretrained

        check = AudioLMAdapter(*load_pretrained(args.model)).budget_check(args.max_target_tokens)
    examples, quarantined, notes = _read_corpus(
        args.corpus, args.strict, _data_settings(args), check
    )
    print(corpus_card(args.corpus, examples))
    at_import = _import_quarantine(args.corpus)
    print(
        f"## Quarantine\n\n{len(quarantined) + sum(at_import.values())} row(s) quarantined: "
        f"{len(quarantined)} when read now, {sum(at_import.values())} at import"
    )
    for file, count in at_import.items():
        print(f"- {file}: {count} source row(s) quarantined at import")
    for row in quarantined:
        print(f"- {row.file}:{row.line} field '{row.field}': {row.reason}")
    if quarantined:
        count = write_quarantine(args.corpus / "quarantine.jsonl", quarantined)
        print(f"\nwritten to {args.corpus / 'quarantine.jsonl'} ({count} rows)")
    print(f"\n## Notes\n\n{len(notes)} row(s) changed when loaded")
    for note in notes[:NOTES_SHOWN]:
        print(f"- {note.file}:{note.line} field '{note.field}': {note.note}")
    if len(notes) > NOTES_SHOWN:
        print(f"- … and {len(notes) - NOTES_SHOWN} more")
    if notes:
        count = write_notes(args.corpus / "notes.jsonl", notes)
        print(f"\nwritten to {args.corpus / 'notes.jsonl'} ({count} rows)")


def _import_quarantine(root: Path) -> dict[Path, int]:
    """Rows each split's import quarantined (``<split>/import-quarantine.jsonl``), by file."""
    from omnisched.data.importers.run import QUARANTINE_NAME
    from omnisched.data.manifest import SPLITS

    counts = {}
    for split in SPLITS:
        path = root / split / QUARANTINE_NAME
        if path.is_file():
            with path.open(encoding="utf-8") as lines:
                counts[path] = sum(1 for line in lines if line.strip())
    return counts


def _import(args: argparse.Namespace) -> None:
    from omnisched.data.card import corpus_card
    from omnisched.data.importers.base import ImportOptions
    from omnisched.data.importers.run import describe, import_corpus, parse_label_map

    options = ImportOptions(
        split=args.split,
        task=args.task,
        language=args.language,
        label_map=parse_label_map(args.label_map) if args.label_map else {},
        media_dir=args.media_dir,
        source_split=args.source_split,
        id_prefix=args.id_prefix,
        text_twins=args.text_twins,
        link=args.link,
        append=args.append,
        strict=args.strict,
        unvalidated=args.unvalidated,
    )
    report = import_corpus(args.format, args.src, args.out, options)
    if not report.written:
        print(describe(report))
        raise OmnischedError(
            f"no row of {args.src} could be imported; see {report.quarantine_file} "
            "(no manifest was written: fix the source and run the same command again)"
        )
    examples, _, _ = _read_corpus(args.out, strict=False)
    card = corpus_card(args.out, examples)
    (args.out / "CORPUS.md").write_text(card, encoding="utf-8")
    print(card)
    print(describe(report))


def _export(args: argparse.Namespace) -> None:
    from omnisched.export import TRAINER_SETTINGS, export_schedule

    recipe = _recipe(args)
    report = export_schedule(recipe, args.format, args.out, args.strict, args.name)
    print(
        f"{report.rows} rows = {report.steps} global batches of {report.batch_size} in schedule "
        f"order → {report.file}\nrow → example, step and phase: {report.order}"
    )
    if report.dataset_info is not None:
        print(f"dataset entry '{args.name or report.file.stem}' in {report.dataset_info}")
    for note in report.notes:
        print(f"note: {note}")
    settings = TRAINER_SETTINGS[args.format].format(
        file=report.file,
        name=args.name or report.file.stem,
        folder=report.file.parent,
        batch_size=report.batch_size,
        steps=report.steps,
    )
    print(f"\nto train in this order:\n{settings}")


def _pretrain(args: argparse.Namespace) -> None:
    from omnisched.config import with_overrides
    from omnisched.lab.pretrain import pretrain
    from omnisched.lab.settings import load_pretrain_settings

    settings = load_pretrain_settings(args.config)
    if args.steps is not None:
        settings = with_overrides(settings, {"steps": args.steps}, COMMAND_LINE)
    card = pretrain(
        args.corpus,
        args.out,
        settings,
        strict=args.strict,
        force=args.force,
        data=_data_settings(args),
    )
    asr = card["asr_test"]
    print(f"foundation at {args.out}: test CER {asr['cer']:.3f}, WER {asr['wer']:.3f}")
    for task, scores in card.get("generic_test", {}).items():
        print(f"  {task}: accuracy {scores['text']:.3f} on text, {scores['speech']:.3f} on speech")
    if card.get("transfer_ratio") is not None:
        print(f"  text-to-speech transfer of {card['held_out']}: {card['transfer_ratio']:.2f}")


def _run_dir(args: argparse.Namespace, name: str) -> Path:
    return args.run_dir if args.run_dir is not None else Path("runs") / name


def _train(args: argparse.Namespace) -> None:
    from omnisched.eval.runs import evaluate_on_dev
    from omnisched.train.loop import train

    recipe = _recipe(args, {"model.path": args.model, "corpus": args.corpus})
    final = train(recipe, _run_dir(args, recipe.name), strict=args.strict, evaluate=evaluate_on_dev)
    print(f"fine-tuned weights at {final}")


def _preview(args: argparse.Namespace) -> None:
    from omnisched import preview

    recipe = _recipe(args)
    chosen, batches, sampler = preview.schedule(recipe, args.strict)
    print(
        f"# {recipe.name}: {recipe.schedule.strategy}, {len(batches)} steps of "
        f"{recipe.train.batch_size}\n"
    )
    print(preview.format_table(preview.phase_table(chosen, batches, sampler)))
    for note in preview.adaptive_notes(sampler):
        print(f"\n{note}")
    out = args.out or Path("runs") / recipe.name / "preview.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    preview.plot_shares(chosen, batches, sampler, out)
    print(f"\nshares over steps: {out}")


def _study(args: argparse.Namespace) -> None:
    from omnisched.lab.study.runner import load_study, run_study

    study = load_study(args.study, args.scale, args.seeds)
    if args.allow_outside_root:
        data = {**study.overrides.get("data", {}), "allow_outside_root": True}
        study = study.model_copy(update={"overrides": {**study.overrides, "data": data}})
    report = run_study(study, args.jobs)
    print(report.read_text(encoding="utf-8"))
    print(f"report: {report}")


def _eval(args: argparse.Namespace) -> None:
    from omnisched.eval.runs import evaluate_model, evaluate_run

    if args.run is not None:
        results = evaluate_run(args.run, args.split, args.limit, args.allow_outside_root)
    elif args.model is not None and args.corpus is not None:
        results = evaluate_model(
            args.model,
            args.corpus,
            args.split,
            args.tasks,
            args.out,
            args.limit,
            data=_data_settings(args),
        )
    else:
        raise OmnischedError("give --run DIR, or --model PATH with --corpus DIR")
    print(json.dumps({t: {s["headline"]: s[s["headline"]]} for t, s in results.items()}))


def _demo(args: argparse.Namespace) -> None:
    from omnisched.lab.demo import run_demo

    run_demo(
        args.out,
        args.size,
        args.seed,
        args.recipe,
        args.pretrain_seed,
        args.pretrain_size,
        rebuild_foundation=args.pretrain,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="omnisched",
        description="Schedule the data of multi-task fine-tuning of audio language models "
        "(Qwen2.5-Omni, Qwen2-Audio): corpus, foundation, training, per-task evaluation.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # options several commands share, declared once
    strict = argparse.ArgumentParser(add_help=False)
    strict.add_argument("--strict", action="store_true", help="fail on the first bad row")
    outside_root = argparse.ArgumentParser(add_help=False)
    outside_root.add_argument(
        "--allow-outside-root",
        action="store_true",
        help="accept audio paths that resolve outside the corpus directory",
    )
    tasks_file = argparse.ArgumentParser(add_help=False)
    tasks_file.add_argument(
        "--tasks-file",
        type=Path,
        default=None,
        help="YAML whose 'tasks:' list declares tasks beyond the built-in ones (a recipe will do)",
    )
    recipe = argparse.ArgumentParser(add_help=False)
    recipe.add_argument("--recipe", type=Path, required=True, help="recipe YAML")
    recipe.add_argument("--steps", type=int, default=None, help="override train.steps")

    synth = commands.add_parser(
        "synth",
        help="synthesize the embedded Arabic multi-task speech corpus with eSpeak NG",
        description="Writes 16 kHz FLAC, <split>/manifest.jsonl for train/dev/test and "
        "CORPUS.md. Tasks: asr, ssum, dialect, emotion, slu; every speech row has a text twin.",
    )
    synth.add_argument("--out", type=Path, required=True, help="corpus directory to write")
    synth.add_argument(
        "--size",
        type=int,
        default=800,
        help="train speech examples per task (default 800); dev and test get size/5 each",
    )
    synth.add_argument("--seed", type=int, default=0, help="same seed, byte-identical corpus")
    synth.add_argument(
        "--noise-snr", type=float, default=None, help="add white noise at this SNR (dB)"
    )
    synth.set_defaults(func=_synth)

    validate = commands.add_parser(
        "validate",
        parents=[strict, outside_root, tasks_file],
        help="check a corpus: print its card, its quarantined rows and notes",
        description="Reads every <split>/manifest.jsonl and decodes every audio file; bad rows "
        "(malformed JSON or UTF-8, missing field, unknown task, label outside the task's set, "
        "empty target, duplicate id, missing, unreadable, empty or non-finite audio, audio "
        "outside the corpus or longer than 30 s, duration off by more than 5%, ...) are listed "
        "with file, line, field and reason and written to quarantine.jsonl; what loading "
        "changes (resampling, downmixing, windows of long audio) is listed as notes and "
        "written to notes.jsonl.",
    )
    validate.add_argument("corpus", type=Path, help="corpus directory")
    validate.add_argument(
        "--long-audio",
        choices=["error", "split"],
        default=None,
        help="audio over 30 s: quarantine (error, default) or cut classification rows into "
        "windows (split)",
    )
    validate.add_argument(
        "--model",
        type=Path,
        default=None,
        help="also quarantine rows whose prompt and target do not fit this model's context",
    )
    validate.add_argument(
        "--max-target-tokens", type=int, default=None, help="with --model: a target budget"
    )
    validate.set_defaults(func=_validate)

    from omnisched.data.importers import IMPORTERS

    importing = commands.add_parser(
        "import",
        parents=[strict],
        help="import a corpus in a public format as omnisched manifests",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reads SRC in FORMAT and writes DIR/<split>/manifest.jsonl, with audio "
        "under DIR/<split>/audio/<task>/ as 16 kHz mono (copied when it already is, else "
        "converted with soxr to FLAC, the change noted in meta.audio_note; never truncated: a "
        "clip over 30 s is quarantined). Targets are normalised (NFC; bidi marks, zero-width "
        "space and tatweel removed; the original kept in meta.source_target). Bad rows go to "
        "DIR/<split>/import-quarantine.jsonl with file, line, field and reason; when no row is "
        "valid no manifest is written. Prints the corpus card (also DIR/CORPUS.md).",
        epilog="formats, their layout and their task / label / language mapping:\n\n"
        + "\n\n".join(importer.help for importer in IMPORTERS.values())
        + "\n\nA label outside the task's label set (omnisched/tasks.yaml) is quarantined, "
        "never changed: map source labels with --label-map.",
    )
    importing.add_argument("format", choices=list(IMPORTERS), metavar="FORMAT", help="see below")
    importing.add_argument("src", type=Path, metavar="SRC", help="file or folder to import")
    importing.add_argument("--out", type=Path, required=True, help="corpus directory")
    importing.add_argument(
        "--split",
        default="train",
        choices=["train", "dev", "test"],
        help="split to write (default train); the source's own split names go to --source-split",
    )
    importing.add_argument("--task", default=None, help="task, where the format allows a choice")
    importing.add_argument(
        "--language", default=None, help="language code (ar, en ...); overrides the source's"
    )
    importing.add_argument(
        "--label-map",
        default=None,
        metavar="MAP",
        help="source label → task label: SRC=LABEL,SRC=LABEL or a JSON/YAML mapping file",
    )
    importing.add_argument(
        "--media-dir", type=Path, default=None, help="where relative audio paths of SRC lie"
    )
    importing.add_argument(
        "--source-split",
        default=None,
        help="part of SRC to read: Common Voice TSV name, DatasetDict split, Mega-SSum split, "
        "LLaMA-Factory dataset_info.json entry (default: from --split)",
    )
    importing.add_argument("--id-prefix", default="", help="prefix of every example id")
    importing.add_argument(
        "--text-twins",
        action="store_true",
        help="also write a text row (input_text = transcript) for each speech row with one",
    )
    importing.add_argument(
        "--link", action="store_true", help="hard-link audio that needs no conversion"
    )
    importing.add_argument(
        "--append", action="store_true", help="add rows to an existing manifest of the split"
    )
    importing.add_argument(
        "--unvalidated",
        action="store_true",
        help="speechmassive: also import rows whose is_validated is false (quarantined otherwise)",
    )
    importing.set_defaults(func=_import)

    exporting = commands.add_parser(
        "export",
        parents=[recipe, strict],
        help="write a recipe's schedule as an ms-swift or LLaMA-Factory training file",
        description="Draws the recipe's global batches with the plan and sampler training "
        "uses and writes one chat row per position, in schedule order: swift → JSON Lines "
        "{messages, audios}; llamafactory → a ShareGPT JSON array and its entry in "
        "dataset_info.json beside it. Also FILE.order.jsonl (row → example id, step, phase). "
        "Prints the trainer settings that keep the order (no shuffling, global batch = the "
        "recipe's batch_size).",
    )
    exporting.add_argument("--format", choices=["swift", "llamafactory"], required=True)
    exporting.add_argument("--out", type=Path, required=True, help="training file to write")
    exporting.add_argument(
        "--name", default=None, help="LLaMA-Factory dataset name (default: the file's stem)"
    )
    exporting.set_defaults(func=_export)

    pretrain = commands.add_parser(
        "pretrain",
        parents=[strict, outside_root],
        help="pre-train the tiny Qwen2.5-Omni foundation from scratch (cached)",
        description="Trains a corpus tokenizer and a tiny Qwen2.5-Omni thinker from scratch: "
        "the listener on a character CTC, the LLM on generic text tasks of every transcript, "
        "then both on speech (ASR, the generic tasks asked of speech but one held out, text "
        "replay). Saves it with save_pretrained and a card of test scores on held-out speakers: "
        "ASR CER, every generic task on text and on speech, and the held-out task's "
        "text-to-speech transfer. Reused when corpus and settings are unchanged. Pre-train on "
        "another corpus than the one you fine-tune on (the demo uses a second seed): a "
        "foundation that already knows the fine-tuning rows leaves fine-tuning nothing to gain "
        "on ASR.",
    )
    pretrain.add_argument("--corpus", type=Path, required=True)
    pretrain.add_argument("--out", type=Path, default=Path("runs/foundation"))
    pretrain.add_argument("--config", type=Path, default=None, help="YAML of PretrainSettings")
    pretrain.add_argument("--steps", type=int, default=None, help="override the step count")
    pretrain.add_argument("--force", action="store_true", help="retrain even if cached")
    pretrain.set_defaults(func=_pretrain)

    train = commands.add_parser(
        "train",
        parents=[recipe, strict, outside_root],
        help="fine-tune a model with a recipe's schedule",
        description="Accelerate loop with LoRA on the LLM's attention, audio encoder and aligner "
        "frozen (all configurable in the recipe). Logs per-task loss, gradient norm, learning "
        "rate and examples/s to metrics.jsonl; checkpoints atomically and resumes from them.",
    )
    train.add_argument("--run-dir", type=Path, default=None, help="default runs/<recipe name>")
    train.add_argument(
        "--model",
        type=Path,
        default=None,
        help="override model.path: a local Qwen2.5-Omni (thinker or whole model) or Qwen2-Audio "
        "checkpoint directory",
    )
    train.add_argument("--corpus", type=Path, default=None, help="override the recipe's corpus")
    train.set_defaults(func=_train)

    show = commands.add_parser(
        "preview",
        parents=[recipe, strict, outside_root],
        help="show a recipe's schedule without training: per-phase shares and a plot",
        description="Draws every global batch of the recipe's schedule (no model step), prints "
        "each phase's measured share per pool (task/modality/language) and writes a PNG of task "
        "and modality share over steps. ADS recipes compute (or reuse) the aligner embeddings. "
        "Phases that end on a loss plateau are shown ending at their max_fraction.",
    )
    show.add_argument("--out", type=Path, default=None, help="PNG, default runs/<name>/preview.png")
    show.set_defaults(func=_preview)

    study = commands.add_parser(
        "study",
        parents=[outside_root],
        help="run recipes × seeds and write a report with a verdict on each claim",
        description="Runs every recipe of the study for every seed, each in "
        "<out>/runs/<recipe>/seed-<n> (finished runs are skipped, half-finished ones resume), "
        "synthesizing the corpus first if needed, on the shipped foundation unless the study "
        "names its own, then writes <out>/REPORT.md: whether the learned-task bar was met, "
        "final metrics (mean ± 95% CI), steps to the bar, learning curves, gradient-norm "
        "volatility, and every claim of the source papers as a measurement on paired seeds "
        "(runs of one seed share their LoRA initialization) with its verdict.",
    )
    study.add_argument("study", type=Path, help="study YAML, e.g. recipes/paper1/study.yaml")
    study.add_argument(
        "--scale",
        type=Path,
        default=None,
        help="YAML merged onto the study for larger runs, e.g. "
        "{corpus: {size: 4000}, pretrain: {steps: 5000, size: {...}}, overrides: {train: "
        "{steps: 2000}}}",
    )
    study.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at once, the cores shared between them (e.g. 2 on a 2-core "
        "machine; the first run trains alone to fill the caches)",
    )
    study.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds in place of the study's own (at least 3 for a paired interval worth "
        "reading; runs already finished for these seeds are kept)",
    )
    study.set_defaults(func=_study)

    evaluate = commands.add_parser(
        "eval",
        parents=[outside_root, tasks_file],
        help="evaluate per task: WER/CER, ROUGE, macro-F1, SLU metrics",
        description="Greedy generation, then per-task metrics on text normalized per language "
        "(OAAL's normalization for Arabic); writes eval.json, eval.md and predictions.jsonl.",
    )
    evaluate.add_argument("--run", type=Path, default=None, help="a run directory of `train`")
    evaluate.add_argument("--model", type=Path, default=None, help="or a model directory")
    evaluate.add_argument("--corpus", type=Path, default=None, help="corpus for --model")
    evaluate.add_argument(
        "--tasks", nargs="+", default=["asr", "ssum", "dialect", "emotion"], help="for --model"
    )
    evaluate.add_argument("--out", type=Path, default=None, help="output dir for --model")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--limit", type=int, default=None, help="examples per task")
    evaluate.set_defaults(func=_eval)

    demo = commands.add_parser(
        "demo",
        help="the whole loop on the embedded default: synth, train, eval, report",
        description="Synthesizes the default corpus, fine-tunes the shipped tiny foundation on it "
        "with the recipe, evaluates both and writes <out>/<recipe name>/REPORT.md "
        "(<out>/demo/ for the default recipe). With --pretrain, pre-trains a foundation from "
        "scratch first, on a second corpus.",
    )
    demo.add_argument(
        "--pretrain",
        action="store_true",
        help="rebuild the foundation from scratch instead of starting from the shipped one "
        "(cached in <out>/foundation)",
    )
    demo.add_argument("--out", type=Path, default=Path("runs"))
    demo.add_argument("--size", type=int, default=800)
    demo.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning corpus")
    demo.add_argument(
        "--pretrain-seed",
        type=int,
        default=None,
        help="with --pretrain: seed of the corpus the foundation is pre-trained on (default: "
        "--seed + 1); "
        "it must differ from --seed, so that fine-tuning brings rows the foundation never heard",
    )
    demo.add_argument(
        "--pretrain-size",
        type=int,
        default=None,
        help="with --pretrain: size of the pre-training corpus (default 1600, twice the "
        "fine-tuning corpus)",
    )
    demo.add_argument(
        "--recipe",
        type=Path,
        default=Path("recipes/demo.yaml"),
        help="fine-tuning recipe (default recipes/demo.yaml: uniform mixing; "
        "recipes/demo-quick.yaml is its short version)",
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one sub-command; omnisched's own errors exit 2 with their message."""
    args = build_parser().parse_args(argv)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own bars say what is going on
    try:
        _declare_tasks(args)
        args.func(args)
    except OmnischedError as error:
        print(f"omnisched {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
