"""Krauss car following (SUMO's default model) against its published formula, and the
simulator running it: stops at red, queue discharge, safety, dawdling."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simkit import arrivals, corridor, crossing_times, run_recorded

from greenwave.network import World
from greenwave.scenario import DriversModel, ScenarioError
from greenwave.sim.carfollow import (
    euler_brake_gap,
    euler_safe_speed,
    euler_step,
    krauss_safe_speed,
)
from greenwave.sim.engine import Simulation

# SUMO's passenger-car defaults (sumo.dlr.de/docs/Definition_of_Vehicles,...): a, b, tau, s0.
SUMO_KRAUSS = {
    "car_following": "krauss",
    "accel_ms2": 2.6,
    "decel_ms2": 4.5,
    "time_headway_s": 1.0,
    "min_gap_m": 2.5,
    "length_m": 5.0,
}


def test_safe_speed_matches_published_formula():
    # Krauss (1998) / SUMO KraussOrig1::vsafe: -b tau + sqrt((b tau)^2 + v_l^2 + 2 b g).
    # b = 4.5, tau = 1, v_l = 10 m/s, g = 20 m: -4.5 + sqrt(20.25 + 100 + 180) = 12.8277 m/s.
    got = float(krauss_safe_speed(20.0, 10.0, 4.5, 1.0))
    assert math.isclose(got, -4.5 + math.sqrt(300.25), rel_tol=1e-12)
    assert math.isclose(got, 12.8277, abs_tol=1e-4)
    # Before a standing obstacle at (almost) no gap: zero.
    assert float(krauss_safe_speed(0.005, 0.0, 4.5, 1.0)) == 0.0


@pytest.mark.parametrize("v", [2.0, 8.0, 13.9, 25.0])
def test_equilibrium_gap_is_speed_times_tau(v):
    # At equal speeds the safe speed equals the speed exactly when the gap is v tau.
    assert math.isclose(float(krauss_safe_speed(v * 1.0, v, 4.5, 1.0)), v, rel_tol=1e-12)
    assert float(krauss_safe_speed(v * 0.8, v, 4.5, 1.0)) < v


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 150.0), st.sampled_from([0.1, 0.25, 0.5, 1.0]), st.floats(0.0, 2.0))
def test_euler_safe_speed_stops_exactly_within_the_gap(gap, dt, hold):
    # Holding the safe speed for the hold time, then braking by b dt per step, covers the gap
    # (exactly: it is the largest such speed) and never more.
    b = 4.5
    v = float(euler_safe_speed(gap, b, dt, hold))
    covered, speed = v * max(hold, dt), v - b * dt
    while speed > 0.0:
        covered += speed * dt
        speed -= b * dt
    assert covered == pytest.approx(gap, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 20.0), st.floats(0.0, 150.0), st.sampled_from([0.1, 0.25, 0.5, 1.0]))
def test_driving_at_the_stop_speed_never_passes_a_standing_obstacle(v, gap, dt):
    x = np.array(0.0)
    speed = np.array(v)
    for _ in range(400):
        v_next = np.minimum(euler_safe_speed(gap - x, 4.5, dt), speed + 2.6 * dt)
        x, speed, _a = euler_step(x, speed, v_next, dt)
        assert float(x) <= gap + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, 20.0), st.floats(0.0, 20.0), st.floats(0.0, 80.0), st.sampled_from([0.5, 1.0])
)
def test_follower_never_hits_a_leader_braking_to_a_stop(v, v_lead, gap, dt):
    # The leader brakes at b from now on; the follower drives at its safe speed (hold tau).
    b, tau = 4.5, 1.0
    xf, xl = 0.0, gap
    vf, vl = v, v_lead
    for _ in range(200):
        v_safe = float(euler_safe_speed(xl - xf + float(euler_brake_gap(vl, b, dt)), b, dt, tau))
        vf = max(min(v_safe, vf + 2.6 * dt), 0.0)
        vl = max(vl - b * dt, 0.0)
        xf += vf * dt
        xl += vl * dt
        assert xf <= xl + 1e-9


def test_discrete_safe_speed_tends_to_krauss_formula():
    # As dt -> 0 the discrete safe speed behind a leader is Krauss's continuous one.
    dt = 1e-4
    got = float(euler_safe_speed(20.0 + float(euler_brake_gap(10.0, 4.5, dt)), 4.5, dt, 1.0))
    assert got == pytest.approx(float(krauss_safe_speed(20.0, 10.0, 4.5, 1.0)), abs=1e-3)


def _krauss_world(**kw):
    return corridor(drivers={**SUMO_KRAUSS, **kw.pop("drivers", {})}, **kw)


def test_vehicle_stops_at_red_and_leaves_on_green():
    w = _krauss_world(n=2, spacing=1500.0, offsets=[0.0, 0.0], entry=600.0, green=(0.0, 45.0))
    res = run_recorded(w, [20.0], 300.0)
    tr = res.trajectories
    stopped = tr["v"] <= 0.1
    assert stopped.any()
    assert tr["pos"][stopped].max() <= 600.0 + 1e-6
    assert tr["pos"][stopped].min() >= 600.0 - 1.0
    assert tr["t"][tr["pos"] > 600.5].min() >= 90.0
    assert res.red_violations == 0 and res.vehicles["stops"][0] == 1
    # Krauss pulls away at its constant a = 2.6 m/s² (SUMO's default) until the limit.
    k = (tr["t"] > 90.0) & (tr["v"] > 0.5) & (tr["v"] < 12.0)
    acc = np.diff(tr["v"][k]) / np.diff(tr["t"][k])
    assert np.allclose(acc[1:], 2.6, atol=1e-9)


def test_queue_discharge_matches_krauss_headway():
    # A standing queue leaves at the Krauss equilibrium: once at the limit, consecutive
    # vehicles cross (length + s0) / v + tau apart, 7.5 / 13.89 + 1 = 1.54 s (2,334 veh/h);
    # the start-up loses a little, so the discharge headway of vehicles 5-30 lies between.
    w = _krauss_world(
        n=2, spacing=3000.0, offsets=[0.0, 0.0], cycle=200.0, green=(0.0, 100.0), entry=1000.0
    )
    times = np.arange(40) * 1.0 + 100.0
    res = run_recorded(w, times, 400.0)
    cross = crossing_times(res.trajectories, 1000.0)
    headway = np.diff(np.sort(cross)[4:30]).mean()
    assert 7.5 / (50 / 3.6) + 1.0 - 1e-6 <= headway <= 2.2, headway
    assert res.collisions == 0 and res.min_gap_m >= 2.5 - 1e-6


@pytest.mark.parametrize(("sigma", "dt"), [(0.0, 0.5), (0.5, 0.5), (0.0, 1.0), (0.5, 1.0)])
def test_conservation_and_safety_with_advice(arterial, sigma, dt):
    sc = arterial.scenario
    drivers = sc.drivers.model_copy(update={**SUMO_KRAUSS, "sigma": sigma})
    simulation = sc.simulation.model_copy(update={"dt_s": dt})
    w = World.build(sc.model_copy(update={"drivers": drivers, "simulation": simulation}))
    for adv in (False, True):
        res = Simulation(w, seed=3, advisory=adv, duration_s=900.0).run()
        assert res.arrived == res.entered + res.waiting
        assert res.entered == res.completed + res.on_network
        assert res.red_violations == 0
        assert res.collisions == 0 and res.min_gap_m > 0.0


def test_dawdling_is_seeded_and_slows_drivers_down():
    def run(sigma, seed):
        w = _krauss_world(
            n=2, spacing=1000.0, cycle=240.0, green=(0.0, 200.0), drivers={"sigma": sigma}
        )
        times = np.arange(10) * 6.0
        return Simulation(
            w, seed=seed, advisory=False, arrivals=arrivals(w, times), duration_s=400.0
        ).run()

    calm, a1, a2 = run(0.0, 1), run(0.5, 1), run(0.5, 1)
    tt = lambda r: np.nanmean(r.vehicles["travel_time_s"])  # noqa: E731
    assert tt(a1) == tt(a2)  # same seed, same dawdling
    assert tt(a1) > tt(calm)
    assert a1.collisions == 0


def test_sigma_belongs_to_krauss():
    with pytest.raises(ValueError, match="sigma"):
        DriversModel(sigma=0.5)
    assert DriversModel(car_following="krauss", sigma=0.5).sigma == 0.5


def test_steps_above_half_a_second_are_for_krauss_only():
    with pytest.raises(ScenarioError, match=r"simulation.dt_s"):
        corridor(simulation={"dt_s": 1.0})
    assert corridor(simulation={"dt_s": 1.0}, drivers=SUMO_KRAUSS).scenario.simulation.dt_s == 1.0


@pytest.mark.parametrize("model", ["krauss", "idm"])
def test_a_queue_far_ahead_does_not_slow_the_entry(model):
    # The first vehicle stops at the red 600 m in; the second enters while it stands there and
    # enters at its desired speed (SUMO's departSpeed="desired"), not at the queue's speed.
    drivers = SUMO_KRAUSS if model == "krauss" else {}
    w = corridor(n=2, spacing=1500.0, offsets=[0.0, 0.0], entry=600.0, drivers=drivers)
    res = run_recorded(w, [20.0, 82.0], 200.0)
    tr = res.trajectories
    first = tr["vid"] == 0
    assert tr["v"][first & (tr["t"] >= 81.0) & (tr["t"] <= 83.0)].max() <= 0.1  # standing
    second = (tr["vid"] == 1) & (tr["t"] <= 86.0)
    assert tr["v"][second].min() >= 13.5  # (IDM feels the standing car 500 m ahead a little)
    assert tr["v"][second][0] == pytest.approx(50 / 3.6, abs=0.02)


@pytest.mark.parametrize(("model", "dt"), [("krauss", 0.5), ("krauss", 1.0), ("idm", 0.5)])
def test_insertion_speed_stops_behind_the_leaders_stop(model, dt):
    drivers = {**SUMO_KRAUSS} if model == "krauss" else {}
    w = corridor(n=2, drivers=drivers, simulation={"dt_s": dt})
    sim = Simulation(w, seed=0, advisory=False)
    d = w.scenario.drivers
    b, tau, s0 = d.decel_ms2, d.time_headway_s, d.min_gap_m
    gap = np.array([3.0, 10.0, 25.0, 60.0, 150.0, 10.0, 40.0])
    v_l = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 8.0, 13.0])
    v = sim._insertion_safe_speed(gap, v_l)
    assert np.all(v >= 0.0)
    if model == "krauss":
        # Hold v for tau, then brake in Euler steps: stops within the gap plus the leader's
        # own Euler braking distance, and 0.05 m/s more would not.
        room = gap - s0 + euler_brake_gap(v_l, b, dt)
        need = lambda u: u * tau + euler_brake_gap(u, b, dt)  # noqa: E731
        assert np.all(need(v) <= room + 1e-6)
        assert np.all(need(v + 0.05)[v > 0] > room[v > 0])
    else:
        room = gap - s0 + v_l**2 / (2.0 * b)
        assert np.allclose(v * tau + v**2 / (2.0 * b), np.maximum(room, 0.0), atol=1e-9)
    assert np.isinf(sim._insertion_safe_speed(np.array([np.inf]), np.array([0.0]))[0])


def test_krauss_fuel_is_evaluated_at_the_new_speed_as_sumo_does():
    # SUMO evaluates its emission models once per step at the speed the Euler update moves
    # with (the new one) and the step's acceleration; the engine's HBEFA3 fuel of a Krauss
    # trip equals that sum over its recorded trajectory (the step's mean speed would give
    # about 2-3 % less on this stop-and-go trip).
    from greenwave.sim.fuel import fuel_co2_rates

    w = _krauss_world(
        n=2,
        spacing=1500.0,
        offsets=[0.0, 0.0],
        entry=600.0,
        exit_=3000.0,
        simulation={"dt_s": 1.0, "fuel_model": "hbefa3"},
    )
    res = Simulation(
        w,
        seed=0,
        advisory=False,
        arrivals=arrivals(w, [20.0]),
        duration_s=400.0,
        warmup_s=0.0,
        record=True,
        record_routes=[0],
        drain_s=600.0,
    ).run()
    assert res.vehicles["stops"][0] >= 1
    tr = res.trajectories
    v = np.concatenate([[50 / 3.6], tr["v"]])  # entered at the limit
    a = np.diff(v)
    at_new = fuel_co2_rates(v[1:], a, model="hbefa3")[0].sum()
    at_mean = fuel_co2_rates(0.5 * (v[1:] + v[:-1]), a, model="hbefa3")[0].sum()
    fuel = res.vehicles["fuel_l"][0]
    assert fuel == pytest.approx(at_new, rel=2e-3)
    assert abs(fuel - at_mean) > 10 * abs(fuel - at_new)
