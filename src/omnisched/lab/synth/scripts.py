"""What the embedded corpus says: seeded utterance scripts per task, no audio.

A script is everything needed to render one speech example and its text twin: the words, the
target, the label, the speaker and the prosody. Each task has its own generator; every random
choice draws from a generator seeded from ``(seed, task, split, index, stream)``, so a script
depends on nothing but its coordinates. Streams keep what must be independent apart: the
emotion sentence comes from the ``content`` stream, which never sees the label, so emotion lives
in the prosody only; dialect content words come from ``content`` and only the markers from
``style``, so the dialect lives in the markers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar
from xml.sax.saxutils import escape

import numpy as np

from omnisched.lab.synth import lexicon as lx
from omnisched.lab.synth.espeak import Prosody
from omnisched.lab.synth.speakers import BASE_VOLUME, SpeakerProfile, split_speakers
from omnisched.seeding import derive_rng
from omnisched.tasks import TASKS

T = TypeVar("T")
Stream = Callable[[str], np.random.Generator]


class EmotionProfile(NamedTuple):
    """How an emotion moves prosody away from the speaker's neutral: rate and volume factors,
    pitch and range offsets (eSpeak 0-100 scale), extra word gap (10 ms units), and a volume
    contour in percent over the three thirds of the utterance."""

    rate: float
    pitch: float
    range: float
    volume: float
    wordgap: float
    contour: tuple[int, int, int]


EMOTIONS: dict[str, EmotionProfile] = {
    "neutral": EmotionProfile(1.00, 0, 0, 1.0, 0, (0, 0, 0)),
    "happy": EmotionProfile(1.15, 15, 30, 1.2, 0, (0, 5, 10)),
    "sad": EmotionProfile(0.75, -12, -25, 0.7, 4, (0, -10, -20)),
    "angry": EmotionProfile(1.30, 8, 20, 1.7, 0, (-20, 10, 40)),
}


@dataclass(frozen=True)
class Script:
    """One utterance to render: its coordinates, words, target, label, speaker and prosody.

    ``markup`` is SSML to speak instead of ``text`` (emotion contours); ``text`` is always the
    plain transcript.
    """

    task: str
    split: str
    index: int
    seed: int
    language: str
    text: str
    target: str
    label: str | None
    speaker: SpeakerProfile
    prosody: Prosody
    markup: str | None = None

    @property
    def id(self) -> str:
        """Row id of the speech example, e.g. ``asr-train-000042``."""
        return f"{self.task}-{self.split}-{self.index:06d}"

    @property
    def audio_path(self) -> str:
        """Where the audio lies, relative to the corpus root."""
        return f"{self.split}/audio/{self.task}/{self.id}.flac"


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    """One item of ``items``, uniformly."""
    return items[int(rng.integers(len(items)))]


# ---------------------------------------------------------------------------------------------
# Per-task generators.


def _possessive(stem: str, gender: str) -> str:
    """``stem`` with the 3rd person possessive suffix agreeing with ``gender`` (صديقه / صديقتها)."""
    if stem.endswith("ة"):
        stem = stem[:-1] + "ت"
    return stem + ("ه" if gender == "m" else "ها")


def asr_sentence(rng: np.random.Generator) -> str:
    """An everyday Arabic sentence: verb and subject agree in gender, adjective and object agree,
    time expressions match the tense; optional place, companion and time slots."""
    subject = _pick(rng, lx.SUBJECTS)
    verb = _pick(rng, lx.VERBS)
    category = _pick(rng, verb.objects)
    obj = _pick(rng, lx.OBJECTS[category])
    tense = ("past", "present", "future")[int(rng.choice(3, p=[0.55, 0.3, 0.15]))]
    feminine = subject.gender == "f"
    if tense == "past":
        verb_form, times = (verb.past_f if feminine else verb.past_m), lx.PAST_TIMES
    else:
        verb_form = verb.present_f if feminine else verb.present_m
        times = lx.PRESENT_TIMES
        if tense == "future":
            verb_form, times = f"{lx.FUTURE_PARTICLE} {verb_form}", lx.FUTURE_TIMES
    object_phrase = [obj.word]
    if rng.random() < 0.6:
        adjective = _pick(rng, lx.ADJECTIVES[lx.OBJECT_ADJECTIVES[category]])
        object_phrase.append(adjective.feminine if obj.gender == "f" else adjective.masculine)
    extras = []
    place = _pick(rng, lx.PLACES)
    if rng.random() < 0.5 and place != obj.word:
        extras.append(f"في {place}")
    if rng.random() < 0.25:
        extras.append(f"مع {_possessive(_pick(rng, lx.COMPANIONS), subject.gender)}")
    time = _pick(rng, times) if rng.random() < 0.6 else None
    core = [verb_form, subject.word] if rng.random() < 0.6 else [subject.word, verb_form]
    words = [*core, *object_phrase, *extras]
    if time is not None:
        words = [time, *words] if rng.random() < 0.4 else [*words, time]
    return " ".join(words)


def ssum_pair(rng: np.random.Generator) -> tuple[str, str]:
    """A news sentence (reporting verb, actor, place, time, event, object, extra clause) and its
    headline (actor, present-tense event verb, object, place), Mega-SSum style."""
    actor = _pick(rng, lx.ACTORS)
    report = _pick(rng, lx.REPORTS)
    event = _pick(rng, lx.EVENTS)
    spoken_object, headline_object = _pick(rng, event.objects)
    city = _pick(rng, lx.CITIES)
    time = _pick(rng, lx.NEWS_TIMES) if rng.random() < 0.45 else None
    clause = _pick(rng, lx.NEWS_CLAUSES) if rng.random() < 0.35 else None
    feminine = actor.gender == "f"
    where = " ".join(filter(None, ["في", city, time]))
    what = " ".join(filter(None, [report.preposition, event.noun, spoken_object]))
    middle = [where, what] if rng.random() < 0.6 else [what, where]
    sentence = " ".join(
        filter(None, [report.past_f if feminine else report.past_m, actor.word, *middle, clause])
    )
    verb = event.present_f if feminine else event.present_m
    return sentence, f"{actor.word} {verb} {headline_object} في {city}"


def _glue(text: str) -> str:
    """Attaches clitics marked with ``+`` (ل+ال → لل, ع+السوق → عالسوق)."""
    return text.replace("ل+ال", "لل").replace("+", "")


def dialect_sentence(content: np.random.Generator, style: np.random.Generator, label: str) -> str:
    """A sentence in dialect ``label``: one or two templates whose content words (places, things,
    goods, adjectives, verbs) come from ``content``, drawn the same way for every label, and whose
    dialect markers (want, now, what, very, negation, future, demonstratives ...) come from
    ``style`` and the label."""
    templates = list(lx.DIALECT_TEMPLATES)
    n_templates = 2 if content.random() < 0.4 else 1
    chosen = [templates[i] for i in content.choice(len(templates), n_templates, replace=False)]
    opener = content.random() < 0.3
    parts = [_pick(style, lx.DIALECT_OPENERS[label])] if opener else []
    for name in chosen:
        thing = _pick(content, lx.DIALECT_THINGS)
        adjective = _pick(content, lx.DIALECT_ADJECTIVES)
        feminine = thing.gender == "f"
        slots = {
            "place": _pick(content, lx.DIALECT_PLACES),
            "thing": thing.word,
            "goods": _pick(content, lx.DIALECT_GOODS),
            "adj": adjective.feminine if feminine else adjective.masculine,
            "dem": lx.DEMONSTRATIVES[label][int(feminine)],
            "verb": lx.DIALECT_VERBS[label][int(content.integers(len(lx.DIALECT_VERBS["msa"])))],
        }
        parts.append(_glue(_pick(style, lx.DIALECT_TEMPLATES[name][label]).format(**slots)))
    return " ".join(parts)


def emotion_prosody(
    speaker: SpeakerProfile, label: str, rng: np.random.Generator, style: np.random.Generator
) -> Prosody:
    """The speaker's prosody moved by the emotion profile of ``label``, scaled by the speaker's
    expressiveness and a per-speaker-and-emotion factor from ``style``, with per-utterance
    jitter from ``rng``; classes overlap somewhat but stay separable."""
    profile = EMOTIONS[label]
    strength = speaker.expressiveness * float(style.uniform(0.85, 1.15))
    rate = speaker.rate * (1 + strength * (profile.rate - 1)) * (1 + rng.normal(0, 0.04))
    pitch = speaker.pitch + strength * profile.pitch + rng.normal(0, 3)
    pitch_range = speaker.range + strength * profile.range + rng.normal(0, 5)
    volume = BASE_VOLUME * (1 + strength * (profile.volume - 1)) * (1 + rng.normal(0, 0.06))
    wordgap = strength * profile.wordgap + rng.normal(0, 0.7)
    return Prosody(
        rate=int(np.clip(round(rate), 80, 450)),
        pitch=int(np.clip(round(pitch), 0, 100)),
        range=int(np.clip(round(pitch_range), 0, 100)),
        volume=int(np.clip(round(volume), 1, 200)),
        wordgap=max(0, round(wordgap)),
    )


def emotion_markup(text: str, label: str, rng: np.random.Generator) -> str:
    """SSML speaking ``text`` in three parts along the emotion's volume contour (jittered); anger
    also stresses the last part."""
    words = escape(text).split()
    bounds = np.linspace(0, len(words), 4).round().astype(int)
    parts = []
    for k, change in enumerate(EMOTIONS[label].contour):
        chunk = " ".join(words[bounds[k] : bounds[k + 1]])
        if not chunk:
            continue
        if label == "angry" and k == 2:
            chunk = f'<emphasis level="strong">{chunk}</emphasis>'
        jittered = round(change + rng.normal(0, 4)) if change else 0
        parts.append(f'<prosody volume="{jittered:+d}%">{chunk}</prosody>')
    return f"<speak>{' '.join(parts)}</speak>"


def slu_utterance(rng: np.random.Generator, language: str) -> tuple[str, str]:
    """A SLURP-like request in ``language`` and its one-line JSON target; entity fillers are the
    words as spoken, listed in the order they are said."""
    intent = _pick(rng, lx.SLU_INTENTS)
    words = [_pick(rng, lx.SLU_OPENERS[language])] if rng.random() < 0.5 else []
    entities = []
    for token in _pick(rng, intent.templates[language]).split():
        if token.startswith("{") and token.endswith("}"):
            slot = token[1:-1]
            filler = _pick(rng, lx.SLU_FILLERS[language][slot])
            words.append(filler)
            entities.append({"type": slot.split("/")[0], "filler": filler})
        else:
            words.append(token)
    target = {"scenario": intent.scenario, "action": intent.action, "entities": entities}
    return " ".join(words), json.dumps(target, ensure_ascii=False)


def neutral_prosody(speaker: SpeakerProfile, rng: np.random.Generator) -> Prosody:
    """The speaker's prosody with small per-utterance rate, pitch and range jitter."""
    base = speaker.prosody()
    return Prosody(
        rate=round(base.rate * (1 + rng.normal(0, 0.04))),
        pitch=int(np.clip(round(base.pitch + rng.normal(0, 3)), 0, 100)),
        range=int(np.clip(round(base.range + rng.normal(0, 4)), 0, 100)),
        volume=base.volume,
    )


