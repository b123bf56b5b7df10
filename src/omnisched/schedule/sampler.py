"""ScheduledBatchSampler: a plan as a deterministic stream of global batches, sliced per rank.

Global batch ``s`` comes from the phase active at ``s`` and that phase's composer; every random
choice is seeded by ``(seed, phase, step)``, so the stream depends only on the plan and the
seed. Rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of every global batch (of a budget
batch, a share of near-equal token load), so the union over ranks is the same stream at every
world size. ``state_dict`` holds what the composers need to go on (cursors, used examples),
so restoring at any step replays nothing.

Data loaders draw batches ahead of training; the sampler keeps a snapshot of its state at each
recent step so that ``state_dict(step)`` describes the step the trainer has reached.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import numpy as np

from omnisched.errors import ConfigError
from omnisched.schedule.adaptive import MixController
from omnisched.schedule.budget import split_by_load, sure_fit
from omnisched.schedule.phases import Plateau
from omnisched.schedule.plan import Phase, Plan

SNAPSHOTS = 256
REFRESH_DELAY = 16  # steps between computing fresh embeddings and drawing batches with them


class PlateauTracker:
    """Per-task training losses of a phase, and whether they have stopped improving."""

    def __init__(self, settings: Plateau) -> None:
        self.settings = settings
        self.history: dict[str, list[float]] = {}

    def observe(self, losses: dict[str, float]) -> bool:
        """Adds one step's per-task losses; True once no task improves by the tolerance."""
        keep = 2 * self.settings.window
        for task, loss in losses.items():
            self.history[task] = ([*self.history.get(task, []), float(loss)])[-keep:]
        if not self.history or any(len(v) < keep for v in self.history.values()):
            return False
        window = self.settings.window
        for values in self.history.values():
            before = sum(values[:window]) / window
            after = sum(values[window:]) / window
            if before - after > self.settings.tolerance * abs(before):
                return False
        return True


def _check_budget_world(phase: Phase, plan: Plan, world_size: int) -> None:
    """A budget phase must fit two examples per process of its longest, so that every batch,
    the short last one of a sorted window included, gives each process one."""
    if phase.spec.batching is None or world_size == 1:
        return
    members = np.concatenate(list(phase.pools.values()))
    surely = sure_fit(phase.spec.batching, plan.costs, members, plan.batch_size)
    if surely < 2 * world_size:
        raise ConfigError(
            f"phase '{phase.name}': its batching budget fits {surely} of its longest examples; "
            f"with {world_size} processes it must fit {2 * world_size} (two per process): raise "
            "max_seconds / max_tokens (and train.batch_size)"
        )


