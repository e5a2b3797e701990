"""The compiled tick (sim/fastpath.py) against the numpy tick it replaces: same motion bit for
bit on scenarios that exercise every branch (IDM and Krauss with dawdling, turning and permitted
lefts, lane changes, merges, advice plans), and its one-vehicle model forms against the
vectorised ones in sim.carfollow and sim.fuel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.sim import carfollow, engine, fuel
from greenwave.sim.engine import Simulation

fp = pytest.importorskip("greenwave.sim.fastpath")
pytest.importorskip("numba")

STATE = (
    "alive", "pos", "v", "lane", "link_k", "stop_k", "stops", "stopped_time", "target",
    "queued_until", "committed", "in_stop", "lc_count", "gap_prev", "vl_prev",
)  # fmt: skip
COUNTERS = (
    "vehicle_steps", "red_violations", "cleared_on_red", "left_yields", "turn_crossings",
    "turn_overspeed", "lane_changes", "collisions", "min_gap",
)  # fmt: skip


@pytest.fixture(scope="module")
def arterial(root):
    return load_scenario(root / "scenarios" / "zibo_arterial.toml")


def krauss(sc, sigma=0.5):
    drivers = sc.drivers.model_copy(update={"car_following": "krauss", "sigma": sigma})
    sim = sc.simulation.model_copy(update={"fuel_model": "hbefa3", "dt_s": 1.0})
    return sc.model_copy(update={"drivers": drivers, "simulation": sim})


def run_both(world, **kw):
    kw = {"seed": 3, "advisory": True, "penetration": 0.5, "warmup_s": 0.0} | kw
    ref = Simulation(world, kernel="numpy", **kw)
    fast = Simulation(world, kernel="numba", **kw)
    return ref, ref.run(), fast, fast.run()


def by_vslot(sim, name):
    """A per-slot array of ``sim`` with each vehicle in the slot it would have had without
    relabelling (the compiled tick stores vehicles in lane order; the numpy tick never)."""
    a = getattr(sim, name)[: sim.hw]
    out = np.empty_like(a)
    out[sim.vslot[: sim.hw]] = a
    return out


def assert_same(ref, res_ref, fast, res_fast):
    assert ref.hw == fast.hw
    for name in STATE:
        np.testing.assert_array_equal(by_vslot(ref, name), by_vslot(fast, name), err_msg=name)
    for name in COUNTERS:
        assert getattr(ref, name) == getattr(fast, name), name
    for name in ("fuel", "co2"):
        a, b = by_vslot(ref, name), by_vslot(fast, name)
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=0.0, err_msg=name)
    va, vb = res_ref.vehicles, res_fast.vehicles
    for col in ("t_exit", "stops", "stopped_time_s", "travel_time_s"):
        np.testing.assert_array_equal(np.asarray(va[col]), np.asarray(vb[col]), err_msg=col)
    np.testing.assert_allclose(np.asarray(vb["fuel_l"]), np.asarray(va["fuel_l"]), rtol=1e-12)


def test_idm_arterial_with_turns_lanes_and_advice(arterial):
    ref, rr, fast, rf = run_both(World.build(arterial), duration_s=600.0)
    assert fast.kernel == "numba" and ref.kernel == "numpy"
    # The scenario exercises what the kernels implement.
    assert ref.lane_changes > 0 and ref.left_yields > 0 and ref.turn_crossings > 0
    assert ref.n_advised > 0
    assert_same(ref, rr, fast, rf)


@pytest.mark.parametrize("threads", ["serial", "parallel"])
def test_krauss_dawdling_hbefa3(arterial, threads, monkeypatch):
    # A few hundred vehicles run the serial kernels; force the parallel ones too.
    if threads == "parallel":
        monkeypatch.setattr(engine, "PARALLEL_MIN_SLOTS", 0)
    ref, rr, fast, rf = run_both(World.build(krauss(arterial)), duration_s=600.0)
    assert ref.lane_changes > 0 and ref.left_yields > 0
    assert_same(ref, rr, fast, rf)


def test_city_grid_multi_hop_leaders_and_merges(root):
    # The grid city: leaders found several links ahead, merges of turning and through
    # vehicles into one lane, thousands of vehicles.
    world = World.build(load_scenario(root / "scenarios" / "zibo_city.toml"))
    ref, rr, fast, rf = run_both(world, duration_s=240.0, advisory=False)
    assert ref.alive[: ref.hw].sum() > 2000
    assert_same(ref, rr, fast, rf)


@pytest.mark.parametrize("threads", ["serial", "parallel"])
def test_storing_vehicles_in_lane_order_changes_nothing(arterial, threads, monkeypatch):
    # The compiled tick moves its vehicles to other slots (into lane order; here every tick
    # from the first vehicle, in the city every 30 s from 2,048 slots): ties between vehicles,
    # dawdling draws, the reuse of freed slots and the records go by the slot a vehicle would
    # have had, so the run stays the numpy tick's, which never moves them.
    if threads == "parallel":
        monkeypatch.setattr(engine, "PARALLEL_MIN_SLOTS", 0)
    world = World.build(krauss(arterial))
    kw = {"seed": 3, "advisory": True, "penetration": 0.5, "warmup_s": 0.0, "duration_s": 400.0}
    kw |= {"record_crossings": True, "record": True}
    ref = Simulation(world, kernel="numpy", **kw)
    rr = ref.run()
    fast = Simulation(world, kernel="numba", **kw)
    fast.relabel_min_slots, fast.relabel_interval_s = 1, 0.0
    rf = fast.run()
    assert not np.array_equal(fast.vslot[: fast.hw], np.arange(fast.hw))  # they did move
    assert ref.lane_changes > 0 and ref.left_yields > 0 and len(fast.free) > 0
    assert_same(ref, rr, fast, rf)
    for log in ("crossings", "traj"):
        assert len(getattr(ref, log)) > 0
        for a, b in zip(
            (np.concatenate(c) for c in zip(*getattr(ref, log), strict=True)),
            (np.concatenate(c) for c in zip(*getattr(fast, log), strict=True)),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b, err_msg=log)


def test_the_crossings_record_is_the_numpy_ticks(arterial):
    # The compiled tick records the crossings before its kernel moves the vehicles on (the
    # record wants the link and signal group crossed): the same record as the numpy tick's.
    ref, rr, fast, rf = run_both(World.build(arterial), duration_s=300.0, record_crossings=True)
    assert_same(ref, rr, fast, rf)
    assert len(ref.crossings) > 0
    for a, b in zip(
        (np.concatenate(c) for c in zip(*ref.crossings, strict=True)),
        (np.concatenate(c) for c in zip(*fast.crossings, strict=True)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_the_sort_falls_back_when_the_merge_gives_up(arterial, monkeypatch):
    # Every merge refused (as when vehicles on a lane are out of order): numpy's stable sort
    # takes over and the lane records are rebuilt, with the same motion.
    gave_up = []

    def refuse(al, lane_id, offs, order, key_scale, sorted_lane):
        gave_up.append(order.size)
        ks = np.where(al, lane_id * key_scale + offs, np.inf)[order]
        return False, order, ks, 0, np.zeros(0, dtype=np.int64)

    monkeypatch.setattr(fp, "sort_lanes", refuse)
    ref, rr, fast, rf = run_both(World.build(arterial), duration_s=300.0)
    assert gave_up and ref.lane_changes > 0
    assert_same(ref, rr, fast, rf)


def test_live_spat_keeps_the_numpy_signal_states(arterial, monkeypatch):
    # With live SPaT the signal states come from SignalTiming.state (the SPaT events), not
    # from the fixed-time kernel: both ticks still move every vehicle the same.
    from greenwave.spat import SpatMessage

    world = World.build(arterial)
    t0 = world.epoch_s + 30.0
    msg = SpatMessage(
        timestamp_s=t0,
        events=[
            {"state": "red", "min_end_s": t0 + 40.0, "max_end_s": t0 + 40.0},
            {"state": "green", "min_end_s": t0 + 90.0, "max_end_s": t0 + 90.0},
        ],
    )
    timing = world.timing.with_spat({g: msg for g in range(world.timing.plans.n_groups)})
    calls = []
    real = fp.sync_plan_signals
    monkeypatch.setattr(fp, "sync_plan_signals", lambda *a: calls.append(1) or real(*a))
    ref, rr, fast, rf = run_both(world, duration_s=200.0, timing=timing)
    assert not calls
    assert (
        fast.sig_state == timing.state(np.arange(fast.n_groups), world.epoch_s + 199.5)[0]
    ).all()
    assert_same(ref, rr, fast, rf)
    # Without it the kernel works the states out.
    run_both(world, duration_s=20.0)
    assert calls


def test_worker_threads_use_the_serial_kernels(arterial):
    world = World.build(arterial)

    def run(_):
        sim = Simulation(world, seed=5, advisory=False, duration_s=200.0, kernel="numba")
        sim.run()
        return sim

    with ThreadPoolExecutor(2) as ex:
        a, b = ex.map(run, range(2))
    assert a._fast is fp.SERIAL and b._fast is fp.SERIAL
    assert threading.current_thread() is threading.main_thread()
    assert fp.kernels() is fp.PARALLEL
    ref = Simulation(world, seed=5, advisory=False, duration_s=200.0, kernel="numpy")
    ref.run()
    np.testing.assert_array_equal(a.pos[: a.hw], ref.pos[: ref.hw])
    np.testing.assert_array_equal(b.v[: b.hw], ref.v[: ref.hw])


def test_kernel_choice_is_validated(arterial):
    world = World.build(arterial)
    with pytest.raises(ValueError, match="kernel must be one of auto, numpy, numba"):
        Simulation(world, seed=1, kernel="fortran")
    assert Simulation(world, seed=1, kernel="auto").kernel == "numba"


def test_missing_numba_falls_back_or_says_how_to_install(arterial, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("no numba here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    world = World.build(arterial)
    assert Simulation(world, seed=1, kernel="auto").kernel == "numpy"
    with pytest.raises(ValueError, match=r"greenwave\[fast\]"):
        Simulation(world, seed=1, kernel="numba")


# ----------------------------------------------------------- one-vehicle model forms
rng = np.random.default_rng(11)
V = np.concatenate([[0.0, 0.05, 1.0, 13.9, 25.0], rng.uniform(0.0, 30.0, 200)])
GAP = np.concatenate([[-1.0, 0.0, 1e-4, 0.5, 7.5, np.inf], rng.uniform(-2.0, 300.0, 199)])
VL = np.concatenate([[0.0, 0.0, 5.0, 13.9, 0.0, 20.0], rng.uniform(0.0, 30.0, 199)])


@pytest.mark.parametrize("dt", [0.1, 0.5, 1.0])
def test_scalar_car_following_matches_the_vectorised_models(dt):
    b, a, tau, s0 = 4.5, 2.6, 1.0, 2.5
    for i in range(V.size):
        v, g, vl = V[i], GAP[i], VL[i]
        assert fp.idm_free(v, 13.9, a) == carfollow.idm_free(np.array([v]), 13.9, a)[0]
        if np.isfinite(g):
            want = carfollow.idm_interaction(np.array([v]), v - vl, np.array([g]), a, b, 1.2, s0)
            assert fp.idm_interaction(v, v - vl, g, a, b, 1.2, s0) == want[0]
            want = carfollow.safe_accel(np.array([v]), np.array([g]), np.array([vl]), dt)
            assert fp.safe_accel(v, g, vl, dt, carfollow.EMERGENCY_DECEL_MS2) == want[0]
        assert fp.euler_brake_gap(v, b, dt) == carfollow.euler_brake_gap(np.array([v]), b, dt)[0]
        for hold in (dt, tau):
            want = carfollow.euler_safe_speed(np.array([g]), b, dt, hold)[0]
            assert fp.euler_safe_speed(g, b, dt, max(hold, dt)) == want


@pytest.mark.parametrize("model", ["vtmicro", "hbefa3"])
def test_scalar_fuel_matches_the_vectorised_models(model):
    acc = np.concatenate([[-9.0, -3.0, -1.5, -0.2, 0.0, 0.3, 2.6, 4.0], rng.uniform(-5, 4, 197)])
    want_f, want_c = fuel.fuel_co2_rates(V, acc, model=model)
    for i in range(V.size):
        if model == "vtmicro":
            f, c = fp._vtmicro_pair(V[i], acc[i])
        else:
            f, c = fp._hbefa3(V[i], acc[i], fp._HB_FUEL), fp._hbefa3(V[i], acc[i], fp._HB_CO2)
        # exp may differ in its last bits (the kernels' own exp within 1.1 ulp, numpy's within
        # 0.6: below 1.8 ulp apart, 4e-16 relative); HBEFA3 has none.
        tol = 4e-16 if model == "vtmicro" else 0.0
        assert f == pytest.approx(want_f[i], rel=tol, abs=0.0)
        assert c == pytest.approx(want_c[i], rel=tol, abs=0.0)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs 80-bit long double")
def test_the_kernels_exp_is_within_an_ulp_and_a_tenth():
    """The compiled tick's exp (Cody & Waite's reduction, Taylor to degree 13) against exp in
    80-bit arithmetic: a dense grid over the VT-Micro exponents' range and beyond, random
    arguments up to the clip, the reduction's boundaries (k ln 2 +- ln 2 / 2) and exact cases."""
    gen = np.random.default_rng(5)
    half = np.log(2.0) * (np.arange(-30, 31) + 0.5)
    x = np.concatenate([
        np.linspace(-20.0, 20.0, 200_001), gen.uniform(-700.0, 700.0, 50_000), half,
        np.nextafter(half, np.inf), np.nextafter(half, -np.inf), [0.0, -0.0, 1e-300, -1e-300],
    ])  # fmt: skip
    got = fp.exp_vec(x)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs((got.astype(np.longdouble) - exact) / np.spacing(exact.astype(np.float64)))
    assert float(ulps.max()) <= 1.1
    assert fp.exp_vec(np.array([0.0]))[0] == 1.0
    # Its scalar use (the one-vehicle VT-Micro pair) is the same arithmetic.
    f, c = fp._vtmicro_pair(12.0, 0.4)
    xf, xc = fp._vtmicro_exponents(12.0, 0.4)
    assert (f, c) == tuple(fp.exp_vec(np.array([xf, xc])))


