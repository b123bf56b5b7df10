"""Named strategies: each is a schedule schema whose ``phases()`` compiles it into a plan.

A recipe's ``schedule:`` block picks one by ``strategy`` and sets its parameters. A strategy is
a ``Strategy`` subclass with a literal ``strategy`` name and a ``phases()`` method, decorated
with ``register_strategy``; one defined outside the package registers when its module is
imported. ``phases`` (the explicit form) lets a recipe write any plan by hand.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    TypeAdapter,
    field_validator,
    model_validator,
)

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.schedule.adaptive import AdaptiveMixing
from omnisched.schedule.budget import Budget
from omnisched.schedule.mixture import Mixture
from omnisched.schedule.phases import DiversitySettings, PhaseSpec, Plateau, composer_kind
from omnisched.schedule.pools import group_pools
from omnisched.seeding import derive_rng
from omnisched.tasks import KNOWN_TASKS

Modality = Literal["speech", "text"]
PAPER1_STAGES = [["asr"], ["ssum"], ["dialect", "emotion"]]


class Strategy(BaseModel):
    """What every strategy shares: the tasks, modalities and languages it draws from.

    ``speech_subset`` keeps that share of each speech pool (the same seeded subset for every
    training seed): the scarce-speech condition of text-rich studies. A mapping gives the share
    per task, or per ``task/language`` (pools left out keep all their speech): the unequal task
    sizes of real multi-task data, under which proportional, temperature and balanced mixing
    differ, or speech scarce in one language only (cross-lingual transfer).
    ``sort_window`` > 0 makes every phase form batches of similar duration within that many
    batches' worth of examples, keeping the composer's own rules (see ``schedule.composers``).
    ``batching`` makes every batch as many examples as fit a budget of padded seconds and
    tokens (at most ``train.batch_size``; see ``schedule.budget``).
    """

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = ["asr", "ssum", "dialect", "emotion"]
    modalities: list[Modality] = ["speech"]
    languages: list[str] | None = None
    speech_subset: float | dict[str, float] = 1.0
    sort_window: int = Field(0, ge=0)
    batching: Budget | None = None

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        unknown = [t for t in tasks if t not in KNOWN_TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; allowed: {', '.join(KNOWN_TASKS)}")
        if not tasks:
            raise ValueError("at least one task is needed")
        return tasks

    @model_validator(mode="after")
    def _subset_shares(self) -> Strategy:
        shares = self.speech_subset
        shares = shares if isinstance(shares, dict) else {"every task": shares}
        wrong = {task: share for task, share in shares.items() if not 0 < share <= 1}
        if wrong:
            raise ValueError(f"speech_subset: shares must lie in (0, 1], got {wrong}")
        unknown = [
            key for key in shares if key != "every task" and key.split("/")[0] not in self.tasks
        ]
        if unknown:
            raise ValueError(f"speech_subset: {unknown} not among the schedule's tasks")
        return self

    def speech_kept(self, task: str, language: str | None = None) -> float:
        """The share of the speech pool of ``task`` (in ``language``) that ``speech_subset``
        keeps: its ``task/language`` entry, else its task's, else all."""
        if not isinstance(self.speech_subset, dict):
            return self.speech_subset
        return self.speech_subset.get(f"{task}/{language}", self.speech_subset.get(task, 1.0))

    @property
    def uses_embeddings(self) -> bool:
        """Whether a phase's composer draws with aligner embeddings (ADS)."""
        return any(composer_kind(spec.composer).needs_embeddings for spec in self.phases())

    def phases(self) -> list[PhaseSpec]:
        """The strategy as phase specs, in order."""
        raise NotImplementedError

    def _phase(self, name: str, **fields) -> PhaseSpec:
        fields.setdefault("tasks", self.tasks)
        fields.setdefault("modalities", self.modalities)
        fields.setdefault("sort_window", self.sort_window)
        fields.setdefault("batching", self.batching)
        fields.setdefault("languages", self.languages)
        return PhaseSpec(name=name, **fields)


_STRATEGIES: dict[str, type[Strategy]] = {}
AnyStrategy = TypeVar("AnyStrategy", bound=type[Strategy])