class ScheduledBatchSampler:
    """Yields, for the plan's steps, this rank's share of each global batch of indices.

    With ``feedback`` the trainer reports per-task losses through ``observe``: phases that last
    ``until_plateau`` end on their losses (without it, at their ``max_fraction``), and phases
    with ``adaptive`` mixing update their task weights (without it, they keep their first).
    """

    def __init__(
        self,
        plan: Plan,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        feedback: bool = False,
    ) -> None:
        counted = any(phase.spec.batching is None for phase in plan.phases)
        if counted and plan.batch_size % world_size:
            raise ConfigError(
                f"batch_size {plan.batch_size} must be a multiple of the world size {world_size}"
            )
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size}")
        for phase in plan.phases:
            _check_budget_world(phase, plan, world_size)
        self.plan = plan
        self.batch_size = plan.batch_size
        self.steps = plan.total_steps
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.feedback = feedback
        self.step = 0
        self.phase = 0
        self.boundaries: list[tuple[int, int]] = [(0, 0)]
        self._snapshots: dict[int, dict] = {}
        self._drawn: dict[int, list[int]] = {}
        self._refreshes: list[tuple[int, np.ndarray]] = []
        # Feedback from training, by phase index: live, never snapshotted.
        self.observed = 0
        self.switches: dict[int, int] = {}
        self._trackers = {
            phase.index: PlateauTracker(phase.spec.until_plateau)
            for phase in plan.phases
            if phase.spec.until_plateau is not None
        }
        self.mixers: dict[int, MixController] = {}  # adaptive phases entered, by index
        self._start_mixer(0, 0)

    @property
    def phase_start(self) -> int:
        return self.boundaries[-1][0]

    def _phase_end(self) -> int | None:
        """The first step after the current phase, if known now."""
        phase = self.plan.phases[self.phase]
        if phase.steps is not None:
            return self.phase_start + phase.steps
        if phase.spec.until_plateau is None:
            return None
        latest = max(
            self.phase_start + 1, round(phase.spec.until_plateau.max_fraction * self.steps)
        )
        if self.phase in self.switches:
            return min(self.switches[self.phase], latest)
        if not self.feedback or self.step >= latest:
            return latest  # the cap binds whether or not a plateau was seen
        if self.step > self.observed + phase.spec.until_plateau.delay:
            raise ConfigError(
                f"the data loader runs more than {phase.spec.until_plateau.delay} batches ahead "
                "of training; raise until_plateau.delay above its prefetch depth"
            )
        return None

    def _enter_next_phases(self) -> None:
        while self.phase + 1 < len(self.plan.phases):
            end = self._phase_end()
            if end is None or self.step < end:
                return
            self.phase += 1
            self.boundaries.append((self.step, self.phase))
            self._start_mixer(self.phase, self.step)

    def _start_mixer(self, index: int, start: int, state: dict | None = None) -> None:
        """Starts the mixing controller of phase ``index``, entered at ``start``, if it adapts
        (from ``state`` when resuming), and hands its composer the weights by step."""
        phase = self.plan.phases[index]
        if phase.spec.adaptive is None:
            return
        mixer = MixController(phase.spec.adaptive, phase.task_shares, self.batch_size, start)
        if state is not None:
            mixer.load_state_dict(state)
        self.mixers[index] = mixer
        phase.composer.task_weights = self._weights_of(index)

    def _weights_of(self, index: int) -> Callable[[int], dict[str, float]]:
        """Phase ``index``'s task weights by step counted from the phase's start."""
        return lambda local: self.mixers[index].weights_at(self.mixers[index].start + local)

    def task_weights(self, step: int) -> dict[str, float] | None:
        """The task weights global batch ``step`` was drawn with, if its phase adapts."""
        mixer = self.mixers.get(self._phase_index_at(step))
        return None if mixer is None else mixer.weights_at(step)

    def next_global_batch(self) -> list[int]:
        """The indices of the next global batch across all ranks."""
        self._snapshots[self.step] = self._drawing_state()
        self._snapshots.pop(self.step - SNAPSHOTS, None)
        self._enter_next_phases()
        self._apply_refreshes()
        phase = self.plan.phases[self.phase]
        batch = phase.composer.compose(self.step - self.phase_start, self.batch_size)
        self._drawn[self.step] = batch
        self._drawn.pop(self.step - SNAPSHOTS, None)
        self.step += 1
        return batch

    def drawn_batch(self, step: int) -> list[int]:
        """The global batch drawn at ``step`` (0-based), for one of the recent steps."""
        if step not in self._drawn:
            raise ConfigError(f"no global batch kept for step {step}")
        return self._drawn[step]

    def refresh_embeddings(self, step: int, embeddings: np.ndarray, replayed: bool = False) -> None:
        """Aligner embeddings computed after training step ``step``; composers that need them
        (ADS) draw with them from step ``step + REFRESH_DELAY`` on, whatever the loader's
        prefetch depth. ``replayed`` re-registers an earlier refresh when resuming."""
        effective = step + REFRESH_DELAY
        if self.step > effective and not replayed:
            raise ConfigError(
                f"the data loader runs more than {REFRESH_DELAY} batches ahead of training; "
                "embedding refreshes cannot be placed deterministically"
            )
        self._refreshes.append((effective, embeddings))
        self._refreshes.sort(key=lambda refresh: refresh[0])

    def _apply_refreshes(self) -> None:
        due = [matrix for effective, matrix in self._refreshes if effective <= self.step]
        if due:
            for phase in self.plan.phases:
                if phase.needs_embeddings:
                    phase.composer.embeddings = due[-1]

    def __iter__(self) -> Iterator[list[int]]:
        while self.step < self.steps:
            yield self.rank_slice(self.next_global_batch())

    def rank_slice(self, batch: list[int]) -> list[int]:
        """This rank's share of a global batch of the current phase: positions
        ``rank, rank + w, …``, or for a budget batch, a share of near-equal token load."""
        if self.plan.phases[self.phase].spec.batching is None:
            return batch[self.rank :: self.world_size]
        loads = self.plan.costs.load(batch)
        return split_by_load(batch, loads, self.world_size)[self.rank]

    def __len__(self) -> int:
        return self.steps - self.step

    def _phase_index_at(self, step: int) -> int:
        return max(index for start, index in self.boundaries if start <= step)

    def phase_at(self, step: int) -> str:
        """The name of the phase global batch ``step`` was drawn from (already drawn steps)."""
        return self.plan.phases[self._phase_index_at(step)].name

    def observe(self, step: int, losses: dict[str, float]) -> None:
        """Training has finished ``step`` steps; ``losses`` are the last batch's per-task
        losses (the same on every rank). A plateau ends its phase ``delay`` steps later."""
        self.observed = step
        phase = self._phase_index_at(step - 1)
        tracker = self._trackers.get(phase)
        if tracker is not None and phase not in self.switches and tracker.observe(losses):
            self.switches[phase] = step + tracker.settings.delay
        mixer = self.mixers.get(phase)
        effective = None if mixer is None else mixer.observe(step, losses)
        if effective is not None and self.step > effective:
            raise ConfigError(
                f"the data loader runs more than {mixer.settings.delay} batches ahead of "
                "training; raise adaptive.delay above its prefetch depth"
            )

    def state_dict(self, step: int | None = None) -> dict:
        """What resuming at ``step`` (default: the next batch this sampler draws) needs."""
        if step is not None and step != self.step:
            if step not in self._snapshots:
                raise ConfigError(f"no sampler state kept for step {step}")
            return copy.deepcopy(self._snapshots[step]) | self._feedback_state()
        return self._drawing_state() | self._feedback_state()

    def _drawing_state(self) -> dict:
        """Where the stream stands: the step, the phase, the composer's state."""
        return {
            "step": self.step,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "phases": [phase.name for phase in self.plan.phases],
            "phase": self.phase,
            "boundaries": [list(b) for b in self.boundaries],
            "composer": self.plan.phases[self.phase].composer.state_dict(),
        }

    def _feedback_state(self) -> dict:
        return {
            "observed": self.observed,
            "switches": {str(k): v for k, v in self.switches.items()},
            "plateau": {str(k): list(t.history.items()) for k, t in self._trackers.items()},
            "adaptive": {str(k): mixer.state_dict() for k, mixer in self.mixers.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Continues at ``state['step']`` without replaying earlier batches."""
        identity = (self.seed, self.batch_size, [p.name for p in self.plan.phases])
        if (state["seed"], state["batch_size"], state["phases"]) != identity:
            raise ConfigError(
                "sampler state was saved with another seed, batch size or plan: saved "
                f"seed {state['seed']}, batch_size {state['batch_size']}, phases "
                f"{state['phases']}; this run has seed {identity[0]}, batch_size "
                f"{identity[1]}, phases {identity[2]}"
            )
        self.step = int(state["step"])
        self.phase = int(state["phase"])
        self.boundaries = [tuple(b) for b in state["boundaries"]]
        self.observed = int(state["observed"])
        self.switches = {int(k): int(v) for k, v in state["switches"].items()}
        for index, history in state["plateau"].items():
            self._trackers[int(index)].history = {task: list(v) for task, v in history}
        self.mixers = {}
        for index, mixer in state.get("adaptive", {}).items():
            self._start_mixer(int(index), int(mixer["start"]), mixer)
        self.plan.phases[self.phase].composer.load_state_dict(copy.deepcopy(state["composer"]))
        self._snapshots.clear()
