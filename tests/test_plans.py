"""Approach plans (greenwave.plans) checked against a fine-step integration of the motion they
describe: every plan arrives inside its window at the stated speed, never above the speed it
may reach, and changes speed only at the comfortable rates."""

import numpy as np
import pytest

from greenwave import plans as P

A, B, ECO_B = 1.5, 1.5, 1.0
VMIN, VMAX = 5.0, 13.9


def drive(dist, v0, plan, dt=0.01, horizon=700.0):
    """Integrate every plan at once (fine steps, exact rate limits).  Returns per vehicle the
    arrival time (inf: came to rest first), the speed at the line (or, at rest, the distance
    left), the highest speed and the lowest and highest acceleration."""
    n = dist.size
    kind, hold, cross = plan.kind, plan.hold_ms, plan.cross_ms
    x, v = np.zeros(n), v0.astype(float).copy()
    t_arr, v_line = np.full(n, np.inf), np.full(n, np.nan)
    vmax_seen, amin, amax = v.copy(), np.zeros(n), np.zeros(n)
    live = np.ones(n, dtype=bool)
    eco = kind == P.ECO
    for step in range(int(horizon / dt)):
        left = dist - x
        resume = (kind == P.SLOW) & (left <= plan.resume_dist_m + 1e-9)
        target = np.where(resume, cross, hold)
        acc = np.clip((target - v) / dt, -B, A)
        lifting = eco & (left <= np.nan_to_num(plan.lift_dist_m) + 1e-9)
        acc = np.where(eco, np.where(lifting, -ECO_B, 0.0), acc)
        v_new = np.maximum(v + acc * dt, 0.0)
        a_real = (v_new - v) / dt
        x_new = x + 0.5 * (v + v_new) * dt
        amin = np.where(live, np.minimum(amin, a_real), amin)
        amax = np.where(live, np.maximum(amax, a_real), amax)
        vmax_seen = np.where(live, np.maximum(vmax_seen, v_new), vmax_seen)
        arrived = live & (x_new >= dist)
        if arrived.any():
            # Linear interpolation inside the step.
            f = (dist[arrived] - x[arrived]) / np.maximum(x_new[arrived] - x[arrived], 1e-12)
            t_arr[arrived] = (step + f) * dt
            v_line[arrived] = v[arrived] + f * (v_new[arrived] - v[arrived])
        rest = live & ~arrived & (v_new <= 0.0) & eco & lifting
        v_line[rest] = dist[rest] - x_new[rest]
        live &= ~(arrived | rest)
        x, v = x_new, v_new
        if not live.any():
            break
    return t_arr, v_line, vmax_seen, amin, amax


@pytest.mark.slow
def test_plans_arrive_as_stated():
    rng = np.random.default_rng(7)
    n = 3000
    dist = rng.uniform(20.0, 600.0, n)
    v0 = rng.uniform(0.0, 16.0, n)
    vc = rng.uniform(6.0, 13.9, n)
    start = rng.uniform(-30.0, 120.0, n)
    length = rng.uniform(5.0, 60.0, n)
    queue = rng.choice([0.0, 7.0, 35.0], n)
    ws = np.stack([start, start + 100.0], axis=1)
    we = ws + length[:, None]
    plan = P.approach_plans(
        dist,
        v0,
        vc,
        ws,
        we,
        0.0,
        accel_ms2=A,
        decel_ms2=B,
        v_min_ms=VMIN,
        v_max_ms=VMAX,
        eco_decel_ms2=ECO_B,
        queue_m=queue,
    )
    assert np.isin(plan.kind, [P.CRUISE, P.SLOW, P.FAST, P.ECO]).all()
    for k in (P.CRUISE, P.SLOW, P.FAST, P.ECO):
        assert (plan.kind == k).sum() > 50, k  # every kind is exercised
    t_arr, v_line, vmax_seen, amin, amax = drive(dist, v0, plan)
    go = plan.kind != P.ECO
    assert (amax <= A + 1e-6).all() and (amin[go] >= -B - 1e-6).all()
    assert (vmax_seen[go] <= np.maximum.reduce([v0, np.full(n, VMAX), vc])[go] + 1e-6).all()
    s, e = plan.window_start_s[go], plan.window_end_s[go]
    ta = t_arr[go]
    assert (ta >= s - P.ON_TIME_TOL_S - 0.05).all() and (ta <= e + 0.05).all()
    assert np.abs(ta - plan.arrival_in_s[go]).max() < 0.1
    assert np.abs(v_line[go] - plan.cross_ms[go]).max() < 0.05
    paced = (plan.kind == P.SLOW) & (plan.resume_dist_m > 0)
    assert np.abs(v_line[paced] - vc[paced]).max() < 0.05  # crosses at cruise speed
    assert (plan.hold_ms[paced] >= VMIN - 1e-9).all()
    # The eco-approach: where the lift-off point is still ahead, a gentle deceleration
    # (never harder than eco_decel) comes to rest at the queue's tail, before the line.
    eco = (plan.kind == P.ECO) & (plan.lift_dist_m <= dist) & (v0 > 1.0)
    assert eco.sum() > 20
    assert (amin[eco] >= -ECO_B - 1e-6).all()
    rest = eco & np.isinf(t_arr)
    assert np.abs(v_line[rest] - plan.stop_dist_m[rest]).max() < 0.2
    # (a stop exactly at the line may touch it at walking pace in the discrete integration)
    assert (v_line[eco & ~rest] < 0.6).all() and (plan.stop_dist_m[eco & ~rest] == 0).all()


