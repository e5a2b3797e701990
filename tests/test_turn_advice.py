"""Advice for a driver who turns at the next signal (greenwave.advice.advise(turn=...)): the
turning movement's own signal group (a protected left's arrow), a crossing no faster than the
turn speed, and the stop lines after the turn on the street turned into; straight-on advice
unchanged to the bit; a turn the approach does not have refused before advising."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference import windows_scalar
from simkit import corridor, grid

from greenwave.advice import advise
from greenwave.bands import ADVICE, PROCEED
from greenwave.geo import haversine_m
from greenwave.movements import LEFT, RIGHT, THROUGH, TURN_NAMES
from greenwave.network import World
from greenwave.plans import CRUISE, ECO, FAST, NONE, SLOW
from greenwave.scenario import parse_scenario

# A band floor below both turn speeds (left sqrt(5.5 · 15) = 32.7 km/h, right sqrt(5.5 · 8) =
# 23.9 km/h), so that turners have bands to check; plans may speed up to 1.2 × the 50 km/h limit.
ADVISORY = {"band_min_kmh": 20.0, "band_max_kmh": 60.0, "max_speed_factor": 1.2}


@pytest.fixture(scope="module")
def left_phase():
    """A 3 × 3 grid whose crossings run a protected left phase (groups EW, EW_L, NS, NS_L)."""
    return grid(rows=3, cols=3, left_turn_phase=True, advisory=ADVISORY)


def vehicles(world: World, n: int, seed: int):
    """``n`` vehicles on links with a signal ahead: link, offset (m), speed (m/s), time (s),
    and a turn drawn from the movements of the approach they meet next."""
    net = world.network
    rng = np.random.default_rng(seed)
    approach, _ = net.movement_ahead(np.arange(net.n_links), np.full(net.n_links, THROUGH))
    link = rng.choice(np.flatnonzero(approach >= 0), n)
    offset = rng.uniform(0.0, 1.0, n) * net.link_length_m[link]
    speed = rng.uniform(4.0, 16.0, n)
    t = world.epoch_s + rng.uniform(0.0, 400.0, n)
    mvs = net.movements
    turn = np.empty(n, dtype=np.int64)
    for i, a in enumerate(approach[link].tolist()):
        turn[i] = rng.choice(mvs.turn[mvs.of(a)])
    return link, offset, speed, t, turn


def group_plan(world: World, g: int):
    """(cycle, offset, greens) of global signal group ``g``, read from the scenario's plan."""
    iid, gid = world.timing.plans.group_keys[g]
    plan = world.timing.plans.plans[iid]
    grp = next(x for x in plan.groups if x.id == gid)
    return plan.cycle_s, plan.offset_s, [tuple(w) for w in grp.greens_s]


def in_green(world: World, g: int, t: float, end_margin: float = 0.0, tol: float = 0.0) -> bool:
    """``t`` inside a green of group ``g`` (less ``end_margin`` at its end), by the scalar
    reference (tests/reference.py), not the core's timing."""
    cycle, offset, greens = group_plan(world, g)
    return any(
        s - tol <= t <= e - end_margin + tol
        for s, e in windows_scalar(cycle, offset, greens, t - 2 * cycle, t + 2 * cycle)
    )


def assert_same_advice(x, y, rows=slice(None)):
    """Every array of two Advice objects equal (NaN equal to NaN), on ``rows``."""
    for name in ("dist_m", "group", "limit_ms", "stop_link"):
        np.testing.assert_array_equal(getattr(x, name)[rows], getattr(y, name)[rows], name)
    for name, a in x.bands.__dict__.items():
        np.testing.assert_array_equal(a[rows], getattr(y.bands, name)[rows], name)
    for name, a in x.plan.__dict__.items():
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a[rows], getattr(y.plan, name)[rows], name)


# --------------------------------------------------------------------------- the lookup
def test_movement_lookup_agrees_with_a_scan_of_the_csr_rows(left_phase):
    net = left_phase.network
    mvs = net.movements
    links = np.repeat(np.arange(-1, net.n_links), 3)
    turns = np.tile([LEFT, THROUGH, RIGHT], net.n_links + 1)
    found = mvs.find(links, turns)
    for a, t, row in zip(links.tolist(), turns.tolist(), found.tolist(), strict=True):
        rows = [] if a < 0 else [r for r in range(mvs.first[a], mvs.first[a + 1])]
        want = [r for r in rows if mvs.turn[r] == t]
        assert row == (want[0] if want else -1), (a, t)
    assert (found >= 0).sum() == mvs.size  # every movement found once


