"""The driver policy's release rules (sim/driver.py), shared by greenwave's simulator and the
SUMO controller."""

import numpy as np

from greenwave.sim.driver import (
    FOLLOW_GAP_FACTOR,
    QUEUE_SPEED_MS,
    follows_leader,
    release_queued,
)


def test_a_queued_driver_is_released_until_it_crosses_that_stop_line():
    queued_until = np.array([-1, -1, -1])
    stop_k = np.array([2, 2, 0])
    speed = np.array([0.5, 5.0, 0.2])
    on_approach = np.array([True, True, False])
    # Slow on a signal's approach: released until stop line 2 is crossed (stop_k becomes 3).
    assert release_queued(queued_until, stop_k, speed, on_approach) == 1
    assert queued_until.tolist() == [3, -1, -1]
    # Moving off again does not end the release ...
    speed[0] = 8.0
    assert release_queued(queued_until, stop_k, speed, on_approach) == 0
    assert queued_until[0] == 3
    # ... crossing the line does.
    stop_k[0] = 3
    release_queued(queued_until, stop_k, speed, on_approach)
    assert queued_until[0] == -1
    # Slow but not before a signal (vehicle 2): not released.
    assert queued_until[2] == -1 and speed[2] < QUEUE_SPEED_MS


def test_close_behind_a_slower_leader_the_driver_follows_it():
    v, s0, T, a, b = 10.0, 2.0, 1.0, 1.5, 2.0
    s_star = s0 + v * T  # no approach: leader as fast
    target = np.array([12.0, 12.0, 12.0, 9.0, np.nan])
    leader = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    gap = np.array(
        [FOLLOW_GAP_FACTOR * s_star - 0.1, FOLLOW_GAP_FACTOR * s_star + 0.1, np.inf, 1.0, 1.0]
    )
    got = follows_leader(target, np.full(5, v), leader, gap, s0, T, a, b)
    # Close and slower than the target: follows; far, no leader, leader faster than the target,
    # no target: steers.
    assert got.tolist() == [True, False, False, False, False]


def test_no_hold_while_the_queue_behind_still_discharges():
    """advisory.plan_hold_clear_m: a plan that would hold a driver back for a later green does
    not start within that distance past the stop line behind them while a queue is still
    discharging over it; further on, or with no queue behind, it does."""
    from types import SimpleNamespace

    from greenwave import plans as P
    from greenwave.sim.driver import commands

    n = 4
    d, v = np.full(n, 400.0), np.full(n, 13.0)
    # Green in 60-80 s: too late for 13 m/s (31 s), a slow-down to arrive at its start.
    ws, we = np.full((n, 1), 60.0), np.full((n, 1), 80.0)
    plan = P.approach_plans(
        d, v, v, ws, we, 0.0, accel_ms2=1.5, decel_ms2=1.5, v_min_ms=5.0, v_max_ms=13.9,
        eco_decel_ms2=1.0,
    )  # fmt: skip
    assert (plan.kind == P.SLOW).all()
    adv = SimpleNamespace(plan=plan, dist_m=d[:, None])
    past = np.array([20.0, 99.9, 150.0, np.inf])
    c = commands(adv, v, v, 0.0, past_line_m=past, hold_clear_m=100.0)
    # Within 100 m past the line: drive normally, nothing scheduled, no advice held.
    assert np.isnan(c.now_ms[:2]).all() and np.isnan(c.then_ms[:2]).all()
    assert np.isinf(c.then_t_s[:2]).all() and c.valid_stops[:2].tolist() == [0, 0]
    # Clear of it, or no queue behind: the plan's hold speed, below the current speed.
    np.testing.assert_allclose(c.now_ms[2:], plan.hold_ms[2:])
    assert (c.now_ms[2:] < v[2:]).all() and c.valid_stops[2:].tolist() == [1, 1]
    # 0 m (or no distances given): every driver holds, as before.
    for kw in ({"past_line_m": past, "hold_clear_m": 0.0}, {}):
        np.testing.assert_allclose(commands(adv, v, v, 0.0, **kw).now_ms, plan.hold_ms)


def test_a_queue_discharges_onto_a_link_over_a_green_movement(arterial):
    """past_discharging_line_m: the offset on links that a queued approach feeds over a green
    movement; inf with no queue there, with that movement red, and on entry links."""
    from greenwave.sim.driver import past_discharging_line_m, queued_on_links

    net = arterial.network
    mv = net.movements
    m = int(np.flatnonzero((mv.to_link >= 0) & (mv.group >= 0))[0])
    src, dst, g = int(mv.from_link[m]), int(mv.to_link[m]), int(mv.group[m])
    links = np.arange(net.n_links)
    offset = np.full(links.size, 37.0)
    green = np.zeros(net.link_group.max() + 1, dtype=bool)
    green[g] = True
    # Two vehicles queued on the approach, one moving: one queue.
    queued = queued_on_links(net.n_links, np.array([src, src, src, -1]), [0.0, 0.5, 9.0, 0.0])
    assert queued[src] == 2 and queued.sum() == 2
    got = past_discharging_line_m(net, links, offset, queued, green)
    fed = mv.to_link[(mv.from_link == src) & (mv.group == g)]
    assert dst in fed and (got[fed] == 37.0).all()
    others = np.setdiff1d(links, fed)
    assert np.isinf(got[others]).all()
    # The movement red, or nobody queued: no queue discharges.
    assert np.isinf(past_discharging_line_m(net, links, offset, queued, ~green & False)).all()
    none = np.zeros(net.n_links, dtype=np.int64)
    assert np.isinf(past_discharging_line_m(net, links, offset, none, green)).all()


def test_the_simulator_holds_nobody_back_just_past_a_discharging_queue(monkeypatch):
    """The simulator hands the driver policy each driver's distance past a stop line that a
    queue still discharges over (uncoordinated signals 250 m apart, 800 veh/h): drivers that
    a plan would slow down there drive normally instead; with ``plan_hold_clear_m = 0`` the
    policy gets no distances and plans hold them as before."""
    from simkit import corridor

    import greenwave.sim.engine as engine
    from greenwave import plans as P
    from greenwave.sim.driver import commands

    seen = []

    def spy(adv, *args, **kw):
        out = commands(adv, *args, **kw)
        seen.append((kw.get("past_line_m"), kw.get("hold_clear_m"), adv.plan.kind, out.now_ms))
        return out

    monkeypatch.setattr(engine, "commands", spy)
    for clear in (150.0, 0.0):
        world = corridor(
            n=3, spacing=250.0, offsets=(0.0, 50.0, 10.0), flow=800.0,
            advisory={"band_min_kmh": 18.0, "plan_hold_clear_m": clear},
        )  # fmt: skip
        seen.clear()
        engine.Simulation(world, seed=3, advisory=True, penetration=1.0).run()
        slow = [(p, k == P.SLOW, now) for p, _c, k, now in seen]
        if clear > 0:
            held = np.concatenate([s & (p < clear) for p, s, _ in slow])
            now = np.concatenate([now for _, _, now in slow])
            assert held.sum() > 20 and np.isnan(now[held]).all()
            # Further on the same plans hold drivers back.
            later = np.concatenate([s & ~(p < clear) for p, s, _ in slow])
            assert (~np.isnan(now[later])).sum() > 20
        else:
            assert all(p is None for p, _, _ in slow)
            kinds = np.concatenate([s for _, s, _ in slow])
            assert kinds.sum() > 20