def register_strategy(cls: AnyStrategy) -> AnyStrategy:
    """Registers a ``Strategy`` subclass under its ``strategy`` literal, the name recipes give
    in ``schedule: {strategy: ...}``."""
    (name,) = get_args(cls.model_fields["strategy"].annotation)
    if name in _STRATEGIES:
        raise ConfigError(f"a strategy named '{name}' is registered already")
    _STRATEGIES[name] = cls
    return cls


@cache
def _union(classes: tuple[type[Strategy], ...]) -> TypeAdapter:
    return TypeAdapter(Annotated[Union[classes], Field(discriminator="strategy")])  # noqa: UP007


def _by_strategy(value: Any) -> Strategy:
    """A schedule mapping validated as the registered strategy its ``strategy`` names (errors
    locate fields as ``schedule.<strategy>.<field>``)."""
    if isinstance(value, Strategy):
        return value
    return _union(tuple(_STRATEGIES.values())).validate_python(value)


# A recipe's ``schedule``: any registered strategy, picked by its ``strategy`` field (and
# written back whole, with the fields of its own class).
Schedule = SerializeAsAny[Annotated[Strategy, BeforeValidator(_by_strategy)]]


@register_strategy
class UniformSchedule(Strategy):
    """Uniform mixing: every chosen example once per epoch, in one shuffled stream.

    ``sort_window`` > 0 re-cuts every that many batches into batches of similar duration."""

    strategy: Literal["uniform"]

    def phases(self) -> list[PhaseSpec]:
        return [self._phase("uniform", composer="shuffle")]


@register_strategy
class ProportionalSchedule(Strategy):
    """Batches drawn pool by pool in proportion to pool size."""

    strategy: Literal["proportional"]

    def phases(self) -> list[PhaseSpec]:
        return [self._phase("proportional", mixture=Mixture(kind="proportional"))]


@register_strategy
class TemperatureSchedule(Strategy):
    """Task shares proportional to size ** (1 / temperature): 1 is proportional, large is
    balanced."""

    strategy: Literal["temperature"]
    temperature: float = Field(2.0, gt=0)

    def phases(self) -> list[PhaseSpec]:
        mixture = Mixture(kind="temperature", temperature=self.temperature)
        return [self._phase("temperature", mixture=mixture)]


@register_strategy
class TPCSchedule(Strategy):
    """Task-progressive curriculum: stages of tasks in order (default asr → ssum → dialect,
    emotion). Cumulative stages add tasks; sequential stages train the stage's tasks alone,
    with ``replay`` of the batch given to the earlier stages' tasks. Stage lengths are
    fractions of training (equal by default); the last stage runs to the end. With
    ``adaptive`` every stage's task weights follow the losses (from the stage's own mixture),
    and its forgetting guard replays an earlier task whose loss rises."""

    strategy: Literal["tpc"]
    stages: list[list[str]] = PAPER1_STAGES
    stage_fractions: list[float] | None = None
    cumulative: bool = True
    replay: float = Field(0.0, ge=0, lt=1)
    adaptive: AdaptiveMixing | None = None

    @model_validator(mode="after")
    def _stages_cover_tasks(self) -> TPCSchedule:
        staged = [task for stage in self.stages for task in stage]
        if sorted(staged) != sorted(set(staged)) or set(staged) != set(self.tasks):
            raise ValueError(
                f"stages {self.stages} must name every task of {self.tasks} exactly once"
            )
        if self.stage_fractions is not None:
            if len(self.stage_fractions) != len(self.stages):
                raise ValueError("stage_fractions needs one fraction per stage")
            if any(f <= 0 for f in self.stage_fractions) or sum(self.stage_fractions) > 1 + 1e-9:
                raise ValueError("stage_fractions must be positive and sum to at most 1")
        if self.cumulative and self.replay:
            raise ValueError(
                f"replay {self.replay} has no effect with cumulative: true, whose stages keep "
                "every earlier task in the mixture; use cumulative: false with replay, or "
                "replay: 0"
            )
        return self

    def phases(self) -> list[PhaseSpec]:
        stages = self.stage_phases(last_runs_to_end=True)
        if self.adaptive is None:
            return stages
        return [stage.model_copy(update={"adaptive": self.adaptive}) for stage in stages]

    def stage_phases(self, last_runs_to_end: bool, scale: float = 1.0) -> list[PhaseSpec]:
        fractions = self.stage_fractions or [1 / len(self.stages)] * len(self.stages)
        specs = []
        for k, stage in enumerate(self.stages):
            earlier = [task for s in self.stages[:k] for task in s]
            length = {"fraction": fractions[k] * scale}
            if last_runs_to_end and k == len(self.stages) - 1:
                length = {}
            if self.cumulative or not earlier:
                specs.append(self._phase(f"tpc-{k + 1}", tasks=earlier + stage, **length))
                continue
            weights = {task: (1 - self.replay) / len(stage) for task in stage}
            weights |= {task: self.replay / len(earlier) for task in earlier}
            mixture = Mixture(kind="explicit", group_by=["task"], weights=weights)
            tasks = earlier + stage if self.replay else stage
            specs.append(self._phase(f"tpc-{k + 1}", tasks=tasks, mixture=mixture, **length))
        return specs


