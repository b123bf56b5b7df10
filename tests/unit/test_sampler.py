"""ScheduledBatchSampler invariants for every strategy: determinism, balance, coverage, shares,
resume equality and rank slicing."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from omnisched.errors import ConfigError
from omnisched.schedule.cursor import Cursor
from omnisched.schedule.mixture import Mixture
from omnisched.schedule.phases import PhaseSpec, Plateau
from omnisched.schedule.strategies import (
    ADSSchedule,
    CrosslingualSchedule,
    CurriculumSchedule,
    HybridSchedule,
    MixSchedule,
    ProportionalSchedule,
    TemperatureSchedule,
    TextOnlySchedule,
    TPCSchedule,
    UniformSchedule,
)
from schedule_helpers import (
    PAPER1_POOLS,
    PAPER2_POOLS,
    clustered_embeddings,
    make_examples,
    sampler_for,
    stream,
)

PAPER1 = make_examples(PAPER1_POOLS)
PAPER2 = make_examples(PAPER2_POOLS)

STRATEGIES = {
    "uniform": (UniformSchedule(strategy="uniform"), PAPER1),
    "uniform-sorted": (UniformSchedule(strategy="uniform", sort_window=4), PAPER1),
    "proportional": (ProportionalSchedule(strategy="proportional"), PAPER1),
    "temperature": (TemperatureSchedule(strategy="temperature", temperature=3.0), PAPER1),
    "tpc": (TPCSchedule(strategy="tpc"), PAPER1),
    "tpc-sequential": (TPCSchedule(strategy="tpc", cumulative=False, replay=0.25), PAPER1),
    "ads": (ADSSchedule(strategy="ads"), PAPER1),
    "hybrid": (HybridSchedule(strategy="hybrid", switch=0.5), PAPER1),
    "hybrid-steps": (HybridSchedule(strategy="hybrid", switch=20), PAPER1),
    "text_only": (TextOnlySchedule(strategy="text_only", tasks=["slu"]), PAPER2),
    "mix": (MixSchedule(strategy="mix", tasks=["slu"], speech_share=0.05), PAPER2),
    "curriculum": (
        CurriculumSchedule(strategy="curriculum", tasks=["slu"], text_epochs=0.1),
        PAPER2,
    ),
    "crosslingual": (CrosslingualSchedule(strategy="crosslingual"), PAPER2),
    "proportional-sorted": (ProportionalSchedule(strategy="proportional", sort_window=4), PAPER1),
    "tpc-sorted": (TPCSchedule(strategy="tpc", sort_window=4), PAPER1),
    "ads-sorted": (ADSSchedule(strategy="ads", sort_window=4), PAPER1),
    "hybrid-sorted": (HybridSchedule(strategy="hybrid", switch=0.5, sort_window=4), PAPER1),
    "mix-sorted": (MixSchedule(strategy="mix", tasks=["slu"], sort_window=4), PAPER2),
}


def _padding(batches, examples) -> float:
    """Padded share of the speech frames: what batching to the longest clip adds."""
    padded = total = 0.0
    for batch in batches:
        lengths = [examples[i].duration_s for i in batch if examples[i].duration_s]
        if lengths:
            padded += max(lengths) * len(lengths) - sum(lengths)
            total += max(lengths) * len(lengths)
    return padded / total


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_same_seed_same_stream_other_seed_other_stream(name):
    schedule, examples = STRATEGIES[name]
    first = stream(sampler_for(schedule, examples, seed=5)[0])
    assert first == stream(sampler_for(schedule, examples, seed=5)[0])
    assert first != stream(sampler_for(schedule, examples, seed=6)[0])
    assert len(first) == 50 and all(len(batch) == 8 for batch in first)


@given(
    name=st.sampled_from(sorted(STRATEGIES)),
    cut=st.integers(0, 60),
    batch=st.integers(1, 12),
    seed=st.integers(0, 10_000),
)
@settings(max_examples=60, deadline=None)
def test_resume_at_any_step_gives_the_remaining_stream(name, cut, batch, seed):
    schedule, examples = STRATEGIES[name]
    full = stream(sampler_for(schedule, examples, batch, 60, seed)[0])
    first, _ = sampler_for(schedule, examples, batch, 60, seed)
    consumed = [b for _, b in zip(range(cut), first, strict=False)]
    ahead = [b for _, b in zip(range(3), first, strict=False)]  # a loader prefetching
    assert consumed + ahead == full[: len(consumed) + len(ahead)]
    resumed, _ = sampler_for(schedule, examples, batch, 60, seed)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict(len(consumed)))))
    assert consumed + stream(resumed) == full


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("world", [2, 4])
def test_ranks_partition_every_global_batch(name, world):
    schedule, examples = STRATEGIES[name]
    single = stream(sampler_for(schedule, examples, 8, 30, seed=7)[0])
    per_rank = [
        stream(sampler_for(schedule, examples, 8, 30, 7, rank=r, world_size=world)[0])
        for r in range(world)
    ]
    for step, global_batch in enumerate(single):
        assert sorted(i for rank in per_rank for i in rank[step]) == sorted(global_batch)


def test_sorted_uniform_keeps_each_window_of_examples_and_cuts_padding():
    plain = stream(sampler_for(UniformSchedule(strategy="uniform"), PAPER1, 8, 48, 3)[0])
    schedule = UniformSchedule(strategy="uniform", sort_window=6)
    ordered = stream(sampler_for(schedule, PAPER1, 8, 48, 3)[0])
    for start in range(0, 48, 6):
        window = sorted(i for b in plain[start : start + 6] for i in b)
        assert sorted(i for b in ordered[start : start + 6] for i in b) == window

    assert _padding(ordered, PAPER1) < 0.5 * _padding(plain, PAPER1)


@pytest.mark.parametrize(
    "name", ["proportional", "tpc", "ads", "hybrid", "mix", "crosslingual", "temperature"]
)
def test_duration_window_keeps_each_composers_balance_and_cuts_padding(name):
    """ADS keeps every batch's strata; mixtures keep every batch's speech/text counts and every
    window's pool counts (windows start with their phase); padding drops by half or more."""
    schedule, examples = STRATEGIES[name]
    if name == "mix":  # enough speech per batch for padding to matter
        schedule = schedule.model_copy(update={"speech_share": 0.3})
    pools = PAPER1_POOLS if examples is PAPER1 else PAPER2_POOLS
    examples = make_examples({pool: 10 * size for pool, size in pools.items()})
    window = 8
    plain, chosen = sampler_for(schedule, examples, 16, 60, seed=2)
    ordered, _ = sampler_for(
        schedule.model_copy(update={"sort_window": window}), examples, 16, 60, 2
    )
    plain_batches, ordered_batches = stream(plain), stream(ordered)
    assert [b for b, _ in ordered.boundaries] == [b for b, _ in plain.boundaries]
    starts = [b for b, _ in ordered.boundaries] + [len(plain_batches)]
    for phase, (begin, end) in enumerate(itertools.pairwise(starts)):
        composer = ordered.plan.phases[phase].composer
        if ordered.plan.phases[phase].spec.composer == "ads":
            stratum = {i: s for s, c in composer.cursors.items() for i in c.indices.tolist()}
            for a, b in zip(plain_batches[begin:end], ordered_batches[begin:end], strict=True):
                assert Counter(stratum[i] for i in a) == Counter(stratum[i] for i in b)
            continue
        for a, b in zip(plain_batches[begin:end], ordered_batches[begin:end], strict=True):
            assert Counter(chosen[i].modality for i in a) == Counter(chosen[i].modality for i in b)
        for first in range(begin, end - window + 1, window):
            a = [chosen[i].pool for batch in plain_batches[first : first + window] for i in batch]
            b = [chosen[i].pool for batch in ordered_batches[first : first + window] for i in batch]
            assert Counter(a) == Counter(b)
    assert _padding(ordered_batches, chosen) < 0.5 * _padding(plain_batches, chosen)


