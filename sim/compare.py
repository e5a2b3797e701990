"""Paired runs: the same arrivals and drivers with and without the advisory.

:func:`compare` runs, for each seed, a baseline (nobody equipped) and an advisory run on the
same pre-drawn population (common random numbers) and returns the ``compare --json`` object.
:func:`compare_before_after` also separates signal retiming from advice: the "before"
scenario's timing without advice against the "after" scenario's timing with advice, plus each
change alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from greenwave.network import World

from .demand import draw_arrivals
from .engine import SimResult, Simulation
from .groups import GROUPS, SUBGROUPS, vehicle_masks
from .measures import paired_block, summarize


def _settings(world: World, duration_s, penetration, compliance):
    sc = world.scenario
    return dict(
        duration_s=float(duration_s if duration_s is not None else sc.simulation.duration_s),
        penetration=float(penetration if penetration is not None else sc.advisory.penetration),
        compliance=compliance,
    )


def check_same_network(a: World, b: World) -> None:
    """Two worlds can share arrivals and swap timings only if network and groups match."""
    na, nb = a.network, b.network
    if na.link_ids != nb.link_ids or not np.array_equal(na.link_group, nb.link_group):
        raise ValueError("scenarios differ in network or signal groups; only timings may differ")
    if a.timing.plans.group_keys != b.timing.plans.group_keys:
        raise ValueError("scenarios differ in signal groups; only timings may differ")


GroupRuns = dict[str, dict[str, list[dict]]]
"""Per-seed summaries of each group (and subgroup) by case: ``{group: {case: [summary]}}``."""


def _add_group_summaries(world: World, res: SimResult, case: str, into: GroupRuns) -> None:
    """Append ``res``'s summary of every group and subgroup to ``into[group][case]``."""
    v = res.vehicles
    for name, mask in vehicle_masks(
        world.network, res.extra["entry_links"], v["entry_link"], v.get("turns")
    ).items():
        into.setdefault(name, {}).setdefault(case, []).append(summarize(res, mask))


def _group_blocks(group_runs: GroupRuns, changes: dict[str, tuple[str, str]]) -> dict:
    """``{"groups": ..., "subgroups": ...}``: :func:`~sim.measures.paired_block` of every group
    and subgroup with a counted vehicle in some run (an empty group is left out, not NaN)."""
    blocks = {
        name: paired_block(runs, changes)
        for name, runs in group_runs.items()
        if any(r["vehicles"] for case_runs in runs.values() for r in case_runs)
    }
    return {
        "groups": {n: blocks[n] for n in GROUPS if n in blocks},
        "subgroups": {n: blocks[n] for n in SUBGROUPS if n in blocks},
    }


def run_pair(
    world: World,
    seed: int,
    *,
    duration_s=None,
    penetration=None,
    compliance=None,
    record=False,
    drain_s=None,
    base_timing=None,
) -> tuple[SimResult, SimResult]:
    """Baseline and advisory run of one seed on the same arrivals.

    ``base_timing``: the signal timing of the baseline run (default: the world's); ``record``
    and ``drain_s`` as in :class:`~greenwave.sim.engine.Simulation`.
    """
    kw = _settings(world, duration_s, penetration, compliance)
    arr = draw_arrivals(world.scenario, world.network, seed, kw["duration_s"])
    common = dict(duration_s=kw["duration_s"], arrivals=arr, record=record, drain_s=drain_s)
    base = Simulation(world, seed, advisory=False, timing=base_timing, **common).run()
    adv = Simulation(
        world,
        seed,
        advisory=True,
        penetration=kw["penetration"],
        compliance=compliance,
        **common,
    ).run()
    return base, adv


def run_before_after(
    after: World,
    before: World,
    seed: int,
    *,
    duration_s=None,
    penetration=None,
    compliance=None,
    drain_s=None,
) -> tuple[SimResult, SimResult]:
    """The system comparison of one seed: before timing without advice, after timing with it.

    Both runs use the after scenario's network, demand and drivers on the same arrivals; only
    the signal timing and the advice differ.
    """
    check_same_network(after, before)
    return run_pair(
        after,
        seed,
        duration_s=duration_s,
        penetration=penetration,
        compliance=compliance,
        drain_s=drain_s,
        base_timing=before.timing,
    )