@pytest.mark.parametrize("kset", ["SERIAL", "PARALLEL"])
def test_merging_front_vehicles_follow_by_distance_ties_in_slot_order(kset):
    """Four front vehicles, one per approach, all entering the same empty lane (link 4): each
    follows the one before it in (distance to its link's end, slot) order, the engine's
    lexsort of the claimants in slot order.  Slots and lanes are numbered so that the lane
    order (the kernel's visiting order) is not the slot order, and three distances tie."""
    links = [3, 1, 2, 0]  # slot -> approach link (and route); slot 4 is empty
    dist = np.array([10.0, 10.0, 5.0, 10.0, 0.0])
    n, length = 5, 5.0
    al = np.array([True, True, True, True, False])
    lane_s = np.array([0, 1, 2, 3, -1])  # lane id = link (one lane each)
    order = np.array([3, 1, 2, 0, 4])
    link_end = np.full(n, 100.0)
    pos = link_end - dist
    gap, v_l = np.empty(n), np.empty(n)
    rear_of = np.full(5, -1)
    v = np.array([3.0, 4.0, 5.0, 6.0, 0.0])
    leader, gap, v_l, real, gap_phys = getattr(fp, kset).leaders(
        al, order, 4, lane_s, np.array([*links, 0]), np.zeros(n, dtype=np.int64), pos,
        pos.copy(), v, np.zeros(n, dtype=np.int64), np.arange(n), np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=bool), np.full(n, 4), np.full(n, fp.THROUGH), np.full(n, -1),
        np.full(n, fp.THROUGH), link_end,
        np.array([[0, 4], [1, 4], [2, 4], [3, 4]]), np.full((4, 2), fp.THROUGH),
        np.full(5, 100.0), np.ones(5, dtype=np.int64), rear_of, 1, length, gap, v_l,
        np.arange(n),
    )  # fmt: skip
    # (distance, slot) order: 2 (5 m), then 0, 1, 3 (10 m each).
    np.testing.assert_array_equal(leader, [2, 0, -1, 1, -1])
    np.testing.assert_array_equal(gap, [5.0 - length, -length, np.inf, -length, np.inf])
    np.testing.assert_array_equal(v_l, [5.0, 3.0, 0.0, 4.0, 0.0])
    assert not real.any()  # virtual leaders: not in the safety check
    assert np.isinf(gap_phys).all()
    assert (rear_of == -1).all()  # the lane table left empty