def _pool_draws(batches, examples):
    draws: dict[tuple, list[int]] = {}
    for batch in batches:
        for i in batch:
            e = examples[i]
            draws.setdefault((e.task, e.modality, e.language), []).append(i)
    return draws


@pytest.mark.parametrize("name", ["uniform", "proportional", "temperature", "mix", "tpc"])
def test_no_repeats_inside_an_epoch_of_a_pool(name):
    schedule, examples = STRATEGIES[name]
    sampler, chosen = sampler_for(schedule, examples, 8, 200, seed=1)
    batches = stream(sampler)
    if name == "uniform":  # one walk through everything
        flat = [i for b in batches for i in b]
        for start in range(0, len(flat) - len(chosen) + 1, len(chosen)):
            assert sorted(flat[start : start + len(chosen)]) == list(range(len(chosen)))
        return
    phase_start = [start for start, _ in sampler.boundaries] + [len(batches)]
    for begin, end in itertools.pairwise(phase_start):
        for pool, draws in _pool_draws(batches[begin:end], chosen).items():
            size = sum(1 for e in chosen if (e.task, e.modality, e.language) == pool)
            for start in range(0, len(draws), size):
                epoch = draws[start : start + size]
                assert len(set(epoch)) == len(epoch), f"repeat inside an epoch of {pool}"


