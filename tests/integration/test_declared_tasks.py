"""A task of one's own, end to end on the session's corpus and micro foundation, without a
change to the package: declared in a recipe, its rows validated, prompted and scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnisched.config import EvalSettings, load_recipe
from omnisched.data.manifest import load_split, read_manifest
from omnisched.errors import ConfigError
from omnisched.eval.evaluate import evaluate_examples, headline_table
from omnisched.models.adapter import AudioLMAdapter
from omnisched.models.loading import load_pretrained

RECIPE = """\
name: english-emotion
tasks:
  - name: emotion_en
    kind: classify
    labels: [calm, upset]
    prompts:
      en: Is the speaker calm or upset? Answer calm or upset.
    headline: accuracy
schedule:
  tasks: [emotion_en]
"""
CALM_OR_UPSET = {"neutral": "calm", "happy": "calm", "sad": "upset", "angry": "upset"}


def test_a_declared_task_is_validated_prompted_and_scored(
    micro_foundation: Path, small_corpus: Path, tmp_path: Path, restore_known_tasks
):
    (tmp_path / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    assert load_recipe(tmp_path / "recipe.yaml").schedule.tasks == ["emotion_en"]

    # the corpus' emotion clips as English rows of the new task; one keeps a label of the old
    clips = [e for e in load_split(small_corpus, "test") if e.task == "emotion"][:4]
    rows = [
        e.model_dump(mode="json", exclude_none=True)
        | {"id": f"en-{e.id}", "task": "emotion_en", "language": "en"}
        | {"target": CALM_OR_UPSET[e.label], "label": CALM_OR_UPSET[e.label]}
        for e in clips
    ]
    rows.append(rows[0] | {"id": "en-old-label", "target": "angry", "label": "angry"})
    manifest = tmp_path / "test" / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    read = read_manifest(manifest, small_corpus)
    assert [e.id for e in read.examples] == [row["id"] for row in rows[:4]]
    (quarantined,) = read.quarantined
    assert quarantined.field == "label"
    assert "'angry' is not in the label set of 'emotion_en' (calm, upset)" in quarantined.reason

    model, tokenizer = load_pretrained(micro_foundation)
    adapter = AudioLMAdapter(model, tokenizer)
    prompt = tokenizer.decode(adapter.prompt_ids(read.examples[0], 3))
    assert "Is the speaker calm or upset? Answer calm or upset." in prompt
    arabic = read.examples[0].model_copy(update={"language": "ar"})
    with pytest.raises(ConfigError, match="'emotion_en' has no prompt in language 'ar'; it has en"):
        adapter.prompt_ids(arabic, 3)

    results = evaluate_examples(
        model, tokenizer, read.examples, small_corpus, EvalSettings(batch_size=4)
    )
    scores = results["emotion_en"]
    assert (scores["headline"], scores["num_pairs"]) == ("accuracy", 4)
    assert scores["confusion_labels"] == ("calm", "upset", "unparsed")
    assert 0 <= scores["accuracy"] <= 1
    assert "| emotion_en | accuracy ↑ |" in headline_table({"micro": results})
