"""Verification of the microsimulator against analytic results (UXsim-style)."""

import re

import numpy as np
import pytest
from simkit import arrivals, corridor, crossing_times, run_recorded

from greenwave.network import World
from greenwave.sim.engine import Simulation
from greenwave.sim.measures import summarize


def _vehicle(res, vid=0):
    return {k: v[vid] for k, v in res.vehicles.items()}


def test_green_all_the_way_matches_free_flow_time():
    v0 = 50 / 3.6
    spacing, entry = 400.0, 300.0
    # Offsets put the vehicle (entering at t=0 at the limit) in the middle of every green.
    offs = [((entry + k * spacing) / v0 - 20.0) for k in range(3)]
    w = corridor(offsets=offs)
    res = Simulation(
        w, seed=0, advisory=False, arrivals=arrivals(w, [0.0]), duration_s=200.0, warmup_s=0.0
    ).run()
    v = _vehicle(res)
    length = entry + 2 * spacing + 200.0
    assert v["completed"] and v["stops"] == 0
    # Exit is detected at the end of the tick that crosses the route end.
    assert v["travel_time_s"] == pytest.approx(length / v0, abs=0.5 + 1e-9)
    assert v["delay_s"] == pytest.approx(0.0, abs=0.5 + 1e-9)
    assert res.red_violations == 0


def test_vehicle_stops_at_red_and_leaves_on_green():
    # One signal, red from 45 s to 90 s of each cycle (offset 0); vehicle arrives at ~30 s.
    w = corridor(n=2, spacing=1500.0, offsets=[0.0, 0.0], entry=600.0, green=(0.0, 45.0))
    sim = Simulation(
        w,
        seed=0,
        advisory=False,
        arrivals=arrivals(w, [20.0]),
        duration_s=300.0,
        warmup_s=0.0,
        record=True,
        record_routes=[0],
    )
    res = sim.run()
    tr = res.trajectories
    stop_line = 600.0
    stopped = tr["v"] <= 0.1
    t_stop = tr["t"][stopped]
    assert t_stop.size > 0
    # Stopped with the front bumper at the line (not beyond, not far before).
    assert tr["pos"][stopped].max() <= stop_line + 1e-6
    assert tr["pos"][stopped].min() >= stop_line - 1.0
    # It stood during red and moved off once green started at t = 90 s (cycle 90).
    assert t_stop.min() < 90.0 <= t_stop.max() + 1.0
    moving_after = tr["t"][(tr["pos"] > stop_line + 0.5)]
    assert moving_after.min() >= 90.0
    assert moving_after.min() <= 95.0
    assert res.red_violations == 0 and _vehicle(res)["stops"] == 1


def test_saturation_flow_is_plausible():
    # A long queue forms during a long red; measure the discharge headway at the stop line.
    w = corridor(
        n=2,
        spacing=3000.0,
        offsets=[0.0, 0.0],
        cycle=200.0,
        green=(0.0, 100.0),
        entry=1000.0,
        limit_kmh=50.0,
    )
    times = np.arange(40) * 1.0 + 100.0  # 40 cars arrive during red (100–140 s)
    cross = crossing_times(run_recorded(w, times, 400.0).trajectories, 1000.0)
    assert len(cross) >= 30
    headway = np.diff(cross[4:30]).mean()  # after the start-up vehicles, as the HCM counts
    flow = 3600.0 / headway
    assert 1700.0 <= flow <= 2000.0, flow


def test_conservation_and_safety_on_default_arterial(arterial):
    for adv in (False, True):
        res = Simulation(arterial, seed=3, advisory=adv, duration_s=1200.0).run()
        assert res.arrived == res.entered + res.waiting
        assert res.entered == res.completed + res.on_network
        assert res.red_violations == 0
        assert res.collisions == 0 and res.min_gap_m > 0.0
        v = res.vehicles
        assert np.all(v["stops"][v["completed"]] >= 0)
        assert np.all(np.isnan(v["t_exit"][~v["completed"]]))


def test_a_simulation_runs_once(arterial):
    # Its vehicles, queues and results are its state: a second run says so instead of failing
    # somewhere inside with an index error.
    sim = Simulation(arterial, seed=3, advisory=False, duration_s=60.0)
    sim.run()
    with pytest.raises(RuntimeError, match="already run; build a new Simulation"):
        sim.run()