@pytest.mark.parametrize("name", ["uniform", "proportional", "mix", "tpc"])
def test_with_a_duration_window_every_example_waits_its_turn(name):
    """Re-cutting by duration reorders examples inside a window only: at every window's end,
    the examples of each pool have been drawn equally often, give or take one."""
    schedule, examples = STRATEGIES[name]
    window = 4
    sampler, chosen = sampler_for(
        schedule.model_copy(update={"sort_window": window}), examples, 8, 200, seed=1
    )
    batches = stream(sampler)
    phase_start = [start for start, _ in sampler.boundaries] + [len(batches)]
    for begin, end in itertools.pairwise(phase_start):
        members = {
            pool: [i for i, e in enumerate(chosen) if e.pool == pool]
            for pool in {chosen[i].pool for b in batches[begin:end] for i in b}
        }
        for stop in range(begin + window, end + 1, window):
            drawn = Counter(i for b in batches[begin:stop] for i in b)
            for pool, indices in members.items():
                counts = [drawn[i] for i in indices]
                assert max(counts) - min(counts) <= 1, (pool, stop)


@given(
    batch=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    shift=st.integers(0, 4),
    sort_window=st.sampled_from([0, 4]),
)
@settings(max_examples=60, deadline=None)
def test_ads_balances_tasks_exactly_and_labels_inside_each_task(batch, seed, shift, sort_window):
    examples = make_examples(PAPER1_POOLS, labelled_shift=shift)
    schedule = ADSSchedule(strategy="ads", sort_window=sort_window)
    sampler, chosen = sampler_for(schedule, examples, batch, 20, seed)
    for global_batch in stream(sampler):
        tasks = Counter(chosen[i].task for i in global_batch)
        counts = [tasks.get(t, 0) for t in ("asr", "ssum", "dialect", "emotion")]
        assert max(counts) - min(counts) <= 1
        for task in ("dialect", "emotion"):
            labels = Counter(chosen[i].label for i in global_batch if chosen[i].task == task)
            n_labels = 5 if task == "dialect" else 4
            per_label = [
                labels.get(label, 0) for label in set(e.label for e in chosen if e.task == task)
            ]
            assert len(per_label) == n_labels
            assert max(per_label) - min(per_label) <= 1


@pytest.mark.parametrize("sort_window", [0, 4])
def test_ads_never_repeats_an_example_inside_an_epoch_of_its_stratum(sort_window):
    schedule = ADSSchedule(strategy="ads", sort_window=sort_window)
    sampler, _chosen = sampler_for(schedule, PAPER1, 16, 100, seed=3)
    composer = sampler.plan.phases[0].composer
    draws: dict[str, list[int]] = {}
    for batch in stream(sampler):
        for i in batch:
            stratum = next(s for s in composer.cursors if i in composer.cursors[s].indices)
            draws.setdefault(stratum, []).append(i)
    for name, seen in draws.items():
        size = len(composer.cursors[name].indices)
        for start in range(0, len(seen), size):
            epoch = seen[start : start + size]
            assert len(set(epoch)) == len(epoch), name


def _mean_pairwise_distance(batches, embeddings):
    values = []
    for batch in batches:
        points = embeddings[batch].astype(np.float64)
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
        values.append(gaps[np.triu_indices(len(batch), 1)].mean())
    return float(np.mean(values))