# --------------------------------------------------------------------------- straight on
def test_straight_on_is_unchanged_to_the_bit(left_phase):
    net, timing = left_phase.network, left_phase.timing
    params = left_phase.scenario.band_params()
    link, off, v, t, turn = vehicles(left_phase, 600, seed=1)
    base = advise(net, timing, params, link, off, v, t, 3)
    for through in (None, np.full(link.size, THROUGH)):
        same = advise(net, timing, params, link, off, v, t, 3, turn=through)
        assert_same_advice(base, same)
        assert (same.movement == -1).all()
    # In a batch of turners, the rows going straight on are those of the straight-on call.
    mixed = advise(net, timing, params, link, off, v, t, 3, turn=turn)
    assert_same_advice(base, mixed, turn == THROUGH)
    assert (mixed.movement[turn == THROUGH] == -1).all()
    assert (turn != THROUGH).sum() > 300


def test_through_where_the_approach_has_no_through_movement_is_todays_advice():
    """The stem of a T-junction has no through movement: a driver who says "through" (the
    default) gets the advice of before, ending at that stop line."""
    world = t_junction()
    net = world.network
    s_in = net.link_index["s_in"]
    approach, mv = net.movement_ahead(np.array([s_in]), np.array([THROUGH]))
    assert approach[0] == s_in and mv[0] == -1
    args = (net, world.timing, world.scenario.band_params(), [s_in], [50.0], [10.0], 0.0, 2)
    assert_same_advice(advise(*args), advise(*args, turn=np.array([THROUGH])))


# --------------------------------------------------------------------------- turning
def test_turners_are_advised_on_their_movements_group(left_phase):
    """A left turner's band arrives in the green of the left arrow (EW_L / NS_L), checked at
    the arrival time of speeds inside the band against the scenario's plan; its signal group
    is not the approach's."""
    net, timing = left_phase.network, left_phase.timing
    params = left_phase.scenario.band_params()
    link, off, v, t, turn = vehicles(left_phase, 800, seed=2)
    adv = advise(net, timing, params, link, off, v, t, 3, turn=turn)
    mvs = net.movements
    turning = turn != THROUGH
    approach = adv.stop_link[:, 0]
    assert (adv.movement[turning] == mvs.find(approach[turning], turn[turning])).all()
    assert (adv.group[turning, 0] == mvs.group[adv.movement[turning]]).all()
    names = [timing.plans.group_keys[g][1] for g in adv.group[turn == LEFT, 0]]
    assert set(names) == {"EW_L", "NS_L"}
    assert (adv.group[turn == RIGHT, 0] == net.link_group[approach[turn == RIGHT]]).all()

    # Drive band speeds (the ends and one inside) at fine steps, braking into the turn (those
    # who can: slowing to the turn speed at decel_ms2 from here fits before the line).
    rng = np.random.default_rng(5)
    v_t = net.movements.turn_speed_ms[np.maximum(adv.movement, 0)]
    can_slow = v**2 - 2.0 * params.decel_ms2 * adv.dist_m[:, 0] <= v_t**2
    rows = np.flatnonzero((turn == LEFT) & adv.bands.feasible[:, 0] & can_slow)
    lo, hi = adv.bands.lo_ms[rows, 0], adv.bands.hi_ms[rows, 0]
    rows = np.tile(rows, 3)
    speed = np.concatenate([lo, hi, rng.uniform(lo, hi)])
    v_turn = net.movements.turn_speed_ms[adv.movement[rows]]
    t_arr, v_line = drive_band(
        adv.dist_m[rows, 0], v[rows], speed, v_turn, params.accel_ms2, params.decel_ms2
    )
    assert (v_line <= v_turn + params.decel_ms2 * 0.01 + 1e-9).all()
    checked = through_red = 0
    for i, ta in zip(rows.tolist(), (t[rows] + t_arr).tolist(), strict=True):
        g = int(adv.group[i, 0])
        # (tol: the drive's 0.01 s steps; the closed forms are checked in test_bands.py)
        assert in_green(left_phase, g, ta, params.safety_margin_s, tol=0.02), (i, ta)
        through_red += not in_green(left_phase, int(net.link_group[approach[i]]), ta)
        checked += 1
    assert checked > 60
    # Most arrivals on the arrow are during the through red: the through group's windows
    # would have been the wrong ones.
    assert through_red > 0.8 * checked


