"""The advisories' ``plan``: the approach plan of :mod:`greenwave.plans` at the API's edge (km/h),
in the single, batch and columnar responses."""

import time

import numpy as np
import pytest

from greenwave.plans import ECO, NONE, PLAN_NAMES, SLOW, approach_plans
from greenwave.units import kmh_to_ms

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIELDS = (
    "hold_kmh",
    "cross_kmh",
    "resume_in_m",
    "resume_in_s",
    "arrival_in_s",
    "lift_off_m",
    "stop_at_m",
)


def direct_plans(svc, link, offset_m, speed_kmh, t_s):
    """greenwave.plans called directly: the next stop line, its usable green windows (no queue
    delay, the safety margin off the end), cruise at the speed limit."""
    net, timing, p = svc.world.network, svc.store.timing, svc.advisor.params
    dist, group, limit, _ = net.path_ahead(link, offset_m, 1)
    d, g, lim = dist[:, 0], group[:, 0], limit[:, 0]
    sig = g >= 0
    t = np.broadcast_to(np.asarray(t_s, dtype=float), d.shape)
    ws, we = timing.green_windows(np.where(sig, g, 0), t, p.n_windows)
    green_now = sig & (ws[:, 0] <= t) & (t < we[:, 0])
    # The start margin, less for a green start closer than the horizon.
    ahead = np.maximum(ws - t[:, None], 0.0)
    h = p.plan_start_margin_horizon_s
    margin = p.plan_start_margin_s * (np.minimum(ahead / h, 1.0) if h > 0 else 1.0)
    plans = approach_plans(
        np.where(sig, d, np.nan),
        kmh_to_ms(speed_kmh),
        lim,
        ws + margin,
        we - p.safety_margin_s,
        t,
        accel_ms2=p.accel_ms2,
        decel_ms2=p.decel_ms2,
        v_min_ms=p.band_min_ms,
        v_max_ms=np.minimum(p.band_max_ms, lim * p.max_speed_factor),
        eco_decel_ms2=p.eco_decel_ms2,
        queue_m=0.0,
        green_now=green_now,
    )
    return plans, np.where(sig, d, np.nan)


def expected(plans, i):
    """The response's plan of vehicle ``i``, from the plans in SI units."""
    k = int(plans.kind[i])
    if k == NONE:
        return None

    def num(x):
        return None if np.isnan(x) else float(x)

    resume = not np.isnan(plans.resume_in_s[i])
    return {
        "kind": PLAN_NAMES[k],
        "hold_kmh": num(plans.hold_ms[i] * 3.6),
        "cross_kmh": num(plans.cross_ms[i] * 3.6),
        "resume_in_m": num(plans.resume_dist_m[i]) if resume else None,
        "resume_in_s": num(plans.resume_in_s[i]) if resume else None,
        "arrival_in_s": num(plans.arrival_in_s[i]),
        "lift_off_m": num(plans.lift_dist_m[i]),
        "stop_at_m": num(plans.stop_dist_m[i]),
    }


def assert_same_plan(got, want):
    if want is None:
        assert got is None
        return
    assert set(got) == {"kind", *FIELDS}
    assert got["kind"] == want["kind"]
    for f in FIELDS:
        if want[f] is None:
            assert got[f] is None, f
        else:
            assert got[f] == pytest.approx(want[f], abs=5e-4 + 1e-9), f  # 3 decimals


@pytest.fixture(scope="module")
def picked(svc):
    """Vehicles (link, offset, speed) at one whole-second time whose plans are a paced
    slow_down, an eco_stop, another kind, and one with no signal ahead; found by calling
    greenwave.plans directly over a grid of positions and speeds."""
    net = svc.world.network
    range_m = svc.advisor.range_m
    links = np.arange(net.n_links)
    frac = np.linspace(0.05, 0.95, 10)
    speeds = np.array([15.0, 30.0, 45.0, 55.0])
    lk, fr, sp = (a.ravel() for a in np.meshgrid(links, frac, speeds, indexing="ij"))
    off = fr * net.link_length_m[lk]
    now = float(int(time.time()))
    for dt in range(0, 240, 7):
        t = now + dt
        plans, d = direct_plans(svc, lk, off, sp, t)
        with np.errstate(invalid="ignore"):
            near = d <= range_m
        slow = np.flatnonzero(near & (plans.kind == SLOW) & np.isfinite(plans.resume_in_s))
        eco = np.flatnonzero(near & (plans.kind == ECO))
        other = np.flatnonzero(near & ~np.isin(plans.kind, (NONE, SLOW, ECO)))
        none = np.flatnonzero(np.isnan(d))
        if slow.size and eco.size and other.size and none.size:
            rows = [slow[0], eco[0], other[0], none[0]]
            vs = [
                {
                    "link_id": net.link_ids[lk[i]],
                    "offset_m": float(off[i]),
                    "speed_kmh": float(sp[i]),
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                }
                for i in rows
            ]
            want = [expected(plans, i) for i in rows]
            return vs, want
    pytest.skip("no time found with every kind of plan")