@pytest.mark.parametrize("sort_window", [0, 4])
def test_ads_batches_are_more_diverse_than_balanced_random_batches(sort_window):
    examples = make_examples({("asr", "speech", "ar"): 400, ("ssum", "speech", "ar"): 400})
    embeddings = clustered_embeddings(len(examples), clusters=8, seed=2, dominant=0.65)
    schedule = ADSSchedule(strategy="ads", tasks=["asr", "ssum"], sort_window=sort_window)
    ads, _ = sampler_for(schedule, examples, 16, 40, 0, embeddings)
    balanced = [PhaseSpec(name="r", tasks=["asr", "ssum"], mixture=Mixture(kind="balanced"))]
    random, _ = sampler_for(balanced, examples, 16, 40, 0)
    ratio = _mean_pairwise_distance(stream(ads), embeddings) / _mean_pairwise_distance(
        stream(random), embeddings
    )
    assert ratio >= 1.2, ratio


def _stage_of(task: str) -> int:
    return {"asr": 0, "ssum": 1, "dialect": 2, "emotion": 2}[task]


@pytest.mark.parametrize("cumulative", [True, False])
def test_tpc_phase_k_samples_only_its_stages_plus_the_replay_share(cumulative):
    replay = 0.0 if cumulative else 0.2
    schedule = TPCSchedule(strategy="tpc", cumulative=cumulative, replay=replay)
    sampler, chosen = sampler_for(schedule, PAPER1, 10, 3000, seed=4)
    batches = stream(sampler)
    assert [start for start, _ in sampler.boundaries] == [0, 1000, 2000]
    for k, (begin, end) in enumerate([(0, 1000), (1000, 2000), (2000, 3000)]):
        stages = Counter(_stage_of(chosen[i].task) for b in batches[begin:end] for i in b)
        assert max(stages) <= k
        if not cumulative:
            earlier = sum(n for s, n in stages.items() if s < k) / sum(stages.values())
            assert earlier == pytest.approx(replay if k else 0.0, abs=0.02)
        if cumulative and k:
            assert all(stages[s] > 0 for s in range(k + 1))


@pytest.mark.parametrize(
    "mixture",
    [
        Mixture(kind="proportional"),
        Mixture(kind="balanced"),
        Mixture(kind="temperature", temperature=2.0),
        Mixture(kind="explicit", weights={"asr": 0.1, "ssum": 0.2, "dialect": 0.3, "emotion": 0.4}),
    ],
)
def test_mixture_shares_match_their_weights(mixture):
    tasks = ["asr", "ssum", "dialect", "emotion"]
    sampler, chosen = sampler_for(
        [PhaseSpec(name="m", tasks=tasks, mixture=mixture)], PAPER1, 16, 10_000, seed=9
    )
    counts = Counter(chosen[i].task for batch in stream(sampler) for i in batch)
    shares = sampler.plan.phases[0].shares
    expected = [sum(v for k, v in shares.items() if k.task == t) * 160_000 for t in tasks]
    assert chisquare([counts[t] for t in tasks], expected).pvalue > 0.01


@pytest.mark.parametrize("share", [0.02, 0.05, 0.3])
def test_modality_share_matches_p(share):
    schedule = MixSchedule(strategy="mix", tasks=["slu"], speech_share=share)
    sampler, chosen = sampler_for(schedule, PAPER2, 16, 10_000, seed=2)
    counts = Counter(chosen[i].modality for batch in stream(sampler) for i in batch)
    expected = [share * 160_000, (1 - share) * 160_000]
    assert chisquare([counts["speech"], counts["text"]], expected).pvalue > 0.01