def test_no_plan_crosses_a_turn_too_fast_and_bands_leave_room_to_brake(left_phase):
    net, timing = left_phase.network, left_phase.timing
    params = left_phase.scenario.band_params()
    assert params.max_speed_factor > 1.0
    link, off, v, t, turn = vehicles(left_phase, 800, seed=3)
    adv = advise(net, timing, params, link, off, v, t, 3, turn=turn, cruise_ms=np.full(800, 16.0))
    turning = turn != THROUGH
    v_turn = net.movements.turn_speed_ms[adv.movement[turning]]
    eps = 1e-9
    assert (adv.limit_ms[turning, 0] <= v_turn + eps).all()
    b, p = adv.bands, adv.plan
    # A band speed may be above the turn speed when speeding up to it (from v0, at a) and
    # braking from it to the turn speed (at b) fit before the line.
    a_, b_ = params.accel_ms2, params.decel_ms2
    d0, v0 = adv.dist_m[turning, 0], v[turning]
    room = (2 * a_ * b_ * d0 + b_ * v0**2 + a_ * v_turn**2) / (a_ + b_)
    with np.errstate(invalid="ignore"):
        hi = b.hi_ms[turning, 0]
        assert not (hi > np.maximum(np.sqrt(room), v_turn) + eps).any()
        assert (hi > v_turn + 0.5).any()
        for speed in (p.cap_ms, p.cross_ms):
            assert not (speed[turning] > v_turn + eps).any()
        # (An eco-approach's hold speed is the current one: keep going, then slow to a stop.)
        goes = np.isin(p.kind[turning], (CRUISE, SLOW, FAST))
        assert not (p.hold_ms[turning][goes] > v_turn[goes] + eps).any()
    # No plan only where even a comfortable slow-down from here crosses the turn too fast.
    d0, v0 = adv.dist_m[turning, 0], v[turning]
    too_fast = v0**2 - 2.0 * params.decel_ms2 * d0 > v_turn**2
    assert ((p.kind[turning] == NONE) == (too_fast | (d0 <= 1.0))).all() and too_fast.any()
    # Straight on, the plans' speed-up allowance goes above the limit: the cap is the turn's.
    assert (p.cap_ms[~turning] > net.link_speed_limit_ms[link[~turning]] * 1.1).any()
    kinds = set(p.kind[turning].tolist())
    assert {CRUISE, ECO} <= kinds and (b.status[turning, 0] == ADVICE).any()


def test_stop_lines_after_a_turn_are_on_the_street_turned_into(left_phase):
    """After the turn, the path goes straight on from the movement's target link: checked
    with a scalar walk over ``next`` and against the intersections' positions."""
    net = left_phase.network
    link, off, _, _, turn = vehicles(left_phase, 400, seed=4)
    dist, group, limit, stop = net.path_ahead(link, off, 3, turn)
    mvs = net.movements
    seen_exit = seen_two = 0
    for i in np.flatnonzero(turn != THROUGH).tolist():
        a = int(stop[i, 0])
        mv = int(mvs.find([a], [turn[i]])[0])
        # Scalar walk: from the target's start, straight on to the next signalised stop lines.
        cur, run, want = int(mvs.to_link[mv]), 0.0, []
        while cur >= 0 and len(want) < 2:
            run += float(net.link_length_m[cur])
            if net.link_group[cur] >= 0:
                want.append((cur, run))
            cur = int(net.link_next[cur])
        for j in (1, 2):
            if j <= len(want):
                assert stop[i, j] == want[j - 1][0]
                assert dist[i, j] - dist[i, 0] == pytest.approx(want[j - 1][1], abs=1e-6)
                assert group[i, j] == net.link_group[want[j - 1][0]]
                assert limit[i, j] == pytest.approx(net.link_speed_limit_ms[want[j - 1][0]])
            else:
                assert stop[i, j] == -1 and group[i, j] == -1 and np.isnan(dist[i, j])
        if want:
            # The next stop line is where the street turned into meets the next crossing: as
            # far from the turn's crossing as the path says, in the target link's direction.
            p0 = net.intersection_lonlat[net.link_intersection[a]]
            p1 = net.intersection_lonlat[net.link_intersection[stop[i, 1]]]
            assert haversine_m(*p0, *p1) == pytest.approx(dist[i, 1] - dist[i, 0], rel=1e-3)
            xy = net.link_xy[mvs.to_link[mv]]
            heading = xy[-1] - xy[0]
            d0 = np.asarray(net.projection.to_xy(*p0))
            d1 = np.asarray(net.projection.to_xy(*p1))
            cos = np.dot(heading, d1 - d0) / np.linalg.norm(heading) / np.linalg.norm(d1 - d0)
            assert cos > 0.999
            seen_two += 1
        else:
            seen_exit += 1
    assert seen_two > 50 and seen_exit > 20