def test_lane_changes_applied_in_the_kernel_equal_the_engines():
    """apply_lane_changes against Simulation._apply_lane_changes: one driver per target gap
    (the one further ahead, ties in slot order), the same updates and the same movers in the
    same order; many drivers aim at the same gaps, some at the same offsets."""
    import types

    gen = np.random.default_rng(11)
    n, max_lanes, key_scale, t = 2000, 3, 1e4, 12.5
    link = gen.integers(0, 40, n)
    lane = gen.integers(0, max_lanes, n)
    lane_id = link * max_lanes + lane
    offs = np.round(gen.uniform(0.0, 300.0, n), 0)  # coarse: equal offsets and gaps
    ks = np.sort(lane_id * key_scale + offs)
    best = np.where(gen.random(n) < 0.2, gen.integers(0, max_lanes, n), -1)

    def state():
        return types.SimpleNamespace(
            lane=lane.copy(), lc_until=np.zeros(n), lc_count=np.zeros(n, dtype=np.int64),
            max_lanes=max_lanes, key_scale=key_scale, lane_changes=0,
        )  # fmt: skip

    ref, got = state(), state()
    ref_lane_id, got_lane_id = lane_id.copy(), lane_id.copy()
    movers = np.flatnonzero(best >= 0)
    want = Simulation._apply_lane_changes(
        ref, t, movers, best[movers], link, ref_lane_id, offs, ks, n
    )
    out = fp.apply_lane_changes(
        t, best, ks, n, link, got.lane, got_lane_id, offs, got.lc_until, got.lc_count,
        key_scale, max_lanes, np.arange(n),
    )  # fmt: skip
    assert 0 < want.size < movers.size  # some drivers lost their gap to one further ahead
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(got_lane_id, ref_lane_id)
    for name in ("lane", "lc_until", "lc_count"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)

    # The same drivers stored in other slots (relabelled, vslot = their slots above): the
    # same drivers change lane, in the same order, ties still going by the old slots.
    perm = gen.permutation(n)  # new slot j holds old slot perm[j]
    moved = state()
    moved.lane = lane[perm].copy()
    moved_lane_id = lane_id[perm].copy()
    out = fp.apply_lane_changes(
        t, best[perm], ks, n, link[perm], moved.lane, moved_lane_id, offs[perm],
        moved.lc_until, moved.lc_count, key_scale, max_lanes, perm,
    )  # fmt: skip
    np.testing.assert_array_equal(perm[out], want)
    np.testing.assert_array_equal(moved_lane_id, ref_lane_id[perm])
    for name in ("lane", "lc_until", "lc_count"):
        np.testing.assert_array_equal(getattr(moved, name), getattr(ref, name)[perm], err_msg=name)