# ---------------------------------------------------------------------------------------------
# Sizes, assignments and the stream of scripts.


def split_sizes(size: int) -> dict[str, int]:
    """Speech examples per task and split: ``size`` for train, ``max(size // 5, 10)`` for dev
    and test."""
    held_out = max(size // 5, 10)
    return {"train": size, "dev": held_out, "test": held_out}


def task_count(task: str, count: int) -> int:
    """``count`` rounded up to a multiple of the label count of classification tasks, so labels
    balance exactly."""
    labels = len(TASKS[task].labels) or 1
    return -(-count // labels) * labels


def _assignment(task: str, split: str, count: int, seed: int) -> list[str | None]:
    """The label (classification) or language (slu) of each index: balanced, then shuffled."""
    labels = TASKS[task].labels
    if labels:
        pool = [label for label in labels for _ in range(count // len(labels))]
    elif task == "slu":
        pool = ["ar"] * (count - count // 2) + ["en"] * (count // 2)
    else:
        return [None] * count
    order = derive_rng(seed, task, split, "assignment").permutation(count)
    return [pool[i] for i in order]


def make_script(task: str, split: str, index: int, seed: int, assigned: str | None) -> Script:
    """The script at ``(seed, task, split, index)``; ``assigned`` is its label or language."""

    def stream(name: str) -> np.random.Generator:
        return derive_rng(seed, task, split, index, name)

    language, label, markup = "ar", None, None
    match task:
        case "asr":
            text = target = asr_sentence(stream("content"))
        case "ssum":
            text, target = ssum_pair(stream("content"))
        case "dialect":
            label = target = assigned
            text = dialect_sentence(stream("content"), stream("style"), label)
        case "emotion":
            label = target = assigned
            text = asr_sentence(stream("content"))
        case "slu":
            language = assigned
            text, target = slu_utterance(stream("content"), language)
        case _:
            raise ValueError(f"no script generator for task '{task}'")
    speaker = _pick(stream("speaker"), split_speakers(seed, language)[split])
    if task == "emotion":
        style = derive_rng(seed, "style", speaker.id, label)
        prosody = emotion_prosody(speaker, label, stream("prosody"), style)
        markup = emotion_markup(text, label, stream("contour"))
    else:
        prosody = neutral_prosody(speaker, stream("prosody"))
    return Script(task, split, index, seed, language, text, target, label, speaker, prosody, markup)


def task_scripts(task: str, split: str, count: int, seed: int) -> Iterator[Script]:
    """The scripts of one task and split, ``task_count(task, count)`` of them, in index order."""
    count = task_count(task, count)
    for index, assigned in enumerate(_assignment(task, split, count, seed)):
        yield make_script(task, split, index, seed, assigned)


def corpus_scripts(size: int, seed: int) -> Iterator[Script]:
    """Every script of the corpus of ``size``: split by split, task by task, in index order."""
    for split, count in split_sizes(size).items():
        for task in TASKS:
            yield from task_scripts(task, split, count, seed)