def test_kinds_on_a_simple_approach():
    # 300 m at 12 m/s (25 s at cruise); windows chosen to give each kind.
    d, v0, vc = np.full(4, 300.0), np.full(4, 12.0), np.full(4, 12.0)
    ws = np.array([[10.0], [40.0], [-10.0], [200.0]])
    we = np.array([[40.0], [70.0], [22.0], [230.0]])
    p = P.approach_plans(
        d,
        v0,
        vc,
        ws,
        we,
        0.0,
        accel_ms2=A,
        decel_ms2=B,
        v_min_ms=VMIN,
        v_max_ms=VMAX,
        eco_decel_ms2=ECO_B,
    )
    assert p.kind.tolist() == [P.CRUISE, P.SLOW, P.FAST, P.ECO]
    assert p.hold_ms[1] < vc[1] and p.resume_dist_m[1] > 0  # slow down, speed up again
    assert abs(p.arrival_in_s[1] - 40.0) < 1e-6 and p.cross_ms[1] == vc[1]
    assert p.hold_ms[2] > vc[2]  # speed up (up to v_max) to catch the green
    assert p.lift_dist_m[3] == 0.0 + 12.0**2 / (2 * ECO_B)


def test_later_window_when_the_first_is_missed():
    # Green now but ending before even v_max arrives: the next window is targeted.
    p = P.approach_plans(
        np.array([400.0]),
        np.array([12.0]),
        np.array([12.0]),
        np.array([[-20.0, 60.0]]),
        np.array([[5.0, 100.0]]),
        0.0,
        accel_ms2=A,
        decel_ms2=B,
        v_min_ms=VMIN,
        v_max_ms=VMAX,
        eco_decel_ms2=ECO_B,
    )
    assert p.kind[0] == P.SLOW and p.window_start_s[0] == 60.0


def test_no_signal_and_empty_batch():
    p = P.approach_plans(
        np.array([np.nan, 0.5]),
        np.array([10.0, 10.0]),
        np.array([12.0, 12.0]),
        np.array([[0.0], [0.0]]),
        np.array([[10.0], [10.0]]),
        0.0,
        accel_ms2=A,
        decel_ms2=B,
        v_min_ms=VMIN,
        v_max_ms=VMAX,
        eco_decel_ms2=ECO_B,
    )
    assert p.kind.tolist() == [P.NONE, P.NONE]
    e = P.approach_plans(
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros((0, 2)),
        np.zeros((0, 2)),
        0.0,
        accel_ms2=A,
        decel_ms2=B,
        v_min_ms=VMIN,
        v_max_ms=VMAX,
        eco_decel_ms2=ECO_B,
    )
    assert e.kind.shape == (0,)


def test_queued_ahead_counts_only_vehicles_in_front():
    from greenwave.sim.driver import queued_ahead

    # Two lanes (0, 1) and a vehicle with no lane (-1); positions grow towards the line.
    key = np.array([0, 0, 0, 0, 1, 1, -1])
    pos = np.array([100.0, 95.0, 50.0, 90.0, 10.0, 20.0, 5.0])
    v = np.array([0.0, 0.5, 12.0, 0.2, 0.0, 0.0, 0.0])
    assert queued_ahead(key, pos, v).tolist() == [0, 1, 3, 2, 1, 0, 0]
    # A caller's own order (lanes in any order, front first within a lane; the vehicle with
    # no lane left out) gives the same counts.
    given = np.array([5, 4, 0, 1, 3, 2])
    assert queued_ahead(key, pos, v, order=given).tolist() == [0, 1, 3, 2, 1, 0, 0]