@register_strategy
class ADSSchedule(Strategy):
    """Aligner-based diverse sampling: task- and label-balanced batches, farthest-point picks
    on aligner embeddings."""

    strategy: Literal["ads"]
    diversity: DiversitySettings = DiversitySettings()

    def phases(self) -> list[PhaseSpec]:
        return [self._phase("ads", composer="ads", diversity=self.diversity)]


@register_strategy
class HybridSchedule(TPCSchedule):
    """TPC stages, then ADS. ``switch``: a step (integer), a fraction of training (below 1),
    or ``auto`` (when the TPC phase's per-task losses plateau, see ``plateau``). With
    ``adaptive`` the ADS phase's task shares follow the losses (TPC → adaptive); the stages
    stay as TPC makes them."""

    strategy: Literal["hybrid"]  # type: ignore[assignment]
    switch: int | float | Literal["auto"] = 0.5
    plateau: Plateau = Plateau()
    diversity: DiversitySettings = DiversitySettings()

    @field_validator("switch")
    @classmethod
    def _valid_switch(cls, switch: int | float | str) -> int | float | str:
        if isinstance(switch, float) and not 0 < switch < 1:
            raise ValueError("a fractional switch lies strictly between 0 and 1")
        if isinstance(switch, int) and switch <= 0:
            raise ValueError("a switch step must be positive")
        return switch

    @model_validator(mode="after")
    def _switch_fits_the_stages(self) -> HybridSchedule:
        if isinstance(self.switch, int) and self.switch < len(self.stages):
            raise ValueError(
                f"switch {self.switch} leaves fewer steps than the {len(self.stages)} TPC "
                "stages before ADS need (one each)"
            )
        return self

    def phases(self) -> list[PhaseSpec]:
        if self.switch == "auto":
            stages = self.stage_phases(last_runs_to_end=False, scale=self.plateau.max_fraction)
            last = stages[-1].model_copy(update={"fraction": None, "until_plateau": self.plateau})
            stages[-1] = last
        elif isinstance(self.switch, float):
            stages = self.stage_phases(last_runs_to_end=False, scale=self.switch)
        else:
            fractions = self.stage_fractions or [1 / len(self.stages)] * len(self.stages)
            stages = self.stage_phases(last_runs_to_end=False)
            ends = [round(self.switch * part / sum(fractions)) for part in np.cumsum(fractions)]
            steps = np.diff([0, *ends]).tolist()
            stages = [
                s.model_copy(update={"fraction": None, "steps": n})
                for s, n in zip(stages, steps, strict=True)
            ]
        ads = self._phase("ads", composer="ads", diversity=self.diversity, adaptive=self.adaptive)
        return [*stages, ads]


@register_strategy
class AdaptiveSchedule(Strategy, AdaptiveMixing):
    """Adaptive mixing: task weights that follow the training losses (``method: bandit`` or
    ``progress`` and the other ``AdaptiveMixing`` settings, see ``schedule.adaptive``), from
    ``mixture`` (every task alike by default), each task above ``floor``, a task whose loss
    rises replayed. ``composer: ads`` keeps ADS's diverse picks and label balance under the
    adaptive task shares."""

    strategy: Literal["adaptive"]
    mixture: Mixture = Mixture(kind="balanced")
    composer: Literal["random", "ads"] = "random"
    diversity: DiversitySettings = DiversitySettings()

    @property
    def settings(self) -> AdaptiveMixing:
        """The controller's settings: this schedule's ``AdaptiveMixing`` fields."""
        return AdaptiveMixing(**{name: getattr(self, name) for name in AdaptiveMixing.model_fields})

    def phases(self) -> list[PhaseSpec]:
        return [
            self._phase(
                "adaptive",
                mixture=self.mixture,
                composer=self.composer,
                diversity=self.diversity,
                adaptive=self.settings,
            )
        ]


