"""Phase specs, and the registry of the composers a spec may name.

A ``PhaseSpec`` says which pools a phase draws from, how they mix, how long it lasts and which
composer fills its batches. A composer is registered by name with ``register_composer``, which
also declares what ``build_plan`` must know of it: how the phase's pools share its batches,
whether it needs aligner embeddings, how many batches' worth of examples it needs. Every
composer is built from one ``PhaseInput``. The built-in composers (``schedule.composers``)
register when the ``omnisched.schedule`` package is imported; a composer of your own registers
when the module that defines it is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from omnisched.data.example import Example
from omnisched.errors import ConfigError
from omnisched.schedule.adaptive import AdaptiveMixing
from omnisched.schedule.budget import Budget, Costs
from omnisched.schedule.mixture import Mixture, pool_weights
from omnisched.schedule.pools import PoolKey


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Plateau(_Strict):
    """Ends a phase when every task's training loss has stopped improving.

    Compares the mean loss of the last ``window`` observations of each task with the ``window``
    before; when none improved by more than ``tolerance`` (relative), the phase ends ``delay``
    steps later (batches already drawn ahead by the data loader are not re-planned). By
    ``max_fraction`` of training it ends anyway; that is also where previews place the switch.
    """

    window: int = Field(25, gt=0)
    tolerance: float = Field(0.01, ge=0)
    delay: int = Field(16, ge=1)
    max_fraction: float = Field(0.8, gt=0, le=1)


class DiversitySettings(_Strict):
    """ADS: candidates per pick, and k-means pseudo-labels for tasks without labels."""

    window: int = Field(32, ge=1, description="candidates looked at for each pick")
    clusters: int = Field(8, ge=1, description="pseudo-labels for tasks without labels")
    refresh_every: int | None = Field(
        None,
        gt=0,
        description="recompute the embeddings every this many steps (only matters when the "
        "aligner or the LLM's input embeddings train); default: frozen",
    )


class PhaseSpec(_Strict):
    """One phase: which pools, how they mix, how batches are composed, and how long."""

    name: str
    tasks: list[str]
    modalities: list[Literal["speech", "text"]] = ["speech"]
    languages: list[str] | None = None
    max_duration_s: float | None = Field(
        None,
        gt=0,
        description="draw only examples of at most this duration (text rows always qualify): "
        "a short-first phase, as in SortaGrad",
    )
    mixture: Mixture = Mixture()
    adaptive: AdaptiveMixing | None = Field(
        None,
        description="task weights that follow the training losses, starting from the "
        "mixture's (see schedule.adaptive); the composer must support it",
    )
    composer: str = Field("random", description="a registered composer (register_composer)")
    sort_window: int = Field(
        0,
        ge=0,
        description="batches of similar duration, chosen within this many batches' worth of "
        "examples (0: off; see the composers)",
    )
    diversity: DiversitySettings = DiversitySettings()
    batching: Budget | None = Field(
        None,
        description="batches of as many examples as fit this budget of padded seconds and "
        "tokens (at most train.batch_size) instead of a fixed count",
    )
    steps: int | None = Field(None, gt=0)
    fraction: float | None = Field(None, gt=0, le=1)
    epochs: float | None = Field(None, gt=0)
    of: str | None = Field(None, description="pool group the epochs count: 'text', 'asr', ...")
    until_plateau: Plateau | None = None

    @field_validator("composer")
    @classmethod
    def _registered(cls, composer: str) -> str:
        if composer not in _COMPOSERS:
            raise ValueError(f"unknown composer '{composer}'; known: {', '.join(composer_names())}")
        return composer

    @model_validator(mode="after")
    def _one_length(self) -> PhaseSpec:
        given = [f for f in ("steps", "fraction", "epochs", "until_plateau") if getattr(self, f)]
        if len(given) > 1:
            raise ValueError(f"a phase has one length; got {', '.join(given)}")
        if (self.of is None) != (self.epochs is None):
            raise ValueError("'epochs' and 'of' go together: epochs of which pool group")
        return self


class Composer(Protocol):
    """Fills global batches; stateful composers restore from their ``state_dict``, which
    returns fresh objects (the sampler keeps them as snapshots without copying). A composer
    registered with ``needs_embeddings`` also has a settable ``embeddings`` attribute: the
    sampler sets it when training refreshes the aligner embeddings. One registered with
    ``adaptive`` has a settable ``task_weights``: None (the plan's shares) or a function from
    the phase's step to the task weights that step's batch is drawn with."""

    def compose(self, step: int, batch_size: int) -> list[int]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass(frozen=True)
class PhaseInput:
    """What a composer is built from: one resolved phase of a plan.

    Every random choice of the composer draws from generators derived from ``seed`` and
    ``index`` (``omnisched.seeding.derive_rng``), so that its batches depend on nothing else.
    """

    spec: PhaseSpec
    index: int  # the phase's position in the plan
    seed: int
    examples: Sequence[Example]
    pools: dict[PoolKey, np.ndarray]  # the phase's pools: indices into ``examples``
    shares: dict[PoolKey, float]  # each pool's expected share of a batch (the kind's ``shares``)
    durations: np.ndarray  # seconds per example (0 for text rows)
    embeddings: np.ndarray | None  # one row per example, for composers that need them
    costs: Costs  # what each example adds to a budget batch (``spec.batching``)


Shares = Callable[[PhaseSpec, dict[PoolKey, int]], dict[PoolKey, float]]


def mixture_shares(spec: PhaseSpec, sizes: dict[PoolKey, int]) -> dict[PoolKey, float]:
    """The pool shares the phase's ``mixture`` gives (pools of weight 0 left out)."""
    return pool_weights(spec.mixture, sizes)


@dataclass(frozen=True)
class ComposerKind:
    """A registered composer: its factory and what the plan must know of it."""

    name: str
    build: Callable[[PhaseInput], Composer]
    shares: Shares  # pool sizes -> expected shares; pools left out are not drawn
    needs_embeddings: bool  # built with aligner embeddings, refreshed during training
    min_batches: int  # batches' worth of examples the phase must hold
    adaptive: bool  # draws with task weights that change during training


_COMPOSERS: dict[str, ComposerKind] = {}


def register_composer(
    name: str,
    *,
    shares: Shares = mixture_shares,
    needs_embeddings: bool = False,
    min_batches: int = 1,
    adaptive: bool = False,
) -> Callable[[Callable[[PhaseInput], Composer]], Callable[[PhaseInput], Composer]]:
    """Registers the decorated factory as composer ``name``, the value of a phase's
    ``composer:``. ``shares`` gives each pool's expected share of a batch from the pools'
    sizes (default: the phase's mixture); ``min_batches`` > 1 for a composer that needs more
    than one batch's worth of examples to never repeat one in a batch; ``adaptive`` for one
    whose ``task_weights`` may be set (a phase's ``adaptive:`` mixing)."""

    def register(build: Callable[[PhaseInput], Composer]) -> Callable[[PhaseInput], Composer]:
        if name in _COMPOSERS:
            raise ConfigError(f"a composer named '{name}' is registered already")
        _COMPOSERS[name] = ComposerKind(
            name, build, shares, needs_embeddings, min_batches, adaptive
        )
        return build

    return register


def composer_kind(name: str) -> ComposerKind:
    """The registered composer ``name``."""
    if name not in _COMPOSERS:
        raise ConfigError(f"unknown composer '{name}'; known: {', '.join(composer_names())}")
    return _COMPOSERS[name]


def composer_names() -> list[str]:
    """The names of every registered composer, sorted."""
    return sorted(_COMPOSERS)
