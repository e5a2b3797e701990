"""greenwave.advice.records (optimised for the batch endpoint) gives exactly the output of the
straightforward per-vehicle implementation it replaced, kept here as the reference."""

import numpy as np
import pytest

from greenwave.advice import advise
from greenwave.bands import NO_SIGNAL, STATUS_NAMES, STOP
from greenwave.messages import records, render
from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.spat import SpatMessage
from greenwave.timing import STATE_NAMES
from greenwave.units import kmh_to_ms, ms_to_kmh


def plan_reference(plan, i):
    """The record's ``plan`` of vehicle ``i``, one field at a time."""
    from greenwave.plans import NONE, PLAN_NAMES

    k = int(plan.kind[i])
    if k == NONE:
        return None

    def num(x):
        x = float(x)
        return None if np.isnan(x) else float(np.round(x, 3))

    resume = not np.isnan(plan.resume_in_s[i])
    return {
        "kind": PLAN_NAMES[k],
        "hold_kmh": num(ms_to_kmh(plan.hold_ms[i])),
        "cross_kmh": num(ms_to_kmh(plan.cross_ms[i])),
        "resume_in_m": num(plan.resume_dist_m[i]) if resume else None,
        "resume_in_s": num(plan.resume_in_s[i]) if resume else None,
        "arrival_in_s": num(plan.arrival_in_s[i]),
        "lift_off_m": num(plan.lift_dist_m[i]),
        "stop_at_m": num(plan.stop_dist_m[i]),
    }


def records_reference(advice, network, timing, t_s, params, n_options=3):
    b = advice.bands
    n = b.status.shape[0]
    t = np.broadcast_to(np.asarray(t_s, dtype=float), (n,))
    g0 = advice.group[:, 0]
    has_sig = g0 >= 0
    state, ttc, ttc_min, ttc_max = timing.state(np.where(has_sig, g0, 0), t)
    inter = network.link_intersection[np.maximum(advice.stop_link[:, 0], 0)]
    status = b.status[:, 0].tolist()
    dist = advice.dist_m[:, 0].tolist()
    lo, hi = b.lo_ms[:, 0].tolist(), b.hi_ms[:, 0].tolist()
    lo_kmh, hi_kmh = ms_to_kmh(b.lo_ms[:, 0]).tolist(), ms_to_kmh(b.hi_ms[:, 0]).tolist()
    olo, ohi = b.options(n_options)
    olo_l, ohi_l = olo.tolist(), ohi.tolist()
    olo_k, ohi_k = ms_to_kmh(olo).tolist(), ms_to_kmh(ohi).tolist()
    band_txt = f"{ms_to_kmh(params.band_min_ms):g}–{ms_to_kmh(params.band_max_ms):g} km/h"
    out = []
    for i in range(n):
        st = status[i]
        sig = None
        inter_d = None
        if has_sig[i]:
            k = int(inter[i])
            inter_d = {"id": network.intersection_ids[k], "name": network.intersection_names[k]}
            sig = {
                "state": STATE_NAMES[state[i]],
                "time_to_change_s": float(ttc[i]),
                "time_to_change_min_s": float(ttc_min[i]),
                "time_to_change_max_s": float(ttc_max[i]),
            }
        opts = [
            {"intersections": j + 1, "min_kmh": olo_k[i][j], "max_kmh": ohi_k[i][j]}
            for j in range(len(olo_k[i]))
            if olo_l[i][j] == olo_l[i][j]
        ]
        band = None if lo[i] != lo[i] else {"min_kmh": lo_kmh[i], "max_kmh": hi_kmh[i]}
        reason = None
        if st == NO_SIGNAL:
            reason = "no signalised intersection ahead on this route"
        elif st == STOP:
            reason = (
                f"no speed within {band_txt} and the speed limit reaches the stop line on green"
            )
        msg = render(
            st,
            None if dist[i] != dist[i] else dist[i],
            None if band is None else (lo[i], hi[i]),
            [
                (j + 1, olo_l[i][j], ohi_l[i][j])
                for j in range(len(olo_l[i]))
                if olo_l[i][j] == olo_l[i][j]
            ],
        )
        out.append(
            {
                "status": STATUS_NAMES[st],
                "reason": reason,
                "intersection": inter_d,
                "distance_m": None if dist[i] != dist[i] else dist[i],
                "signal": sig,
                "band": band,
                "options": opts,
                "plan": plan_reference(advice.plan, i),
                "message": msg,
            }
        )
    return out