def test_merge_sort_of_the_lanes_equals_a_stable_argsort():
    """sort_lanes against the engine's sort (stable argsort of the keys in the last order):
    vehicles that stay on their lane, movers, ties, empty slots, stale lane records and a
    lane out of order (where the kernel must give up rather than return a wrong order); and
    resort_lanes after lane changes."""
    sort_lanes = fp.sort_lanes
    gen = np.random.default_rng(7)
    key_scale = 1e4
    n = 3000
    lane_id = gen.integers(0, 60, n)
    offs = np.round(gen.uniform(0.0, 500.0, n), 1)  # rounded: many equal keys
    al = gen.random(n) < 0.8
    al[n - 20 :] = False  # slots not taken yet at the last sort (see the end)
    ks0 = np.where(al, lane_id * key_scale + offs, np.inf)
    order = np.argsort(ks0, kind="stable")
    sorted_lane = np.where(al, lane_id, -1)
    # One step: everybody moves forward by the same amount except a few lane changers, new
    # vehicles (no lane record) and a stale record left by a slot's previous vehicle.
    offs = offs + 3.0
    movers = gen.choice(np.flatnonzero(al), 40, replace=False)
    lane_id[movers] = gen.integers(0, 60, movers.size)
    offs[movers] = np.round(gen.uniform(0.0, 500.0, movers.size), 1)
    new = np.flatnonzero(~al)[:30]
    al[new] = True
    lane_id[new[:10]] = 5
    offs[new] = 0.0
    sorted_lane[new[:10]] = 5  # stale: a new vehicle on the lane its slot's last vehicle had
    died = np.flatnonzero(al)[100:110]
    al[died] = False
    late = np.arange(n - 5, n)  # new vehicles in slots taken since the last sort
    al[late] = True
    lane_id[late] = 7
    offs[late] = late * 0.01
    ks = np.where(al, lane_id * key_scale + offs, np.inf)[order]
    o = np.argsort(ks, kind="stable")
    sl = sorted_lane.copy()
    ok, out, ks_out, n_al, lane_s = sort_lanes(al, lane_id, offs, order, key_scale, sl)
    if ok:
        np.testing.assert_array_equal(out, order[o])
        np.testing.assert_array_equal(ks_out, ks[o])
        assert n_al == np.count_nonzero(al)
        np.testing.assert_array_equal(lane_s[:n_al], lane_id[out[:n_al]])
        assert (lane_s[n_al:] == -1).all()
        np.testing.assert_array_equal(sl[out[:n_al]], lane_id[out[:n_al]])
        assert (sl[out[n_al:]] == -1).all()
    else:  # only a stale record may make it give up here
        np.testing.assert_array_equal(ks_out, ks)
    # Cleanly recorded lanes: it must merge, and give the argsort's order.
    sl = np.where(al, sorted_lane, -1)
    sl[new] = -1
    sl_short = sl.copy()
    ok, out, ks_out, n_al, lane_s = sort_lanes(al, lane_id, offs, order, key_scale, sl)
    assert ok
    np.testing.assert_array_equal(out, order[o])
    np.testing.assert_array_equal(ks_out, ks[o])
    # The same from the order without the slots taken since (they follow it in slot order).
    np.testing.assert_array_equal(order[n - 20 :], np.arange(n - 20, n))
    short = sort_lanes(al, lane_id, offs, order[: n - 20], key_scale, sl_short)
    assert short[0] and short[3] == n_al
    for a, b in zip(short[1:3] + short[4:], (out, ks_out, lane_s), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sl_short, sl)
    # Then lane changes on their links (three lanes each, lane ids 0-59: 20 links), some onto
    # a key another vehicle has: the re-sort of the movers' links alone equals a stable
    # argsort from there.
    max_lanes = 3
    movers = gen.choice(out[:n_al], 25, replace=False)
    moved = np.zeros(n, dtype=bool)
    moved[movers] = True
    side = (lane_id % max_lanes + gen.choice([1, 2], n)) % max_lanes
    lane_id2 = np.where(moved, lane_id - lane_id % max_lanes + side, lane_id)
    twin = movers[0]  # onto the very key of a vehicle on the lane it enters
    other = next(i for i in out[:n_al] if lane_id[i] == lane_id2[twin] and not moved[i])
    offs = offs.copy()
    offs[twin] = offs[other]
    ks2 = np.where(al, lane_id2 * key_scale + offs, np.inf)[out]
    o2 = np.argsort(ks2, kind="stable")
    want_order, want_ks = out[o2], ks2[o2]
    sl2 = sl.copy()
    out2, ks_out2, lane_s2 = fp.resort_lanes(
        out, ks_out, lane_s, n_al, movers, lane_id2, offs, key_scale, sl2, max_lanes
    )
    np.testing.assert_array_equal(out2, want_order)
    np.testing.assert_array_equal(ks_out2, want_ks)
    np.testing.assert_array_equal(lane_s2[:n_al], lane_id2[out2[:n_al]])
    np.testing.assert_array_equal(sl2[out2[:n_al]], lane_id2[out2[:n_al]])
    assert (lane_s2[n_al:] == -1).all()
    # Two vehicles of one lane out of order (one ran into the other): it gives up.
    stay = [i for i in order if al[i] and sl[i] == lane_id[i]]
    back = stay[0]
    front = next(i for i in stay[1:] if lane_id[i] == lane_id[back])
    offs[back] = offs[front] + 1.0
    ok, _, ks_out, _, _ = sort_lanes(al, lane_id, offs, order, key_scale, sl)
    assert not ok
    np.testing.assert_array_equal(ks_out, np.where(al, lane_id * key_scale + offs, np.inf)[order])