def test_curriculum_is_text_only_for_its_epochs_then_mixes():
    schedule = CurriculumSchedule(strategy="curriculum", tasks=["slu"], text_epochs=2)
    sampler, chosen = sampler_for(schedule, PAPER2, 14, 200, seed=0)
    batches = stream(sampler)
    text_rows = sum(1 for e in chosen if e.modality == "text")
    switch = -(-2 * text_rows // 14)
    assert sampler.boundaries == [(0, 0), (switch, 1)]
    assert all(chosen[i].modality == "text" for b in batches[:switch] for i in b)
    assert any(chosen[i].modality == "speech" for b in batches[switch:] for i in b)


def test_crosslingual_draws_source_speech_target_text_and_a_share_of_target_speech():
    sampler, chosen = sampler_for(CrosslingualSchedule(strategy="crosslingual"), PAPER2, 20, 2000)
    counts = Counter(
        f"{chosen[i].modality}/{chosen[i].language}" for b in stream(sampler) for i in b
    )
    assert set(counts) == {"speech/en", "text/ar", "speech/ar"}
    assert counts["speech/ar"] / counts.total() == pytest.approx(0.1, abs=0.01)


def test_a_short_first_phase_draws_only_short_examples_then_every_one():
    # durations cycle 1.0, 1.5, ..., 4.0 s: 3 of every 7 examples are at most 2 s
    phase = {"tasks": ["asr", "ssum"], "composer": "shuffle"}
    specs = [
        PhaseSpec(name="short", max_duration_s=2.0, steps=12, **phase),
        PhaseSpec(name="all", **phase),
    ]
    sampler, chosen = sampler_for(specs, PAPER1[:100], batch_size=5, steps=40)
    batches = stream(sampler)
    short = {i for i, e in enumerate(chosen) if e.duration_s <= 2.0}
    assert {i for b in batches[:12] for i in b} == short  # 60 draws cover all 45 short ones
    assert {i for b in batches[12:] for i in b} == set(range(len(chosen)))


def test_a_duration_bound_that_leaves_nothing_is_named():
    spec = PhaseSpec(name="tiny", tasks=["asr"], max_duration_s=0.5)
    with pytest.raises(ConfigError, match=r"phase 'tiny' selects no examples.*at most 0.5 s"):
        sampler_for([spec], PAPER1)


def test_speech_subset_keeps_the_same_share_of_speech_for_every_seed():
    schedule = MixSchedule(strategy="mix", tasks=["slu"], speech_subset=0.25)
    a = sampler_for(schedule, PAPER2, seed=0)[1]
    b = sampler_for(schedule, PAPER2, seed=1)[1]
    assert [e.id for e in a] == [e.id for e in b]
    assert sum(e.modality == "speech" and e.language == "ar" for e in a) == 10
    assert sum(e.modality == "text" for e in a) == 280


def _plateau_spec():
    return [
        PhaseSpec(
            name="first",
            tasks=["asr"],
            until_plateau=Plateau(window=5, tolerance=0.05, delay=4, max_fraction=0.9),
        ),
        PhaseSpec(name="second", tasks=["ssum"]),
    ]


def _train_with_losses(sampler, losses, start, until):
    """Trains steps ``start + 1 .. until`` like a loader running two batches ahead, reporting
    ``losses[step]``."""
    batches, it = [], iter(sampler)
    ahead = [next(it), next(it)]
    for step in range(start + 1, until + 1):
        batches.append(ahead.pop(0))
        sampler.observe(step, {"asr": losses[step]})
        ahead.extend(b for _, b in zip(range(1), it, strict=False))
    return batches


def test_plateau_switch_happens_delay_steps_after_the_losses_flatten_and_resumes():
    losses = [max(1.0, 5.0 - 0.2 * s) for s in range(200)]  # flat from step 20
    sampler, _ = sampler_for(_plateau_spec(), PAPER1, 4, 100, feedback=True)
    full = _train_with_losses(sampler, losses, 0, 100)
    switch = sampler.boundaries[1][0]
    assert 20 < switch < 40 and sampler.switches == {0: switch}

    first, _ = sampler_for(_plateau_spec(), PAPER1, 4, 100, feedback=True)
    part = _train_with_losses(first, losses, 0, 15)
    resumed, _ = sampler_for(_plateau_spec(), PAPER1, 4, 100, feedback=True)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict(15))))
    rest = _train_with_losses(resumed, losses, 15, 100)
    assert part + rest == full