@pytest.mark.parametrize("enabled", [True, False])
def test_a_run_leaves_the_cycle_collector_as_it_found_it(arterial, enabled):
    # A run pauses Python's cycle collector (a speed matter) and must give it back as it was,
    # also when the run fails.
    import gc

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        seen = []
        sim = Simulation(arterial, seed=3, advisory=False, duration_s=30.0)
        step = sim._step
        sim._step = lambda t: (seen.append(gc.isenabled()), step(t))
        sim.run()
        assert seen and not any(seen)  # paused during the run
        assert gc.isenabled() is enabled
        broken = Simulation(arterial, seed=3, advisory=False, duration_s=30.0)
        broken._step = lambda t: 1 / 0
        with pytest.raises(ZeroDivisionError):
            broken.run()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_entry_queue_holds_vehicles_not_drops_them():
    w = corridor(n=2, spacing=500.0, offsets=[0.0, 0.0])
    times = np.zeros(50)  # 50 cars at once: they must wait at the entry, not vanish
    res = Simulation(
        w, seed=0, advisory=False, arrivals=arrivals(w, times), duration_s=20.0, warmup_s=0.0
    ).run()
    assert res.arrived == 50
    assert res.waiting > 0 and res.entered + res.waiting == 50


def test_inserted_vehicles_take_freed_slots_last_freed_first_then_new_ones():
    # The slot order decides nothing physical, but the numbers of a seeded run depend on it
    # (the Krauss dawdle draws are per slot): batch insertion must take the slots one-at-a-time
    # insertion took, and reset a reused slot's state.
    w = corridor(n=2, spacing=500.0, offsets=[0.0, 0.0])
    sim = Simulation(
        w, seed=0, advisory=False, arrivals=arrivals(w, np.arange(6.0)), duration_s=20.0,
        warmup_s=0.0,
    )  # fmt: skip
    assert sim._take_slots(3).tolist() == [0, 1, 2] and sim.hw == 3
    sim.free = [1, 2]  # freed in this order: 2 last
    cap = sim.cap
    got = sim._take_slots(cap)  # more than the free slots and the capacity left
    assert got.tolist() == [2, 1, *range(3, 3 + cap - 2)]
    assert sim.free == [] and sim.hw == 1 + cap and sim.cap >= sim.hw
    sim.fuel[2], sim.stops[2], sim.target[2], sim.alive[2] = 1.5, 3, 9.0, False
    sim.free = [2]
    k = sim._add_vehicles(np.array([0]), np.array([4]), np.array([7.0]), 3.0)
    assert k.tolist() == [2]
    assert sim.alive[2] and sim.vid[2] == 4 and sim.v[2] == 7.0 and sim.t_enter[2] == 3.0
    assert sim.fuel[2] == 0.0 and sim.stops[2] == 0 and np.isnan(sim.target[2])
    assert sim.tail[0] == 2 and sim.res["t_enter"][4] == 3.0


def test_drain_empties_the_network_and_keeps_the_horizon_results():
    w = corridor(n=2, spacing=500.0, offsets=[0.0, 0.0])
    times = np.linspace(0.0, 19.0, 40)  # 40 cars in 20 s: most still queue at the horizon
    kw = dict(seed=0, advisory=False, arrivals=arrivals(w, times), duration_s=20.0, warmup_s=0.0)
    cut = Simulation(w, **kw).run()
    full = Simulation(w, **kw, drain_s=600.0).run()
    assert cut.completed < 40 and cut.drained_s == 0.0
    assert full.arrived == full.entered == full.completed == 40
    assert full.on_network == full.waiting == 0 and 0.0 < full.drained_s < 600.0
    # Trips that finished before the horizon are the same trips with the same results.
    done = cut.vehicles["completed"]
    for k in ("t_exit", "stops", "fuel_l"):
        np.testing.assert_array_equal(cut.vehicles[k][done], full.vehicles[k][done])
    # Bounded: a short drain stops with vehicles still en route.
    short = Simulation(w, **kw, drain_s=5.0).run()
    assert short.drained_s == 5.0 and short.completed < 40


@pytest.mark.slow
def test_determinism_and_seeds(arterial):
    a = summarize(Simulation(arterial, seed=5, duration_s=900.0).run())
    b = summarize(Simulation(arterial, seed=5, duration_s=900.0).run())
    c = summarize(Simulation(arterial, seed=6, duration_s=900.0).run())
    assert a == b
    assert a != c