def test_fixed_time_signal_states_equal_the_plan_table():
    """sync_plan_signals against PlanTable.state: plans with one or several greens, greens
    that wrap around the cycle end, offsets and ambers, queried at random times, at every
    change instant and just either side of it (bit-equal states and change times)."""
    from greenwave.timing import PlanTable, SignalPlan

    gen = np.random.default_rng(11)
    plans = []
    for k in range(40):
        cycle = float(gen.choice([60.0, 90.0, 97.5, 120.0]))
        n_g = int(gen.integers(1, 4))
        cuts = np.sort(gen.choice(np.arange(1, int(cycle) - 1), 2 * n_g, replace=False))
        greens = [[float(cuts[2 * i]), float(cuts[2 * i + 1])] for i in range(n_g)]
        if k % 3 == 0 and n_g > 1:  # green over the cycle's end
            greens = [[0.0, greens[0][1]], *greens[1:-1], [greens[-1][0], cycle]]
        offset = float(gen.uniform(0.0, cycle))
        amber = float(gen.choice([0.0, 3.0, 4.5]))
        group = {"id": "A", "greens_s": greens, "amber_s": amber}
        plans.append((f"i{k}", SignalPlan(cycle_s=cycle, offset_s=offset, groups=[group])))
    tab = PlanTable.from_plans(plans)
    assert (tab.green_end_s > tab.cycle_s[:, None]).any()  # wrapping greens, merged
    assert (tab.n_greens > 1).any()
    g_all = np.arange(tab.n_groups)
    epoch = 1234.5
    times = list(np.sort(gen.uniform(0.0, 400.0, 150)))
    _, ttc = tab.state(g_all, epoch + 100.0)
    edges = 100.0 + ttc
    times += list(edges) + list(np.nextafter(edges, -np.inf)) + list(np.nextafter(edges, np.inf))
    for t in times:
        state = np.zeros(tab.n_groups, dtype=np.int8)
        change_at = np.full(tab.n_groups, -1.0)  # every group due
        change_at[::7] = np.inf  # ... but these: untouched
        soonest = fp.sync_plan_signals(
            t, epoch + t, 1e-6, state, change_at, tab.cycle_s, tab.offset_s, tab.amber_s,
            tab.n_greens, tab.green_start_s, tab.green_end_s,
        )  # fmt: skip
        due = np.ones(tab.n_groups, dtype=bool)
        due[::7] = False
        want_state, want_ttc = tab.state(g_all[due], epoch + t)
        np.testing.assert_array_equal(state[due], want_state)
        np.testing.assert_array_equal(change_at[due], t + want_ttc)
        assert (state[~due] == 0).all() and np.isinf(change_at[~due]).all()
        assert soonest == change_at.min()