def test_turning_onto_an_exit_leaves_no_stop_lines_after_it(left_phase):
    net = left_phase.network
    # Eastbound on the southern street, turning right (south) onto an exit link.
    a = net.link_index["row0_f0"]
    dist, group, _, stop = net.path_ahead([a], [10.0], 3, [RIGHT])
    assert net.link_next[net.movements.to_link[net.movements.find([a], [RIGHT])[0]]] == -1
    assert dist[0, 0] == pytest.approx(net.link_length_m[a] - 10.0)
    assert np.isnan(dist[0, 1:]).all() and (group[0, 1:] == -1).all() and (stop[0, 1:] == -1).all()


# --------------------------------------------------------------------------- drive through
def drive_plans(dist, v0, plan, accel, decel, eco_decel, dt=0.05, horizon=300.0):
    """Integrate every plan at ``dt`` with the rates the advice assumes (independent of
    greenwave.plans' closed forms).  Returns the arrival time (inf: came to rest or still
    driving at the horizon), the speed at the line and the highest speed driven."""
    n = dist.size
    x, v = np.zeros(n), v0.astype(float).copy()
    t_arr, v_line, v_top = np.full(n, np.inf), np.full(n, np.nan), v.copy()
    live = np.ones(n, dtype=bool)
    eco = plan.kind == ECO
    for step in range(int(horizon / dt)):
        left = dist - x
        resume = (plan.kind == SLOW) & (left <= plan.resume_dist_m + 1e-9)
        target = np.where(resume, plan.cross_ms, plan.hold_ms)
        acc = np.clip((target - v) / dt, -decel, accel)
        lifting = eco & (left <= np.nan_to_num(plan.lift_dist_m) + 1e-9)
        acc = np.where(eco, np.where(lifting, -eco_decel, 0.0), acc)
        v_new = np.maximum(v + acc * dt, 0.0)
        x_new = x + 0.5 * (v + v_new) * dt
        v_top = np.where(live, np.maximum(v_top, v_new), v_top)
        arrived = live & (x_new >= dist)
        f = (dist - x) / np.maximum(x_new - x, 1e-12)
        t_arr = np.where(arrived, (step + f) * dt, t_arr)
        v_line = np.where(arrived, v + f * (v_new - v), v_line)
        live &= ~arrived & ~(eco & (v_new <= 0.0))
        x, v = x_new, v_new
        if not live.any():
            break
    return t_arr, v_line, v_top


def test_driven_plans_reach_the_turn_in_its_green_at_the_turn_speed(left_phase):
    """Drive every turner's plan at 0.05 s steps: those that go (cruise, slow down, speed up)
    cross the stop line inside a green of their movement's group, no faster than the turn
    speed, and never drive above the plan's cap."""
    net, timing = left_phase.network, left_phase.timing
    params = left_phase.scenario.band_params()
    link, off, v, t, turn = vehicles(left_phase, 1200, seed=6)
    sel = turn != THROUGH
    link, off, v, t, turn = link[sel], off[sel], v[sel], t[sel], turn[sel]
    adv = advise(net, timing, params, link, off, v, t, 3, turn=turn)
    p = adv.plan
    go = np.isin(p.kind, (CRUISE, SLOW, FAST)) & (adv.dist_m[:, 0] > 20.0)
    t_arr, v_line, v_top = drive_plans(
        adv.dist_m[go, 0], v[go], _rows(p, go), params.accel_ms2, params.decel_ms2, p.eco_decel_ms2
    )
    assert np.isfinite(t_arr).all()
    v_turn = net.movements.turn_speed_ms[adv.movement[go]]
    assert (v_line <= v_turn + 0.01).all()
    assert (v_top <= np.maximum(v[go], p.cap_ms[go]) + 1e-9).all()
    groups = adv.group[go, 0]
    for g, t0, ta in zip(groups.tolist(), t[go].tolist(), t_arr.tolist(), strict=True):
        assert in_green(left_phase, g, t0 + ta, tol=0.05), (g, t0, ta)
    assert go.sum() > 100 and {CRUISE, SLOW} <= set(p.kind[go].tolist())
    assert set(p.kind.tolist()) <= {NONE, CRUISE, SLOW, FAST, ECO}