@register_strategy
class TextOnlySchedule(Strategy):
    """Text only: the transcripts stand in for the speech (the text twins)."""

    strategy: Literal["text_only"]
    modalities: list[Modality] = ["text"]

    def phases(self) -> list[PhaseSpec]:
        return [self._phase("text-only", modalities=["text"])]


@register_strategy
class MixSchedule(Strategy):
    """Direct mixing: text with a share ``speech_share`` of every batch in speech."""

    strategy: Literal["mix"]
    modalities: list[Modality] = ["speech", "text"]
    speech_share: float = Field(0.05, gt=0, lt=1)

    def phases(self) -> list[PhaseSpec]:
        share = {"speech": self.speech_share, "text": 1 - self.speech_share}
        mixture = Mixture(kind="explicit", group_by=["modality"], weights=share)
        return [self._phase("mix", modalities=["speech", "text"], mixture=mixture)]


@register_strategy
class CurriculumSchedule(MixSchedule):
    """Text→speech curriculum: ``text_epochs`` epochs of text only, then mixing at
    ``speech_share`` to the end."""

    strategy: Literal["curriculum"]  # type: ignore[assignment]
    text_epochs: float = Field(2.0, gt=0)

    def phases(self) -> list[PhaseSpec]:
        text = self._phase("text", modalities=["text"], epochs=self.text_epochs, of="text")
        return [text, *super().phases()]


@register_strategy
class CrosslingualSchedule(Strategy):
    """Source-language speech and target-language text, with ``speech_share`` of every batch in
    target-language speech."""

    strategy: Literal["crosslingual"]
    tasks: list[str] = ["slu"]
    modalities: list[Modality] = ["speech", "text"]
    source: str = "en"
    target: str = "ar"
    speech_share: float = Field(0.1, gt=0, lt=1)

    def phases(self) -> list[PhaseSpec]:
        rest = (1 - self.speech_share) / 2
        weights = {
            f"speech/{self.source}": rest,
            f"text/{self.target}": rest,
            f"speech/{self.target}": self.speech_share,
        }
        mixture = Mixture(kind="explicit", group_by=["modality", "language"], weights=weights)
        return [
            self._phase(
                "crosslingual",
                modalities=["speech", "text"],
                languages=[self.source, self.target],
                mixture=mixture,
            )
        ]


@register_strategy
class PhasesSchedule(Strategy):
    """Any plan, written out phase by phase; a phase without its own ``sort_window`` or
    ``batching`` takes the schedule's."""

    strategy: Literal["phases"]
    plan: list[PhaseSpec] = Field(min_length=1)

    def phases(self) -> list[PhaseSpec]:
        shared = {"sort_window": self.sort_window, "batching": self.batching}
        return [
            spec.model_copy(
                update={k: v for k, v in shared.items() if k not in spec.model_fields_set}
            )
            for spec in self.plan
        ]


def select_examples(schedule: Strategy, examples: list[Example]) -> list[Example]:
    """The examples a schedule may draw from, with ``speech_subset`` applied per speech pool.

    Returns a new list; plans index into it."""
    wanted = [
        i
        for i, e in enumerate(examples)
        if e.task in schedule.tasks
        and e.modality in schedule.modalities
        and (schedule.languages is None or e.language in schedule.languages)
    ]
    if schedule.speech_subset != 1:
        kept = []
        for key, indices in group_pools(examples, wanted).items():
            if key.modality == "speech":
                count = max(1, round(schedule.speech_kept(key.task, key.language) * len(indices)))
                order = derive_rng(0, "speech-subset", str(key)).permutation(len(indices))
                indices = np.sort(indices[order[:count]])
            kept.extend(indices.tolist())
        wanted = sorted(kept)
    return [examples[i] for i in wanted]