def test_common_random_numbers(arterial):
    base = Simulation(arterial, seed=2, advisory=False, duration_s=900.0)
    adv = Simulation(arterial, seed=2, advisory=True, penetration=0.5, duration_s=900.0)
    np.testing.assert_array_equal(base.arr.time_s, adv.arr.time_s)
    np.testing.assert_array_equal(base.arr.desired_factor, adv.arr.desired_factor)
    # Raising the penetration only adds equipped drivers.
    more = Simulation(arterial, seed=2, advisory=True, penetration=0.8, duration_s=900.0)
    assert np.all(more.veh_equipped[adv.veh_equipped])
    assert not base.veh_equipped.any()


@pytest.mark.slow
def test_full_penetration_reduces_stops_on_default_arterial(arterial):
    from greenwave.sim.compare import compare

    res = compare(arterial, [1, 2], duration_s=1800.0, penetration=1.0)
    assert res["advisory"]["stops_per_veh"] < res["baseline"]["stops_per_veh"]
    for b, a in zip(res["per_seed"]["baseline"], res["per_seed"]["advisory"], strict=True):
        assert a["stops_per_veh"] < b["stops_per_veh"]


@pytest.mark.parametrize("policy", ["band", "plan"])
def test_advice_is_followed_inside_the_band(arterial, policy):
    """Advised drivers' targets lie inside [band min, min(band max, limit)] (band policy); plan
    followers never go above the band's top, and below its floor only on the eco-approach."""
    from greenwave.network import World
    from greenwave.units import kmh_to_ms

    sc = arterial.scenario
    world = World.build(
        sc.model_copy(update={"drivers": sc.drivers.model_copy(update={"policy": policy})})
    )
    sim = Simulation(world, seed=4, advisory=True, duration_s=900.0)
    seen = []
    orig = sim._schedule

    def spy(slots, new, t, *rest):
        seen.append(new[np.isfinite(new)])
        orig(slots, new, t, *rest)

    sim._schedule = spy
    res = sim.run()
    targets = np.concatenate(seen)
    assert targets.size > 100 and res.extra["advised"] > 0
    assert targets.max() <= kmh_to_ms(50.0) + 1e-9
    if policy == "band":
        assert targets.min() >= kmh_to_ms(35.0) - 1e-9
    else:
        assert targets.min() >= 0.0 and (targets >= kmh_to_ms(35.0) - 1e-9).mean() > 0.5


@pytest.mark.parametrize("hold", [False, True])
def test_prepare_to_stop_keeps_the_advice_only_when_holding(monkeypatch, hold):
    """A driver following advice whose next stop line turns to "prepare to stop" (no speed
    reaches a green) drives normally again, or, with ``drivers.hold_on_stop``, keeps the target
    they have (as in the SUMO controller)."""
    from greenwave.bands import STOP
    from greenwave.sim import engine

    w = corridor(
        n=2,
        spacing=1500.0,
        offsets=[0.0, 0.0],
        entry=900.0,
        green=(0.0, 45.0),
        drivers={"hold_on_stop": hold, "policy": "band"},
        advisory={"band_min_kmh": 20.0},
    )
    real = engine.advise

    def lost_after_60s(net, timing, params, link, offset, v, t, m, qd, **kw):
        adv = real(net, timing, params, link, offset, v, t, m, qd, **kw)
        if t - w.epoch_s >= 60.0:  # the band is gone from 60 s on
            b = adv.bands
            b.status[:, 0] = STOP
            b.joint_lo_ms[:] = b.joint_hi_ms[:] = np.nan
        return adv

    monkeypatch.setattr(engine, "advise", lost_after_60s)
    sim = Simulation(
        w,
        seed=0,
        advisory=True,
        penetration=1.0,
        arrivals=arrivals(w, [20.0], u_equip=0.0),
        duration_s=200.0,
        warmup_s=0.0,
    )
    seen = []
    orig = sim._schedule

    def spy(slots, new, t, *rest):
        seen.append((t, new.copy()))
        orig(slots, new, t, *rest)

    sim._schedule = spy
    sim.run()
    before = [n for t, n in seen if t < 60.0]
    after = np.concatenate([n for t, n in seen if 60.0 <= t < 75.0] or [np.empty(0)])
    assert before and np.isfinite(np.concatenate(before)).any()  # advised before 60 s
    if hold:
        assert after.size == 0  # nothing new: the target in force is kept
    else:
        assert after.size > 0 and np.isnan(after).all()


