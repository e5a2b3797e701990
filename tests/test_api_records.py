"""greenwave.advice.records (optimised for the batch endpoint) gives exactly the output of the
straightforward per-vehicle implementation it replaced, kept here as the reference."""

import numpy as np
import pytest

from greenwave.advice import advise, records
from greenwave.bands import NO_SIGNAL, STATUS_NAMES, STOP
from greenwave.messages import render
from greenwave.network import World
from greenwave.scenario import load_scenario
from greenwave.spat import SpatMessage
from greenwave.timing import STATE_NAMES
from greenwave.units import kmh_to_ms, ms_to_kmh


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
            sig = {"state": STATE_NAMES[state[i]], "time_to_change_s": float(ttc[i]),
                   "time_to_change_min_s": float(ttc_min[i]),
                   "time_to_change_max_s": float(ttc_max[i])}
        opts = [{"intersections": j + 1, "min_kmh": olo_k[i][j], "max_kmh": ohi_k[i][j]}
                for j in range(len(olo_k[i])) if olo_l[i][j] == olo_l[i][j]]
        band = None if lo[i] != lo[i] else {"min_kmh": lo_kmh[i], "max_kmh": hi_kmh[i]}
        reason = None
        if st == NO_SIGNAL:
            reason = "no signalised intersection ahead on this route"
        elif st == STOP:
            reason = f"no speed within {band_txt} and the speed limit reaches the stop line on green"
        msg = render(st, None if dist[i] != dist[i] else dist[i],
                     None if band is None else (lo[i], hi[i]),
                     [(j + 1, olo_l[i][j], ohi_l[i][j]) for j in range(len(olo_l[i]))
                      if olo_l[i][j] == olo_l[i][j]])
        out.append({"status": STATUS_NAMES[st], "reason": reason, "intersection": inter_d,
                    "distance_m": None if dist[i] != dist[i] else dist[i], "signal": sig,
                    "band": band, "options": opts, "message": msg})
    return out


@pytest.mark.parametrize("scenario,n,seed", [("zibo_city.toml", 4000, 1),
                                              ("zibo_arterial.toml", 3000, 2)])
def test_records_identical_to_reference(root, scenario, n, seed):
    w = World.build(load_scenario(root / "scenarios" / scenario))
    net, timing = w.network, w.timing
    params = w.scenario.band_params()
    rng = np.random.default_rng(seed)
    # Live SPaT on a few groups, so that min/likely/max differ.
    t0 = w.epoch_s
    msgs = {g: SpatMessage(timestamp_s=t0, events=[
        {"state": "red", "min_end_s": t0 + 5, "likely_end_s": t0 + 8, "max_end_s": t0 + 12},
        {"state": "green", "min_end_s": t0 + 40, "max_end_s": t0 + 55}])
        for g in rng.choice(timing.plans.n_groups, 5, replace=False).tolist()}
    timing = timing.with_spat(msgs)
    link = rng.integers(0, net.n_links, n)  # exit links too: no signal ahead
    off = rng.uniform(0, 1, n) * net.link_length_m[link]
    speed = kmh_to_ms(rng.choice([0.0, 20.0, 35.0, 42.0, 50.0, 60.0], n) + rng.uniform(0, 3, n))
    t = t0 + rng.uniform(0, 300, n)
    for m in (1, 3):
        adv = advise(net, timing, params, link, off, speed, t, m)
        assert records(adv, net, timing, t, params, m) == \
            records_reference(adv, net, timing, t, params, m)
    # And a second call (message cache warm) still agrees.
    assert records(adv, net, timing, t, params, 3) == records_reference(adv, net, timing, t,
                                                                         params, 3)