@pytest.mark.parametrize(
    "scenario,n,seed", [("zibo_city.toml", 4000, 1), ("zibo_arterial.toml", 3000, 2)]
)
def test_records_identical_to_reference(root, scenario, n, seed):
    w = World.build(load_scenario(root / "scenarios" / scenario))
    net, timing = w.network, w.timing
    params = w.scenario.band_params()
    rng = np.random.default_rng(seed)
    # Live SPaT on a few groups, so that min/likely/max differ.
    t0 = w.epoch_s
    msgs = {
        g: SpatMessage(
            timestamp_s=t0,
            events=[
                {"state": "red", "min_end_s": t0 + 5, "likely_end_s": t0 + 8, "max_end_s": t0 + 12},
                {"state": "green", "min_end_s": t0 + 40, "max_end_s": t0 + 55},
            ],
        )
        for g in rng.choice(timing.plans.n_groups, 5, replace=False).tolist()
    }
    timing = timing.with_spat(msgs)
    link = rng.integers(0, net.n_links, n)  # exit links too: no signal ahead
    off = rng.uniform(0, 1, n) * net.link_length_m[link]
    speed = kmh_to_ms(rng.choice([0.0, 20.0, 35.0, 42.0, 50.0, 60.0], n) + rng.uniform(0, 3, n))
    t = t0 + rng.uniform(0, 300, n)
    for m in (1, 3):
        adv = advise(net, timing, params, link, off, speed, t, m)
        assert records(adv, net, timing, t, params, m) == records_reference(
            adv, net, timing, t, params, m
        )
    # And a second call (message cache warm) still agrees.
    assert records(adv, net, timing, t, params, 3) == records_reference(
        adv, net, timing, t, params, 3
    )


# --------------------------------------------------------------------------- the API's encoder
def api_reference(svc, body_vehicles, now):
    """Per-vehicle advisories built the straightforward way: records() dicts plus the service's
    fields, one vehicle at a time (the implementation api.encode replaced)."""
    from greenwave.api.advisories import OFF_NETWORK_MESSAGE
    from greenwave.api.columns import Vehicles
    from greenwave.api.schemas import iso
    from greenwave.messages import round_distance_m

    adv = svc.advisor
    net = adv.network
    v = Vehicles.from_requests(body_vehicles, [now] * len(body_vehicles), net)
    n = len(v)
    link, offset = v.link.copy(), v.offset_m.copy()
    lateral = np.full(n, np.nan)
    slon, slat = np.full(n, np.nan), np.full(n, np.nan)
    code, brg = np.zeros(n, int), np.full(n, np.nan)
    gps = np.flatnonzero(link < 0)
    m = adv.matcher.match(v.lon[gps], v.lat[gps], v.heading_deg[gps])
    link[gps], offset[gps], lateral[gps] = m.link, m.offset_m, m.lateral_m
    slon[gps], slat[gps], code[gps], brg[gps] = m.lon, m.lat, m.code, m.nearest_bearing_deg
    lk = np.flatnonzero(v.link >= 0)
    slon[lk], slat[lk], _ = adv.matcher.locate(link[lk], offset[lk])
    on = np.flatnonzero(link >= 0)
    a = advise(
        net,
        adv.store.timing,
        adv.params,
        link[on],
        offset[on],
        kmh_to_ms(v.speed_kmh[on]),
        v.t_s[on],
        adv.ahead,
    )
    recs = dict(
        zip(
            on.tolist(),
            records(a, net, adv.store.timing, v.t_s[on], adv.params, adv.ahead),
            strict=True,
        )
    )
    keys = adv.store.timing.plans.group_keys
    group = {
        i: None if g < 0 else keys[g][1]
        for i, g in zip(on.tolist(), a.group[:, 0].tolist(), strict=True)
    }
    limit = np.round(ms_to_kmh(net.link_speed_limit_ms), 6)
    rng = f"{adv.range_m:g}"
    out = []
    for i in range(n):
        r = recs.get(i)
        if r is None:
            r = {
                "status": "off_network",
                "reason": adv._off_reason(code[i], v.heading_deg[i], brg[i]),
                "intersection": None,
                "distance_m": None,
                "signal": None,
                "band": None,
                "options": [],
                "plan": None,
                "message": dict(OFF_NETWORK_MESSAGE),
                "link_id": None,
                "offset_m": None,
                "snapped": None,
                "speed_limit_kmh": None,
            }
        else:
            if r["distance_m"] is not None and r["distance_m"] > adv.range_m:
                d = round_distance_m(r["distance_m"])
                r.update(
                    status="no_signal_ahead",
                    band=None,
                    options=[],
                    plan=None,
                    reason=f"the next stop line is {r['distance_m']:.0f} m ahead, beyond "
                    f"the advisory range of {rng} m",
                    message={
                        "zh": f"距离前方路口{d}米,进入{rng}米范围后提供绿波车速",
                        "en": f"{d} m to the next intersection: speed advice starts within {rng} m",
                    },
                )
            k = int(link[i])
            r.update(
                link_id=net.link_ids[k],
                offset_m=float(offset[i]),
                snapped={"lat": float(slat[i]), "lon": float(slon[i])},
                speed_limit_kmh=float(limit[k]),
            )
        r.update(
            turn="through",
            signal_group=group.get(i),
            vehicle_id=v.vehicle_id[i],
            lateral_m=None if np.isnan(lateral[i]) else float(lateral[i]),
            valid_for_s=adv.valid_for_s,
            timestamp=iso(float(v.t_s[i])),
            generated_at=iso(now),
        )
        out.append(r)
    return out