def test_without_feedback_a_plateau_phase_ends_at_its_max_fraction():
    sampler, _ = sampler_for(_plateau_spec(), PAPER1, 4, 100)
    stream(sampler)
    assert sampler.boundaries == [(0, 0), (90, 1)]


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="multiple of the world size"):
        sampler_for(UniformSchedule(strategy="uniform"), PAPER1, 6, world_size=4)
    with pytest.raises(ConfigError, match="selects no examples"):
        sampler_for([PhaseSpec(name="x", tasks=["slu"])], PAPER1)
    with pytest.raises(ConfigError, match="no pool group named"):
        sampler_for(
            [
                PhaseSpec(
                    name="x", tasks=["asr"], mixture=Mixture(kind="explicit", weights={"b": 1})
                )
            ],
            PAPER1,
        )
    sampler, _ = sampler_for(UniformSchedule(strategy="uniform"), PAPER1, seed=0)
    state = sampler.state_dict() | {"seed": 9}
    with pytest.raises(ConfigError, match="another seed"):
        sampler.load_state_dict(state)


def test_refreshed_embeddings_apply_from_a_fixed_step_and_survive_resume():
    examples = make_examples({("asr", "speech", "ar"): 300, ("ssum", "speech", "ar"): 300})
    schedule = ADSSchedule(strategy="ads", tasks=["asr", "ssum"])
    old = clustered_embeddings(600, seed=1, dominant=0.6)
    new = clustered_embeddings(600, seed=2, dominant=0.6)
    frozen = stream(sampler_for(schedule, examples, 16, 40, 0, old)[0])

    def refreshed(cut: int | None = None) -> list[list[int]]:
        sampler, _ = sampler_for(schedule, examples, 16, 40, 0, old)
        batches, it = [], iter(sampler)
        for step in range(40):
            if step == 10:
                sampler.refresh_embeddings(10, new)
            if cut is not None and step == cut:
                resumed, _ = sampler_for(schedule, examples, 16, 40, 0, old)
                resumed.load_state_dict(json.loads(json.dumps(sampler.state_dict())))
                resumed.refresh_embeddings(10, new, replayed=True)
                return batches + stream(resumed)
            batches.append(next(it))
        return batches

    full = refreshed()
    assert full[:26] == frozen[:26]  # effective REFRESH_DELAY = 16 steps after step 10
    assert full[26:] != frozen[26:]
    assert refreshed(cut=30) == full


def test_a_stratum_cursor_saved_before_pending_positions_resumes_the_same():
    """States written with a used-position list (head + used beyond it) still load."""
    cursor = Cursor(np.arange(10), seed=0, phase=0, name="s", kind="stratum")
    cursor.load_state_dict({"epoch": 2, "head": 3, "used": [5, 6, 8]})
    assert (cursor.epoch, cursor.frontier, cursor.pending.tolist()) == (2, 9, [3, 4, 7])
    assert cursor.candidates(4).tolist() == [3, 4, 7, 9]


def test_speech_subset_per_task_keeps_each_task_its_share():
    schedule = UniformSchedule(strategy="uniform", speech_subset={"dialect": 0.25, "ssum": 0.5})
    kept = sampler_for(schedule, PAPER1)[1]
    full = sampler_for(UniformSchedule(strategy="uniform"), PAPER1)[1]
    count = Counter(e.task for e in kept)
    whole = Counter(e.task for e in full)
    assert count["dialect"] == round(whole["dialect"] * 0.25)
    assert count["ssum"] == round(whole["ssum"] * 0.5)
    assert count["asr"] == whole["asr"] and count["emotion"] == whole["emotion"]


def test_speech_subset_names_only_the_schedules_tasks():
    with pytest.raises(ValueError, match="not among the schedule's tasks"):
        UniformSchedule(strategy="uniform", speech_subset={"slu": 0.5})
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\]"):
        UniformSchedule(strategy="uniform", speech_subset={"asr": 0.0})


def test_speech_subset_per_language_keeps_the_other_languages_speech():
    schedule = CrosslingualSchedule(
        strategy="crosslingual",
        tasks=["slu"],
        source="en",
        target="ar",
        speech_subset={"slu/ar": 0.25},
    )
    full = CrosslingualSchedule(strategy="crosslingual", tasks=["slu"], source="en", target="ar")
    kept = Counter((e.modality, e.language) for e in sampler_for(schedule, PAPER2)[1])
    whole = Counter((e.modality, e.language) for e in sampler_for(full, PAPER2)[1])
    assert kept[("speech", "ar")] == round(whole[("speech", "ar")] * 0.25)
    assert kept[("speech", "en")] == whole[("speech", "en")] > 0
    assert kept[("text", "ar")] == whole[("text", "ar")]