def test_single_advisory_carries_the_plan(client, picked):
    vs, want = picked
    for v, w in zip(vs, want, strict=True):
        a = client.post("/v1/advisory", json=v).json()
        assert_same_plan(a["plan"], w)
    assert want[0]["kind"] == "slow_down" and want[0]["resume_in_m"] > 0
    assert want[1]["kind"] == "eco_stop"
    assert want[3] is None


def test_plan_fields_and_units(client, svc, picked):
    vs, want = picked
    items = client.post("/v1/advisories/batch", json={"vehicles": vs}).json()["advisories"]
    slow, eco, other, none = (a["plan"] for a in items)
    for got, w in zip((slow, eco, other, none), want, strict=True):
        assert_same_plan(got, w)
    # slow_down: slower now, back to the cruise speed (the speed limit) at the line.
    link = svc.world.network.link_index[vs[0]["link_id"]]
    assert slow["hold_kmh"] < slow["cross_kmh"]
    assert slow["resume_in_m"] > 0 and slow["resume_in_s"] > 0
    assert slow["arrival_in_s"] > slow["resume_in_s"]
    assert slow["lift_off_m"] is None and slow["stop_at_m"] is None
    assert items[0]["distance_m"] > slow["resume_in_m"]
    limit_kmh = items[0]["speed_limit_kmh"]
    assert limit_kmh == pytest.approx(svc.world.network.link_speed_limit_ms[link] * 3.6)
    # eco_stop: keep the current speed, lift off, come to rest before the line, no arrival.
    assert eco["hold_kmh"] == pytest.approx(vs[1]["speed_kmh"], abs=1e-3)
    assert eco["cross_kmh"] == 0.0 and eco["arrival_in_s"] is None
    assert eco["resume_in_m"] is None and eco["resume_in_s"] is None
    assert eco["lift_off_m"] >= eco["stop_at_m"] >= 0.0
    # No signal ahead: no plan.
    assert items[3]["status"] == "no_signal_ahead" and none is None


def test_columns_carry_the_same_plan(client, picked):
    vs, _ = picked
    items = client.post("/v1/advisories/batch", json={"vehicles": vs}).json()["advisories"]
    c = client.post("/v1/advisories/batch?format=columns", json={"vehicles": vs}).json()["columns"]
    for i, a in enumerate(items):
        p = a["plan"]
        if p is None:
            assert c["plan_kind"][i] is None
            assert all(c["plan_" + f][i] is None for f in FIELDS)
        else:
            assert c["plan_kind"][i] == p["kind"]
            assert {f: c["plan_" + f][i] for f in FIELDS} == {f: p[f] for f in FIELDS}


def test_no_plan_off_the_network_or_beyond_range(client, svc):
    net = svc.world.network
    lon, lat, _ = net.point_at(0, 10.0)
    off = client.post(
        "/v1/advisory", json={"lat": lat + 0.5, "lon": lon, "heading_deg": 0.0, "speed_kmh": 40.0}
    ).json()
    assert off["status"] == "off_network" and off["plan"] is None
    # Beyond the advisory range: no band and no plan (the same signal prediction), although
    # greenwave.plans has one.
    link = np.arange(net.n_links)
    dist, _, _, _ = net.path_ahead(link, np.zeros(net.n_links), 1)
    with np.errstate(invalid="ignore"):
        far = np.flatnonzero(dist[:, 0] > svc.advisor.range_m + 50.0)
    if not far.size:
        pytest.skip("no stop line beyond the advisory range")
    v = {"link_id": net.link_ids[far[0]], "offset_m": 0.0, "speed_kmh": 40.0}
    plans, _ = direct_plans(svc, far[:1], np.zeros(1), np.array([40.0]), time.time())
    assert plans.kind[0] != NONE
    a = client.post("/v1/advisory", json=v).json()
    assert "advisory range" in a["reason"] and a["band"] is None and a["plan"] is None


def test_openapi_documents_the_plan(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    plan = schemas["Plan"]["properties"]
    assert set(plan) == {"kind", *FIELDS}
    for f in FIELDS:
        assert plan[f]["description"]
    assert "km/h" in plan["hold_kmh"]["description"]
    assert "(m)" in plan["resume_in_m"]["description"]
    assert "plan" in schemas["Advisory"]["properties"]
    assert {"plan_kind", *("plan_" + f for f in FIELDS)} <= set(
        schemas["AdvisoryColumns"]["properties"]
    )