def mixed_vehicles(net, matcher, n, seed):
    """GPS fixes (matched, wrong direction, off the road), link positions, timestamps and
    vehicle ids that JSON must escape."""
    import time

    rng = np.random.default_rng(seed)
    link = rng.integers(0, net.n_links, n)
    off = rng.uniform(0, 1, n) * net.link_length_m[link]
    lon, lat, brg = matcher.locate(link, off)
    now = time.time()
    out = []
    for i in range(n):
        v = {"speed_kmh": float(rng.choice([0.0, 20.0, 42.5, 60.0]) + rng.uniform(0, 2))}
        kind = i % 5
        if kind == 0:
            v.update(link_id=net.link_ids[link[i]], offset_m=float(off[i]))
        else:
            heading = (brg[i] + (180.0 if kind == 1 else 0.0)) % 360.0
            v.update(
                lat=float(lat[i]) + (0.05 if kind == 2 else 0.0),
                lon=float(lon[i]),
                heading_deg=float(heading),
            )
        if i % 3 == 0:
            v["vehicle_id"] = [f"car-{i}", f'quote"{i}', f"tab\t\\{i}", f"路{i}"][i % 4]
        if i % 7 == 0:
            v["timestamp"] = time.strftime(
                "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + rng.uniform(-3600, 3600))
            )
        out.append(v)
    return out


@pytest.fixture(scope="module")
def city_service(root, tmp_path_factory):
    from greenwave.api.main import build_service
    from greenwave.api.settings import Settings

    return build_service(
        Settings(
            scenario=root / "scenarios" / "zibo_city.toml",
            state_dir=tmp_path_factory.mktemp("state"),
        )
    )


def test_encoder_equals_records_plus_service_fields(city_service):
    """api.encode writes, without a dict per vehicle, exactly what records() and the service's
    fields give one vehicle at a time."""
    import time

    import orjson

    from greenwave.api.schemas import ADVISORY

    svc = city_service
    vs = mixed_vehicles(svc.world.network, svc.advisor.matcher, 2000, 4)
    reqs = [ADVISORY.validate_python(v, context=svc.context) for v in vs]
    now = time.time()
    expected = api_reference(svc, reqs, now)
    got = svc.advisor.encoder.items(svc.advisor.from_requests(reqs, now))
    got = [orjson.loads(b) for b in got]
    assert {r["status"] for r in got} == {
        "advice",
        "proceed",
        "prepare_to_stop",
        "no_signal_ahead",
        "off_network",
    }
    assert any("advisory range" in (r["reason"] or "") for r in got)
    assert any("direction of travel" in (r["reason"] or "") for r in got)
    assert got == expected