def compare(
    world: World,
    seeds: list[int],
    *,
    duration_s=None,
    penetration=None,
    compliance=None,
    name: str | None = None,
    keep=False,
    record_first=False,
    progress: Callable[[int], None] | None = None,
    drain_s=None,
) -> dict:
    """The ``compare --json`` object for ``seeds`` (see the README for the keys).

    With ``keep=True`` the raw :class:`SimResult` pairs of every seed are returned under
    ``"_runs"`` as ``(seed, baseline, advisory)``; ``record_first`` records trajectories (for
    plots) in the first seed's runs and returns that pair under ``"_runs"`` even without
    ``keep``.  ``progress(n)`` is called after every ``n`` runs.
    """
    kw = _settings(world, duration_s, penetration, compliance)
    base_runs, adv_runs, kept = [], [], []
    group_runs: GroupRuns = {}
    steps, wall = 0, 0.0
    for i, seed in enumerate(seeds):
        b, a = run_pair(
            world,
            seed,
            duration_s=kw["duration_s"],
            penetration=kw["penetration"],
            compliance=compliance,
            record=record_first and i == 0,
            drain_s=drain_s,
        )
        if progress is not None:
            progress(2)
        base_runs.append(summarize(b))
        adv_runs.append(summarize(a))
        _add_group_summaries(world, b, "baseline", group_runs)
        _add_group_summaries(world, a, "advisory", group_runs)
        steps += b.vehicle_steps + a.vehicle_steps
        wall += b.wall_s + a.wall_s
        if keep or (record_first and i == 0):
            kept.append((seed, b, a))
    changes = {"": ("baseline", "advisory")}
    out = {
        "scenario": name or world.scenario.name,
        "seeds": list(seeds),
        "penetration": kw["penetration"],
        "duration_s": kw["duration_s"],
        "drain_s": drain_s,
        **paired_block({"baseline": base_runs, "advisory": adv_runs}, changes),
        "per_seed": {"baseline": base_runs, "advisory": adv_runs},
        "vehicle_steps_per_s": steps / wall if wall > 0 else math.nan,
        **_group_blocks(group_runs, changes),
    }
    if keep or record_first:
        out["_runs"] = kept
    return out


def compare_before_after(
    after: World,
    before: World,
    seeds: list[int],
    *,
    duration_s=None,
    penetration=None,
    compliance=None,
    keep=False,
    record_first=False,
    progress: Callable[[int], None] | None = None,
    drain_s=None,
) -> dict:
    """Before timing without advice vs after timing with advice, and each change alone.

    Cases per seed (same arrivals): ``before`` (before timing, no advice), ``retiming_only``
    (after timing, no advice), ``advice_only`` (before timing, advice), ``after`` (after timing,
    advice).  Changes are against ``before``.  ``keep``, ``record_first`` and ``progress`` as
    in :func:`compare`; ``"_runs"`` holds ``(seed, {case: SimResult})``.
    """
    check_same_network(after, before)
    kw = _settings(after, duration_s, penetration, compliance)
    cases = {
        "before": (before.timing, False),
        "retiming_only": (after.timing, False),
        "advice_only": (before.timing, True),
        "after": (after.timing, True),
    }
    runs: dict[str, list[dict]] = {k: [] for k in cases}
    group_runs: GroupRuns = {}
    kept = []
    for i, seed in enumerate(seeds):
        arr = draw_arrivals(after.scenario, after.network, seed, kw["duration_s"])
        record = record_first and i == 0
        results = {}
        for k, (timing, adv) in cases.items():
            res = Simulation(
                after,
                seed,
                advisory=adv,
                penetration=kw["penetration"],
                compliance=compliance,
                duration_s=kw["duration_s"],
                arrivals=arr,
                timing=timing,
                record=record,
                drain_s=drain_s,
            ).run()
            if progress is not None:
                progress(1)
            runs[k].append(summarize(res))
            _add_group_summaries(after, res, k, group_runs)
            results[k] = res
        if keep or record:
            kept.append((seed, results))
    out = {
        "scenario": after.scenario.name,
        "before_scenario": before.scenario.name,
        "seeds": list(seeds),
        "penetration": kw["penetration"],
        "duration_s": kw["duration_s"],
        "drain_s": drain_s,
    }
    changes = {f"_{k}": ("before", k) for k in ("retiming_only", "advice_only", "after")}
    out.update(paired_block(runs, changes))
    out["per_seed"] = runs
    out.update(_group_blocks(group_runs, changes))
    if keep or record_first:
        out["_runs"] = kept
    return out


def vehicles_table(res: SimResult, world: World) -> dict[str, np.ndarray]:
    """Per-vehicle columns for CSV export (SI units, link ids as text)."""
    v = dict(res.vehicles)
    v["entry_link"] = np.array([world.network.link_ids[i] for i in v["entry_link"]])
    return v
