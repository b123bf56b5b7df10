"""Speaker inventory of the embedded corpus: who speaks, with which voice, in which split.

A speaker is an eSpeak NG voice variant (timbre) with its own base pitch, rate and pitch range,
an expressiveness (how strongly it acts emotions out) and a recording level. Every language has
a pool drawn from the corpus seed; the pool is split into train/dev/test speakers so that no
dev or test speaker is ever heard in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from omnisched.data.manifest import SPLITS
from omnisched.lab.synth.espeak import Prosody
from omnisched.seeding import derive_rng

ESPEAK_LANGUAGES: dict[str, str] = {"ar": "ar", "en": "en-us"}

# Variants whose level leaves headroom for loud (angry) speech and whose pitch follows the
# pitch parameter; whispered, croaking and robotic variants are left out.
VARIANTS: dict[str, tuple[str, ...]] = {
    "ar": (
        "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt2",
        "klatt3", "Denis", "Diogo", "Henrique", "Hugo", "Mike", "michel", "miguel", "victor",
        "Annie", "grandma", "linda", "aunty", "steph", "shelby", "anika", "Nguyen", "max",
        "norbert", "iven4", "edward2",
    ),
    "en": (
        "m1", "m2", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "f5", "klatt3", "michel", "Annie",
        "linda", "steph", "Denis",
    ),
}  # fmt: skip

SPEAKERS_PER_VARIANT = 3
SPLIT_SHARES: dict[str, float] = {"train": 0.70, "dev": 0.15, "test": 0.15}

# eSpeak volume of a neutral utterance; low enough that angry speech (x1.7, rising to +40%)
# stays below eSpeak's own int16 clipping. Levels are set after synthesis by calibration.
BASE_VOLUME = 40


@dataclass(frozen=True)
class SpeakerProfile:
    """One synthetic speaker: voice variant, base prosody, expressiveness and level."""

    id: str
    language: str
    variant: str
    pitch: int
    rate: int
    range: int
    expressiveness: float
    level_db: float

    @property
    def voice(self) -> str:
        """The eSpeak NG voice name, e.g. ``ar+m3``."""
        return f"{ESPEAK_LANGUAGES[self.language]}+{self.variant}"

    def prosody(self) -> Prosody:
        """The speaker's neutral prosody."""
        return Prosody(rate=self.rate, pitch=self.pitch, range=self.range, volume=BASE_VOLUME)


def speaker_pool(seed: int, language: str) -> tuple[SpeakerProfile, ...]:
    """Every speaker of ``language``: ``SPEAKERS_PER_VARIANT`` per voice variant, with base
    prosody drawn from ``seed``."""
    rng = derive_rng(seed, "speakers", language)
    pool = []
    for variant in VARIANTS[language]:
        for k in range(SPEAKERS_PER_VARIANT):
            pool.append(
                SpeakerProfile(
                    id=f"{language}-{variant}-{k}",
                    language=language,
                    variant=variant,
                    pitch=int(rng.integers(30, 71)),
                    rate=int(rng.integers(160, 201)),
                    range=int(rng.integers(35, 71)),
                    expressiveness=round(float(rng.uniform(0.75, 1.25)), 3),
                    level_db=round(float(rng.uniform(-3.0, 3.0)), 2),
                )
            )
    return tuple(pool)


@cache
def split_speakers(seed: int, language: str) -> Mapping[str, tuple[SpeakerProfile, ...]]:
    """The speaker pool of ``language`` partitioned into disjoint train/dev/test sets."""
    pool = speaker_pool(seed, language)
    order = derive_rng(seed, "partition", language).permutation(len(pool))
    shuffled = [pool[i] for i in order]
    n_dev = max(1, round(SPLIT_SHARES["dev"] * len(pool)))
    n_test = max(1, round(SPLIT_SHARES["test"] * len(pool)))
    bounds = {"test": (0, n_test), "dev": (n_test, n_test + n_dev)}
    bounds["train"] = (n_test + n_dev, len(pool))
    return MappingProxyType({split: tuple(shuffled[slice(*bounds[split])]) for split in SPLITS})