def test_fuel_model_setting_integrates_the_chosen_model():
    """simulation.fuel_model switches the per-tick fuel model (HBEFA3 for comparisons with
    SUMO): a car's fuel is the chosen model's rate integrated along its trajectory."""
    from greenwave.sim.fuel import fuel_rate_l_s

    fuel = {}
    for model in ("vtmicro", "hbefa3"):
        w = corridor(n=2, offsets=[0.0, 29.0], green=(0.0, 70.0), simulation={"fuel_model": model})
        sim = Simulation(
            w,
            seed=0,
            advisory=False,
            arrivals=arrivals(w, [1.0]),
            duration_s=200.0,
            warmup_s=0.0,
            record=True,
            record_routes=[0],
        )
        res = sim.run()
        assert res.vehicles["completed"][0]
        tr = res.trajectories
        v = np.r_[50.0 / 3.6, tr["v"][tr["vid"] == 0]]  # enters at the limit, then per tick
        dt = sim.dt
        expected = (
            np.sum(fuel_rate_l_s(0.5 * (v[1:] + v[:-1]), (v[1:] - v[:-1]) / dt, model=model)) * dt
        )
        fuel[model] = res.vehicles["fuel_l"][0]
        assert fuel[model] == pytest.approx(expected, rel=1e-9), model
    assert fuel["hbefa3"] != pytest.approx(fuel["vtmicro"], rel=0.01)


def test_explicit_vehicles_depart_as_given_and_change_no_drawn_arrival(arterial):
    from greenwave.scenario import parse_scenario
    from greenwave.sim.demand import draw_arrivals

    sc = arterial.scenario
    entry = arterial.network.link_ids[int(arterial.network.entry_links[0])]
    given = [
        {"link": entry, "depart_s": 5.0, "lane": 0, "desired_speed_factor": 1.1},
        {"link": entry, "depart_s": 12.5},
    ]
    data = sc.model_dump(mode="json", exclude_none=True)
    data["demand"]["vehicles"] = given
    with_v = World.build(parse_scenario(data))
    a = draw_arrivals(sc, arterial.network, 7, 600.0)
    b = draw_arrivals(with_v.scenario, with_v.network, 7, 600.0)
    assert b.count == a.count + 2
    e0 = b.entry == 0
    assert np.all(np.diff(b.time_s[e0]) >= 0)  # merged in time order
    k = np.flatnonzero(e0 & (b.time_s == 5.0))
    assert k.size == 1 and b.lane[k[0]] == 0 and b.desired_factor[k[0]] == 1.1
    assert np.any(e0 & (b.time_s == 12.5))
    # The drawn (Poisson) vehicles are the same vehicles: explicit ones use their own stream.
    drawn = ~np.isin(np.arange(b.count), np.flatnonzero(e0 & np.isin(b.time_s, [5.0, 12.5])))
    for col in ("time_s", "entry", "lane", "desired_factor", "u_equip"):
        np.testing.assert_array_equal(getattr(b, col)[drawn], getattr(a, col))
    res = Simulation(with_v, seed=7, advisory=False, duration_s=600.0, warmup_s=0.0).run()
    assert res.arrived == b.count


def test_explicit_vehicle_errors_name_the_field(arterial):
    from greenwave.scenario import ScenarioError, parse_scenario

    data = arterial.scenario.model_dump(mode="json", exclude_none=True)
    inner = arterial.network.link_ids[
        int(arterial.network.link_next[arterial.network.entry_links[0]])
    ]
    for veh, msg in (
        ({"link": "nope", "depart_s": 1.0}, "demand.vehicles[0].link: unknown link"),
        ({"link": inner, "depart_s": 1.0}, "is not an entry link"),
        ({"link": arterial.network.link_ids[0], "depart_s": -1.0}, "depart_s"),
        ({"link": arterial.network.link_ids[0], "depart_s": 1.0, "lane": 7}, "no lane 7"),
    ):
        data["demand"]["vehicles"] = [veh]
        with pytest.raises(ScenarioError, match=re.escape(msg)):
            parse_scenario(data)


def test_advice_sees_a_vehicle_in_the_update_at_its_entry():
    # A vehicle on the road at time t is advised by the update at t (as SUMO's controller
    # advises after the step that inserted it): a vehicle entering at an update instant is
    # not left unadvised for one more update interval.
    w = corridor(n=2, spacing=600.0, entry=400.0)
    sim = Simulation(
        w, seed=0, advisory=True, penetration=1.0, arrivals=arrivals(w, [10.0]), duration_s=20.0
    )
    seen = []
    advise = sim._advise

    def spy(t):
        seen.append((t, int(sim.alive[: sim.hw].sum())))
        advise(t)

    sim._advise = spy
    sim.run()
    assert (10.0, 1) in seen and (9.0, 0) in seen