def drive_band(dist, v0, hold, v_turn, accel, decel, dt=0.01, horizon=300.0):
    """Drive to the line at fine steps: change to the band speed ``hold`` at ``accel`` /
    ``decel``, hold it, and brake at ``decel`` to ``v_turn`` as late as that still reaches it
    by the line (independent of greenwave's closed forms).  Returns the arrival time and the
    speed at the line."""
    n = dist.size
    x, v = np.zeros(n), v0.astype(float).copy()
    t_arr, v_line = np.full(n, np.inf), np.full(n, np.nan)
    live = np.ones(n, dtype=bool)
    for step in range(int(horizon / dt)):
        left = dist - x
        v_next = np.minimum(v + accel * dt, np.maximum(v, hold))
        # Brake now if one more step at this speed would leave too little room for the turn.
        brake = (v > v_turn) & (left - v_next * dt <= (v_next**2 - v_turn**2) / (2 * decel))
        target = np.where(brake, v_turn, hold)
        acc = np.clip((target - v) / dt, -decel, accel)
        v_new = np.maximum(v + acc * dt, 0.0)
        x_new = x + 0.5 * (v + v_new) * dt
        arrived = live & (x_new >= dist)
        f = (dist - x) / np.maximum(x_new - x, 1e-12)
        t_arr = np.where(arrived, (step + f) * dt, t_arr)
        v_line = np.where(arrived, v + f * (v_new - v), v_line)
        live &= ~arrived
        x, v = x_new, v_new
        if not live.any():
            break
    return t_arr, v_line


def test_app_band_turners_get_bands_that_brake_into_the_turn():
    """With the app's 35-50 km/h band, above both turn speeds (32.7 and 23.9 km/h), a turner
    whose green is reachable is told a band to hold, and holding any of it then braking into
    the turn reaches the line inside its movement's green at the turn speed (a band capped at
    the turn speed told every turner "prepare to stop")."""
    world = grid(
        rows=3, cols=3, left_turn_phase=True, advisory={"band_min_kmh": 35.0, "band_max_kmh": 50.0}
    )
    net, timing = world.network, world.timing
    params = world.scenario.band_params()
    link, off, v, t, turn = vehicles(world, 1500, seed=9)
    sel = (turn != THROUGH) & (v > 8.0)
    link, off, v, t, turn = link[sel], off[sel], v[sel], t[sel], turn[sel]
    adv = advise(net, timing, params, link, off, v, t, 3, turn=turn)
    v_turn = net.movements.turn_speed_ms[adv.movement]
    assert (v_turn < params.band_min_ms).all()
    can_slow = v**2 - 2.0 * params.decel_ms2 * adv.dist_m[:, 0] <= v_turn**2
    ok = adv.bands.feasible[:, 0] & can_slow
    assert ok.sum() > 50 and (turn[ok] == LEFT).any() and (turn[ok] == RIGHT).any()
    assert set(adv.bands.status[ok, 0].tolist()) == {ADVICE, PROCEED}
    rows = np.flatnonzero(ok)
    lo, hi = adv.bands.lo_ms[rows, 0], adv.bands.hi_ms[rows, 0]
    rows = np.tile(rows, 3)
    speed = np.concatenate([lo, hi, 0.5 * (lo + hi)])
    t_arr, v_line = drive_band(
        adv.dist_m[rows, 0], v[rows], speed, v_turn[rows], params.accel_ms2, params.decel_ms2
    )
    assert (v_line <= v_turn[rows] + params.decel_ms2 * 0.01 + 1e-9).all()
    for i, ta in zip(rows.tolist(), (t[rows] + t_arr).tolist(), strict=True):
        assert in_green(world, int(adv.group[i, 0]), ta, params.safety_margin_s, tol=0.02), i


def _rows(plan, mask):
    """The plans of the vehicles in ``mask`` (a Plans of the selected rows)."""
    fields = {k: (a[mask] if isinstance(a, np.ndarray) else a) for k, a in plan.__dict__.items()}
    return type(plan)(**fields)