def test_simulator_counts_the_queue_ahead_as_the_sort_from_scratch_does(arterial):
    from greenwave.sim.driver import queued_ahead
    from greenwave.sim.engine import Simulation

    sim = Simulation(arterial, seed=2, advisory=False, duration_s=240.0, warmup_s=0.0)
    seen = []
    step = sim._step

    def check(t):
        step(t)
        n = sim.hw
        sel = np.flatnonzero(sim.alive[:n])
        key = np.where(sim.alive[:n], sim.link[:n] * sim.max_lanes + sim.lane[:n], -1)
        offs = sim.pos[:n] - sim.link_start[:n]
        fresh = queued_ahead(key, offs, sim.v[:n])[sel]
        got = sim._queued_ahead(n, sel)
        assert got.tolist() == fresh.tolist()
        seen.append(int(got.max(initial=0)))

    sim._step = check
    sim.run()
    assert max(seen) >= 3  # queues formed: the counts were not all zero


def test_driver_reacts_only_to_a_new_manoeuvre():
    from greenwave.sim.driver import reaction_times

    old = np.array([8.0 * 100.0 + P.SLOW, np.nan, 8.0 * 100.0 + P.SLOW])
    new = np.array([8.0 * 100.0 + P.SLOW, 8.0 * 100.0 + P.SLOW, 8.0 * 190.0 + P.SLOW])
    assert reaction_times(old, new, 1.0).tolist() == [0.0, 1.0, 1.0]


def test_no_eco_approach_while_green():
    """An ECO plan commands the deceleration curve before a red, nothing while green."""
    from types import SimpleNamespace

    from greenwave.sim.driver import commands

    kw = dict(accel_ms2=A, decel_ms2=B, v_min_ms=VMIN, v_max_ms=VMAX, eco_decel_ms2=ECO_B)
    d, v = np.array([300.0, 300.0]), np.array([12.0, 12.0])
    ws, we = np.array([[200.0], [200.0]]), np.array([[230.0], [230.0]])
    plan = P.approach_plans(d, v, v, ws, we, 0.0, green_now=np.array([False, True]), **kw)
    assert plan.kind.tolist() == [P.ECO, P.ECO]
    adv = SimpleNamespace(plan=plan, dist_m=d[:, None])
    c = commands(adv, v, v, 0.0, update_s=1.0)
    assert 0.0 < c.now_ms[0] <= 12.0 and np.isnan(c.now_ms[1])


def test_start_margin_shrinks_as_the_green_start_comes_closer(arterial):
    """advisory.plan_start_margin_horizon_s: a plan aims ``plan_start_margin_s`` after the
    green start when that start is at least the horizon ahead, proportionally less closer (0:
    the whole margin always, as before)."""
    from dataclasses import replace

    from greenwave.advice import plan_next

    net, timing = arterial.network, arterial.timing
    base = arterial.scenario.band_params()
    rng = np.random.default_rng(4)
    signalised = np.flatnonzero(net.link_group >= 0)
    link = rng.choice(signalised, 4000)
    offset = rng.uniform(0.0, 1.0, link.size) * net.link_length_m[link]
    dist, group, limit, _ = net.path_ahead(link, offset, 1)
    v0 = rng.uniform(3.0, 14.0, link.size)
    t = arterial.epoch_s + rng.uniform(0.0, 300.0, link.size)
    args = (dist[:, 0], group[:, 0], limit[:, 0], v0, t, timing)
    whole = plan_next(*args, replace(base, plan_start_margin_horizon_s=0.0))
    near = plan_next(*args, replace(base, plan_start_margin_horizon_s=20.0))
    same_window = np.isfinite(whole.window_start_s) & (near.window_start_s == whole.window_start_s)
    moved = np.isfinite(whole.window_start_s) & (near.window_start_s != whole.window_start_s)
    raw = whole.window_start_s - base.plan_start_margin_s  # the green start (no queue given)
    ahead = raw - t
    # Far ahead the plans are the same; closer, the margin is 2 s × (time ahead / 20 s).
    assert (ahead[same_window] >= 20.0 - 1e-9).all() or not same_window.any()
    m = moved & (near.window_start_s - raw >= 0)
    np.testing.assert_allclose(
        near.window_start_s[m] - raw[m], 2.0 * np.clip(ahead[m] / 20.0, 0.0, 1.0), atol=1e-6
    )  # (absolute times near 1.8e9 s: their last bit is 2.4e-7 s)
    assert m.sum() > 100 and same_window.sum() > 100
    # Arrivals move earlier, never later.
    both = np.isfinite(whole.arrival_in_s) & np.isfinite(near.arrival_in_s)
    assert (near.arrival_in_s[both] <= whole.arrival_in_s[both] + 1e-9).all()