# --------------------------------------------------------------------------- refused turns
def t_junction() -> World:
    """One signalised T-junction 'x': a west–east street and a stem from the south; the stem's
    approach 's_in' turns left or right only, the others have no turn across the missing arm."""
    from greenwave.geo import LocalProjection

    proj = LocalProjection(118.0, 36.8)

    def pt(e, n):
        lon, lat = proj.to_lonlat(e, n)
        return [float(lon), float(lat)]

    plan = {
        "cycle_s": 90.0,
        "groups": [
            {"id": "EW", "greens_s": [[0.0, 40.0]], "conflicts": ["NS"]},
            {"id": "NS", "greens_s": [[50.0, 85.0]]},
        ],
    }
    arms = {"w": (-200.0, 0.0), "e": (200.0, 0.0), "s": (0.0, -200.0)}
    links = []
    for arm, (e, n) in arms.items():
        inbound = {
            "id": f"{arm}_in",
            "to": "x",
            "signal_group": "NS" if arm == "s" else "EW",
            "polyline": [pt(e, n), pt(0.0, 0.0)],
            "speed_limit_kmh": 50.0,
        }
        if arm != "s":
            inbound["next"] = "e_out" if arm == "w" else "w_out"
        links.append(inbound)
        links.append(
            {"id": f"{arm}_out", "polyline": [pt(0.0, 0.0), pt(e, n)], "speed_limit_kmh": 50.0}
        )
    lon, lat = pt(0.0, 0.0)
    return World.build(
        parse_scenario(
            {
                "name": "t",
                "intersections": [{"id": "x", "lon": lon, "lat": lat, "plan": plan}],
                "links": links,
            }
        )
    )


def test_a_turn_the_approach_does_not_have_is_refused_before_advising():
    world = t_junction()
    net = world.network
    w_in = net.link_index["w_in"]
    approach, mv = net.movement_ahead(
        np.array([w_in, w_in, w_in]), np.array([LEFT, THROUGH, RIGHT])
    )
    assert (approach == w_in).all() and mv[0] == -1 and (mv[1:] >= 0).all()
    params = world.scenario.band_params()
    for call in (
        lambda: net.path_ahead([w_in], [20.0], 2, [LEFT]),
        lambda: advise(net, world.timing, params, [w_in], [20.0], [10.0], 0.0, 2, turn=[LEFT]),
    ):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        assert msg.startswith("turn:") and "left" in msg and "'x'" in msg and "'w_in'" in msg
        assert "through onto 'e_out'" in msg and "right onto 's_out'" in msg


def test_a_turn_with_no_signal_ahead_is_no_error(left_phase):
    """On an exit link there is no next signal to turn at: the advice is that of straight on
    (no signal ahead)."""
    net = left_phase.network
    exit_link = int(np.flatnonzero(net.link_next < 0)[0])
    approach, mv = net.movement_ahead([exit_link], [LEFT])
    assert approach[0] == -1 and mv[0] == -1
    args = (net, left_phase.timing, left_phase.scenario.band_params(), [exit_link], [5.0], [9.0])
    a = advise(*args, 0.0, 3, turn=[LEFT])
    assert_same_advice(a, advise(*args, 0.0, 3))
    assert a.movement[0] == -1


def test_through_only_corridor_refuses_turns_and_names_what_exists():
    world = corridor(n=2)
    net = world.network
    f0 = net.link_index["c_f0"]
    for t in (LEFT, RIGHT):
        with pytest.raises(ValueError, match=rf"turns {TURN_NAMES[t]} at intersection 'i0'"):
            net.path_ahead([f0], [1.0], 2, [t])
    assert "it has: through onto 'c_f1'" in _error(lambda: net.path_ahead([f0], [1.0], 1, [LEFT]))
    assert math.isfinite(net.path_ahead([f0], [1.0], 2, [THROUGH])[0][0, 1])


def _error(fn) -> str:
    with pytest.raises(ValueError) as err:
        fn()
    return str(err.value)


def test_status_proceed_for_a_turner_driving_a_band_speed(left_phase):
    """A turner already inside its movement's band is told to proceed, like anyone else."""
    net, timing = left_phase.network, left_phase.timing
    params = left_phase.scenario.band_params()
    link, off, v, t, turn = vehicles(left_phase, 800, seed=8)
    adv = advise(net, timing, params, link, off, v, t, 3, turn=turn)
    ok = (turn != THROUGH) & adv.bands.feasible[:, 0]
    inside = ok & (adv.bands.lo_ms[:, 0] <= v) & (v <= adv.bands.hi_ms[:, 0])
    assert inside.any()
    assert (adv.bands.status[inside, 0] == PROCEED).all()
