"""The physics tick compiled with numba: the numpy tick of :mod:`sim.engine`, fused into loops.

Why: the numpy tick costs ~150 array operations per step; at 10k+ vehicles each is a pass over
memory, and numpy's per-element cost caps the tick near 2-3 M vehicle-steps/s.  Here the same
steps run as a few loops over the vehicles (``numba.njit``), each vehicle's quantities staying
in registers.

Contract: every kernel evaluates the same expressions in the same order as its numpy
counterpart (named in its docstring), with no fast-math, so the compiled tick moves every
vehicle exactly as the numpy tick does, bit for bit (``tests/test_fastpath.py`` runs both on
the same scenarios and compares positions, speeds and counters).  The fuel and CO2 rates
differ in their last bit or two: the compiled tick takes exp with its own arithmetic
(:func:`_exp_parts`, within 1.1 ulp, so that the loop of rates vectorises), numpy's exp is
within 0.6 ulp; the rates never feed back into the motion.

What stays in numpy / Python (in :meth:`sim.engine.Simulation._step_compiled`): numpy's stable
sort of the vehicles by lane where :func:`sort_lanes`'s merge gives up, the signal states under
live SPaT (fixed-time plans: :func:`sync_plan_signals`), the record of stop-line crossings when
one is kept, and the new vehicles' state once :func:`insertion` has chosen who enters.  The
per-event updates run in small kernels: stop lines crossed and link changes
(:func:`cross_and_move`), lane changes (:func:`apply_lane_changes`, :func:`resort_lanes`) and
exits (:func:`exit_done`).

numba is an optional extra (``pip install greenwave[fast]``); without it the numpy tick runs.
Model sources are in :mod:`sim.carfollow` and :mod:`sim.fuel`; the scalar functions below are
their one-vehicle forms.
"""

from __future__ import annotations

import math
import threading
import types

import numpy as np

try:  # optional: the numpy tick is the reference and the fallback
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised where numba is not installed
    AVAILABLE = False

    prange = range

    def njit(*args, **kwargs):
        def wrap(f):
            return f

        return wrap if not (args and callable(args[0])) else args[0]


from greenwave.movements import LEFT, RIGHT, THROUGH
from greenwave.timing import AMBER, GREEN, RED

from .carfollow import EMERGENCY_DECEL_MS2
from .driver import FOLLOW_GAP_FACTOR, QUEUE_SPEED_MS, SAME_ADVICE_MS
from .engine import (  # sim.engine imports this module only when a simulation uses it
    CRITICAL_GAP_LEFT_S,
    CROSS_EPS_M,
    LANE_CHANGE_COOLDOWN_S,
    LANE_CHANGE_MIN_OFFSET_M,
    LANE_CHANGE_SLOW_MS,
    LOOKAHEAD_HOPS,
    LOOKAHEAD_M,
    MOBIL_B_SAFE_MS2,
    MOBIL_LOOK_M,
    MOBIL_POLITENESS,
    MOBIL_SLOWER_MS,
    MOBIL_THRESHOLD_MS2,
    SNEAKER_DIST_M,
    STOP_END_SPEED_MS,
    STOP_SPEED_MS,
)
from .fuel import (
    _HBEFA3_CO2_G_S,
    _HBEFA3_FUEL_L_S,
    _VTMICRO_PAIR_COLUMNS,
    _VTMICRO_POWER_KNEE_MS,
    _VTMICRO_SPEED_MAX_MS,
    HBEFA3_COAST_DECEL_COEFFS,
    HBEFA3_COAST_MIN_SPEED_MS,
    HBEFA3_ZERO_SPEED_MS,
    VTMICRO_ACCEL_MIN_MS2,
    VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG,
)

INF = math.inf

# VT-Micro fuel and CO2 surfaces (rows 0-7 fuel, 8-15 CO2: matrix L/M x power of a), speed
# polynomial coefficients by power of v, flattened row by row (64,): a tuple, which numba
# compiles in as constants.
_VT_ROWS = tuple(
    float(x) for x in np.hstack([c.reshape(-1, 1) for c in _VTMICRO_PAIR_COLUMNS]).ravel()
)
_HB_FUEL = np.asarray(_HBEFA3_FUEL_L_S, dtype=np.float64)
_HB_CO2 = np.asarray(_HBEFA3_CO2_G_S, dtype=np.float64)
_HB_COAST = np.asarray(HBEFA3_COAST_DECEL_COEFFS, dtype=np.float64)

# exp for the fuel and CO2 rates, in arithmetic the compiler can vectorise (libm's exp is a
# call per value, which it cannot): Cody & Waite's argument reduction, exp x = 2^k exp r with
# k = round(x / ln 2) and r = x - k ln 2 (|r| <= ln 2 / 2; ln 2 split into a high part with
# trailing zeros, so k * _LN2_HI is exact, and the rest), then exp r by its Taylor polynomial to
# degree 13 (the remainder is below 1e-17 relative).  W. J. Cody and W. Waite, Software
# Manual for the Elementary Functions, Prentice-Hall, 1980, ch. 6.  Within 1.1 ulp of the
# exact value (numpy's exp: 0.6; checked in tests/test_fastpath.py); the rates never feed
# back into the motion.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(14))
_EXP_X_MAX = 700.0  # |x| clipped here (the VT-Micro exponents lie within [-8, 5])


# ----------------------------------------------------------------- one-vehicle model forms
@njit(cache=True, error_model="numpy")
def idm_free(v, v0, a_max):
    """:func:`sim.carfollow.idm_free` for one vehicle."""
    r = v / v0
    r *= r
    return a_max * (1.0 - r * r)


@njit(cache=True, error_model="numpy")
def idm_interaction(v, dv, gap, a_max, b, T, s0):
    """:func:`sim.carfollow.idm_interaction` for one vehicle."""
    s_star = s0 + max(v * T + v * dv / (2.0 * math.sqrt(a_max * b)), 0.0)
    ratio = s_star / max(gap, 1e-3)
    return -a_max * ratio * ratio


@njit(cache=True, error_model="numpy")
def safe_speed(v, gap, v_leader, dt, decel):
    """:func:`sim.carfollow.safe_speed` for one vehicle."""
    room = gap + v_leader * v_leader / (2.0 * decel) - v * dt / 2.0
    half = decel * dt / 2.0
    return max(-half + math.sqrt(max(half * half + 2.0 * decel * room, 0.0)), 0.0)


@njit(cache=True, error_model="numpy")
def safe_accel(v, gap, v_leader, dt, decel):
    """:func:`sim.carfollow.safe_accel` for one vehicle."""
    room = max(gap + v_leader * v_leader / (2.0 * decel), 0.0)
    a = (safe_speed(v, gap, v_leader, dt, decel) - v) / dt
    if v * dt > 2.0 * room:
        return min(a, -v * v / (2.0 * max(room, 1e-12)))
    return a


@njit(cache=True, error_model="numpy")
def euler_brake_gap(speed, decel, dt):
    """:func:`sim.carfollow.euler_brake_gap` for one vehicle."""
    v = max(speed, 0.0)
    step = decel * dt
    m = math.floor(v / step)
    return dt * (m * v - step * m * (m + 1.0) / 2.0)


@njit(cache=True, error_model="numpy")
def euler_safe_speed(gap, decel, dt, hold):
    """:func:`sim.carfollow.euler_safe_speed` for one vehicle; ``hold`` (s) >= ``dt``."""
    if not math.isfinite(gap):
        return INF
    g = max(gap, 0.0)
    step = decel * dt
    bt = decel * (hold - 0.5 * dt)
    est = -bt + math.sqrt(bt * bt + 2.0 * decel * g)
    m0 = math.floor(est / step)
    best = 0.0
    for dm in (-1.0, 0.0, 1.0):
        m = max(m0 + dm, 0.0)
        v = (g + step * dt * m * (m + 1.0) / 2.0) / (m * dt + hold)
        if (v >= m * step - 1e-12) and (v < (m + 1.0) * step + 1e-12):
            best = max(best, v)
    return best


@njit(cache=True, error_model="numpy")
def lane_on(link, turn, lane, link_lanes):
    """:meth:`sim.engine.Simulation._lane_on` for one vehicle (``turn`` at that link)."""
    nl = link_lanes[link]
    if turn == LEFT:
        return nl - 1
    if turn == RIGHT:
        return 0
    return min(lane, nl - 1)


@njit(cache=True, error_model="numpy")
def idm_acc(vv, vd, gap, vl, a, b, T, s0):
    """IDM with or without a leader (``gap`` inf: none), as ``idm`` in ``_change_lanes``."""
    out = idm_free(vv, vd, a)
    if math.isfinite(gap):
        return out + idm_interaction(vv, vv - vl, gap, a, b, T, s0)
    return out + 0.0


# ----------------------------------------------------------------------------- the tick
def prepare(
    t, dt, krauss, decel, amber_decel, al, pos, v, v_des, target, pend_v, pend_t, then_v,
    then_t, stop_pos, grp, stop_turn_slot, stop_opp, stop_opp_grp, link, link_start, link_end,
    lane, max_lanes, sig_state, committed, accel, n_links, eta_scratch,
):  # fmt: skip
    """Signals and obstacles: the part of ``_step`` before lane changes and leaders.

    Activates pending targets (reaction time) and plan resumptions, works out each vehicle's
    signal state, amber commitment, stop-line obstacle and permitted-left yields.  Arrays (n,)
    updated in place: ``target, pend_t, then_t, committed``.  Returns ``offs`` (n,) m along
    the link, ``lane_id`` (n,) link * max_lanes + lane, ``st`` (n,) int8,
    ``dist`` (n,) m to the stop line, ``stop_turn`` (n,), ``obstacle`` (n,) bool and the
    number of vehicles that yielded this step.
    """
    n = al.size
    offs = np.empty(n)
    lane_id = np.empty(n, dtype=np.int64)
    st = np.empty(n, dtype=np.int8)
    dist = np.empty(n)
    stop_turn = np.empty(n, dtype=np.int64)
    obstacle = np.zeros(n, dtype=np.bool_)
    permitted = np.zeros(n, dtype=np.bool_)
    n_permitted = 0
    for i in prange(n):
        offs[i] = pos[i] - link_start[i]
        lane_id[i] = link[i] * max_lanes + lane[i]
        if al[i] and pend_t[i] <= t:
            target[i] = pend_v[i]
            pend_t[i] = INF
        if al[i] and then_t[i] <= t and math.isinf(pend_t[i]):
            target[i] = then_v[i]
            then_t[i] = INF
        has_sig = al[i] and grp[i] >= 0
        s = sig_state[grp[i]] if has_sig else np.int8(GREEN)
        st[i] = s
        d = stop_pos[i] - pos[i]
        dist[i] = d
        if s == GREEN:
            committed[i] = False
        amber = s == AMBER
        if krauss:
            v_next = v[i] - decel * dt
            cannot_stop = v_next > euler_safe_speed(max(d, 0.0), decel, dt, dt) + 1e-9
        else:
            cannot_stop = v[i] * v[i] > 2.0 * amber_decel * max(d, 1e-9)
        if amber and cannot_stop and not committed[i] and d > 0:
            committed[i] = True
        turn = stop_turn_slot[i] if has_sig else THROUGH
        stop_turn[i] = turn
        if has_sig and turn == LEFT:
            if amber and d < SNEAKER_DIST_M:
                committed[i] = True
            og = stop_opp_grp[i]
            if stop_opp[i] >= 0 and og >= 0 and sig_state[og] != RED:
                permitted[i] = True
                n_permitted += 1
        obstacle[i] = has_sig and (s == RED or amber) and not committed[i]
    yielded = 0
    if n_permitted == 0:
        return offs, lane_id, st, dist, stop_turn, obstacle, yielded
    # Soonest arrival at the stop line per link among vehicles that will cross (Simulation.
    # _oncoming_eta): what a permitted left turn from the opposite approach waits for.
    # Both branches' times worked out and one picked (selects, not jumps, so that the loop can
    # vectorise: −10 % on the city; each time is the same arithmetic as before, the same bits).
    tt = np.empty(n)
    for i in prange(n):
        use = al[i] and grp[i] >= 0 and not obstacle[i] and stop_turn[i] != LEFT
        vs = v[i]
        dd = max(link_end[i] - pos[i], 0.0)
        vd = max(v_des[i], vs)
        d_acc = (vd * vd - vs * vs) / (2.0 * accel)
        t_acc = (math.sqrt(vs * vs + 2.0 * accel * dd) - vs) / accel
        t_cruise = (vd - vs) / accel + (dd - d_acc) / max(vd, 0.1)
        tt[i] = (t_acc if dd <= d_acc else t_cruise) if use else INF
    eta = eta_scratch
    eta[:] = INF
    for i in range(n):
        li = link[i]
        eta[li] = min(eta[li], tt[i])
    for i in prange(n):
        if permitted[i] and eta[stop_opp[i]] < CRITICAL_GAP_LEFT_S:
            if not obstacle[i]:
                yielded += 1
            obstacle[i] = True
    return offs, lane_id, st, dist, stop_turn, obstacle, yielded


@njit(cache=True, error_model="numpy")
def sort_lanes(al, lane_id, offs, order, key_scale, sorted_lane):
    """:meth:`sim.engine.Simulation._sort` by merging: the same order, keys and count.

    Between two sorts few vehicles change lane or link (or enter); the others keep their lane
    and, nobody overtaking on a lane, their order.  So the vehicles still on the lane they had
    at the last sort (``sorted_lane`` (cap,), per slot, -1 if none; updated here) are taken in
    the last order, checked to be sorted, and merged with the few others sorted apart: a
    stable argsort's result (by key, then position in ``order``; empty slots last) in two
    passes instead of a timsort (7 against 12 ns per slot on inputs captured from the city at
    9,000 vehicles).  Should the check fail (vehicles on one lane out of order) it gives up:
    ``ok`` False, and the caller sorts.  Returns ``ok``, the new order (n,), the keys in it
    (n,; with ``ok`` False the keys in ``order``'s order), the number of alive vehicles (first
    in the order) and their lane ids in it (n,; -1 after them; meaningless with ``ok``
    False), which spare the kernels after it gathering them.  ``order`` may be shorter than
    the n = ``al.size`` slots: the slots taken since it was made follow it in slot order.
    """
    n = al.size
    n_o = order.size
    ks = np.empty(n)
    keep = np.empty(n, dtype=np.int64)
    keep_lane = np.empty(n, dtype=np.int64)
    move = np.empty(n, dtype=np.int64)
    dead = np.empty(n, dtype=np.int64)
    n_keep = 0
    n_move = 0
    n_dead = 0
    last = -INF
    ok = True
    for j in range(n):
        i = order[j] if j < n_o else j
        if al[i]:
            li = lane_id[i]
            k = li * key_scale + offs[i]
            ks[j] = k
            if sorted_lane[i] == li:
                ok = ok and k >= last  # False for NaN too
                last = k
                keep[n_keep] = j
                keep_lane[n_keep] = li
                n_keep += 1
            else:
                move[n_move] = j
                n_move += 1
        else:
            ks[j] = INF
            dead[n_dead] = j
            n_dead += 1
    if not ok:
        return False, order, ks, 0, keep
    mv = move[:n_move]
    mv = mv[np.argsort(ks[mv], kind="mergesort")]  # stable: ties stay in order's order
    out, ks_out, lane_s = _merge(
        order, ks, keep[:n_keep], keep_lane[:n_keep], mv, lane_id, sorted_lane
    )
    w = n_keep + n_move
    for q in range(n_dead):
        j = dead[q]
        i = order[j] if j < n_o else j
        out[w + q] = i
        ks_out[w + q] = INF
        lane_s[w + q] = -1
        sorted_lane[i] = -1
    return True, out, ks_out, w, lane_s


@njit(cache=True, error_model="numpy")
def _merge(order, ks, keep, keep_lane, move, lane_id, sorted_lane):
    """Merge the positions ``keep`` (lane ids ``keep_lane``) and ``move`` of ``order`` (each
    sorted by ``ks``, then position; positions past ``order``'s end are the slots of the same
    number) into the first ``keep.size + move.size`` places of a new order, with their keys
    and lane ids; records the movers' lanes in ``sorted_lane``."""
    n = ks.size
    n_o = order.size
    n_keep, n_move = keep.size, move.size
    out = np.empty(n, dtype=np.int64)
    ks_out = np.empty(n)
    lane_s = np.empty(n, dtype=np.int64)
    a = 0
    b = 0
    kb = ks[move[0]] if n_move else INF
    for w in range(n_keep + n_move):
        if b < n_move:
            ka = ks[keep[a]] if a < n_keep else INF
            if a < n_keep and (ka < kb or (ka == kb and keep[a] < move[b])):
                j = keep[a]
                lane_s[w] = keep_lane[a]
                a += 1
                kj = ka
            else:
                j = move[b]
                b += 1
                kj = kb
                kb = ks[move[b]] if b < n_move else INF
                i = order[j] if j < n_o else j
                sorted_lane[i] = lane_s[w] = lane_id[i]
        else:
            j = keep[a]
            lane_s[w] = keep_lane[a]
            a += 1
            kj = ks[j]
        out[w] = order[j] if j < n_o else j
        ks_out[w] = kj
    return out, ks_out, lane_s


@njit(cache=True, error_model="numpy")
def apply_lane_changes(
    t, best, ks, n_al, link, lane, lane_id, offs, lc_until, lc_count, key_scale, max_lanes,
    vslot,
):  # fmt: skip
    """:meth:`sim.engine.Simulation._apply_lane_changes` for MOBIL's choice ``best`` (n,; new
    lane, -1: stay): one driver per target gap, the one further ahead (ties: the lower
    ``vslot``, the slot without relabelling).  Updates ``lane, lane_id, lc_until, lc_count``
    in place; returns the slots that changed lane, in the engine's order (by target lane, gap,
    then position from the front)."""
    n_m = 0
    for i in range(best.size):
        if best[i] >= 0:
            n_m += 1
    movers = np.empty(n_m, dtype=np.int64)
    k = 0
    for i in range(best.size):
        if best[i] >= 0:
            movers[k] = i
            k += 1
    movers = movers[np.argsort(vslot[movers])]  # distinct: any sort gives their order
    new_lane = best[movers]
    tkey = link[movers] * max_lanes + new_lane
    at = np.searchsorted(ks[:n_al], tkey * key_scale + offs[movers])
    # np.lexsort((-offs, at, tkey)) as stable sorts from the last key to the first.
    o = np.argsort(-offs[movers], kind="mergesort")
    o = o[np.argsort(at[o], kind="mergesort")]
    o = o[np.argsort(tkey[o], kind="mergesort")]
    out = np.empty(n_m, dtype=np.int64)
    m = 0
    for q in range(n_m):
        if q > 0 and tkey[o[q]] == tkey[o[q - 1]] and at[o[q]] == at[o[q - 1]]:
            continue
        s = movers[o[q]]
        lane[s] = new_lane[o[q]]
        lane_id[s] = link[s] * max_lanes + new_lane[o[q]]
        lc_until[s] = t + LANE_CHANGE_COOLDOWN_S
        lc_count[s] += 1
        out[m] = s
        m += 1
    return out[:m]


@njit(cache=True, error_model="numpy")
def resort_lanes(order, ks, lane_s, n_al, movers, lane_id, offs, key_scale, sorted_lane, max_lanes):
    """:func:`sort_lanes` right after it, once ``movers`` (slots) changed lane, in place:
    ``order, ks, lane_s`` (n,), the last sort's result with ``n_al`` alive vehicles, become
    the new sort's (returned).  The same result as a stable argsort of the new keys.

    A lane change keeps a vehicle on its link, and a link's lanes are one block of the order
    (lane id = link * ``max_lanes`` + lane; keys lane id * ``key_scale`` + offset, offsets
    below ``key_scale``), so only the blocks of the movers' links change: each is sorted again
    by insertion (its other vehicles are in order already; ties keep their places), a few
    dozen vehicles instead of a pass over all.  Records the movers' lanes in
    ``sorted_lane``."""
    links = np.unique(lane_id[movers] // max_lanes)
    lanes = lane_s[:n_al]  # ascending: the blocks are found by lane id, not by float keys
    for q in range(links.size):
        lo = np.searchsorted(lanes, links[q] * max_lanes)
        hi = np.searchsorted(lanes, (links[q] + 1) * max_lanes)
        for j in range(lo, hi):
            i = order[j]
            if sorted_lane[i] != lane_id[i]:  # a mover (the others kept their lane)
                ks[j] = lane_id[i] * key_scale + offs[i]
        for j in range(lo + 1, hi):
            i = order[j]
            k = ks[j]
            w = j
            while w > lo and ks[w - 1] > k:
                order[w] = order[w - 1]
                ks[w] = ks[w - 1]
                w -= 1
            order[w] = i
            ks[w] = k
        for j in range(lo, hi):
            i = order[j]
            lane_s[j] = sorted_lane[i] = lane_id[i]
    return order, ks, lane_s


def lane_change_candidates(
    t, al, link, next_turn, lc_until, link_lanes, link_end, pos, offs, v, v_des, gap_prev,
    vl_prev, length,
):  # fmt: skip
    """Drivers who look for another lane this step (``_change_lanes``'s ``cand``), (n,) bool."""
    n = al.size
    cand = np.zeros(n, dtype=np.bool_)
    for i in prange(n):
        if not al[i] or link_lanes[link[i]] < 2 or next_turn[i] != THROUGH or lc_until[i] > t:
            continue
        to_end = link_end[i] - pos[i]
        if to_end <= LANE_CHANGE_MIN_OFFSET_M and not v[i] < LANE_CHANGE_SLOW_MS:
            continue
        if not (to_end > length) or not (offs[i] > LANE_CHANGE_MIN_OFFSET_M):
            continue
        cand[i] = gap_prev[i] < MOBIL_LOOK_M and vl_prev[i] < v_des[i] - MOBIL_SLOWER_MS
    return cand


@njit(cache=True, error_model="numpy")
def _neighbour(i_sorted, lane_of, order, lane_s, n_al):
    if i_sorted < 0 or i_sorted >= n_al or n_al == 0:
        return -1
    return order[i_sorted] if lane_s[i_sorted] == lane_of else -1


@njit(cache=True, error_model="numpy")
def _place_in(ks, start, stop, key):
    """``np.searchsorted(ks, key)`` for a key of the lane whose block in the sorted keys
    ``ks`` is [start, stop) (start -1: no vehicle on it, and any place will do): searched
    within the block, checked against its neighbours (the whole array if they disagree)."""
    if start < 0:
        return 0
    at = start + np.searchsorted(ks[start:stop], key)
    if (at == start and start > 0 and ks[start - 1] >= key) or (
        at == stop and stop < ks.size and ks[stop] < key
    ):
        return np.searchsorted(ks, key)
    return at


@njit(cache=True, error_model="numpy")
def _gap_to(front, back, offs, length):
    return offs[front] - offs[back] - length if front >= 0 else INF


@njit(cache=True, error_model="numpy")
def _krauss_safe(gap, vl, min_gap, decel, dt, tau):
    g = gap if math.isfinite(gap) else 1e6
    return euler_safe_speed(g - min_gap + euler_brake_gap(vl, decel, dt), decel, dt, max(tau, dt))


def lane_change_choice(
    cand, order, ks, n_al, lane_s, lane_id, lane, link, link_lanes, offs, v, v_des, obstacle, dist,
    key_scale, max_lanes, krauss, dt, a, b, T, s0, length,
):  # fmt: skip
    """MOBIL's choice per candidate (``_change_lanes`` up to ``best_lane``): the new lane
    (n,) int, -1 where the driver stays."""
    n = cand.size
    best_lane = np.full(n, -1, dtype=np.int64)
    # Each lane's block [first, end) in the order: a driver's place and the gap on a lane
    # beside are searched for within one block (a few vehicles) instead of all of them.
    first = np.full(link_lanes.size * max_lanes, -1, dtype=np.int64)
    end = np.empty(link_lanes.size * max_lanes, dtype=np.int64)
    for j in prange(n_al):
        if j == 0 or lane_s[j - 1] != lane_s[j]:
            first[lane_s[j]] = j
        if j == n_al - 1 or lane_s[j + 1] != lane_s[j]:
            end[lane_s[j]] = j + 1
    ks_al = ks[:n_al]
    # In the order, so that a driver's place is where the loop is and the drivers beside are
    # near the last one's (the same choices as in slot order: each is the driver's own).
    for ic in prange(n_al):
        c = order[ic]
        if not cand[c]:
            continue
        vc, vdc = v[c], v_des[c]
        # The terms of the driver's own lane, worked out once a side turns out safe: more
        # than half of the sides are not (56 % on the city: a gap too small or a follower
        # that would brake too hard), and an unsafe side's gain is never looked at.
        own = False
        stop_acc = INF
        a_c = 0.0
        a_o = 0.0
        a_o_new = 0.0
        best_gain = -INF
        for side in (-1, 1):
            new_lane = lane[c] + side
            if not (new_lane >= 0 and new_lane < link_lanes[link[c]]):
                continue
            tid = link[c] * max_lanes + new_lane
            at = _place_in(ks_al, first[tid], end[tid], tid * key_scale + offs[c])
            nlead = _neighbour(at, tid, order, lane_s, n_al)
            nback = _neighbour(at - 1, tid, order, lane_s, n_al)
            g_new = _gap_to(nlead, c, offs, length)
            nb = nback >= 0
            g_back = offs[c] - offs[nback] - length if nb else INF
            if not (g_new > 0.0 and g_back > 0.0):
                continue
            vl_new = v[nlead] if nlead >= 0 else 0.0
            a_n_new = idm_acc(v[nback], v_des[nback], g_back, vc, a, b, T, s0) if nb else 0.0
            if not a_n_new >= -MOBIL_B_SAFE_MS2:
                continue
            if krauss:
                if nb and not (
                    v[nback] - _krauss_safe(g_back, vc, s0, b, dt, T) <= MOBIL_B_SAFE_MS2 * dt
                ):
                    continue
                if nlead >= 0 and not (
                    vc - _krauss_safe(g_new, vl_new, s0, b, dt, T) <= MOBIL_B_SAFE_MS2 * dt
                ):
                    continue
            if not own:
                own = True
                lead = _neighbour(ic + 1, lane_id[c], order, lane_s, n_al)
                back = _neighbour(ic - 1, lane_id[c], order, lane_s, n_al)
                g_c = _gap_to(lead, c, offs, length)
                vl_c = v[lead] if lead >= 0 else 0.0
                if obstacle[c]:
                    stop_acc = idm_interaction(vc, vc, dist[c] + s0, a, b, T, s0) + idm_free(
                        vc, vdc, a
                    )
                a_c = min(idm_acc(vc, vdc, g_c, vl_c, a, b, T, s0), stop_acc)
                if back >= 0:
                    g_oc = _gap_to(c, back, offs, length)
                    a_o = idm_acc(v[back], v_des[back], g_oc, vc, a, b, T, s0)
                    a_o_new = idm_acc(v[back], v_des[back], g_c + length + g_oc, vl_c, a, b, T, s0)
            a_c_new = min(idm_acc(vc, vdc, g_new, vl_new, a, b, T, s0), stop_acc)
            if nb:
                g_n_now = g_back + length + g_new if nlead >= 0 else INF
                a_n = idm_acc(v[nback], v_des[nback], g_n_now, vl_new, a, b, T, s0)
            else:
                a_n = 0.0
            gain = a_c_new - a_c + MOBIL_POLITENESS * (a_n_new - a_n + a_o_new - a_o)
            if gain > MOBIL_THRESHOLD_MS2 and gain > best_gain:
                best_gain = gain
                best_lane[c] = new_lane
    return best_lane


def leaders(
    al, order, n_al, lane_s, route, lk, pos, offs, v, lane, stream, lc_count, obstacle,
    next_link, next_link_turn, next2_link, next2_link_turn, link_end, route_links, route_turn,
    link_length, link_lanes, rear_of, max_lanes, length, gap, v_l, vslot,
):  # fmt: skip
    """Every vehicle's leader (:meth:`sim.engine.Simulation._leaders`, same returns):
    ``leader, gap, v_l, real, gap_phys`` (n,); ``gap`` and ``v_l`` are filled in the arrays
    given (the engine's per-slot copies for the next step's lane-change candidates).  Front
    vehicles claim the lane ahead unless they stop (``obstacle``); ties between claimants go
    by ``vslot`` (the slots they would have without relabelling; ``np.arange`` for none)."""
    n = al.size
    leader = np.empty(n, dtype=np.int64)  # every slot's written below, as are the others
    real = np.empty(n, dtype=np.bool_)
    gap_phys = np.empty(n)
    in_junction = np.empty(n, dtype=np.bool_)
    for j in prange(n_al):
        i = order[j]
        if j == 0 or lane_s[j - 1] != lane_s[j]:
            rear_of[lane_s[j]] = i
        leader[i] = order[j + 1] if j + 1 < n_al and lane_s[j + 1] == lane_s[j] else -1
    # Vehicles with a leader on their lane; front vehicles: the last vehicle on the lane they
    # enter next (up to LOOKAHEAD_HOPS links), per slot (``head``: a front vehicle with a next
    # link, ``h_dist``: its distance to the link's end, ``h_target``: the lane it enters).
    lmax = route_links.shape[1]
    head = np.empty(n, dtype=np.bool_)
    h_dist = np.empty(n)
    h_target = np.empty(n, dtype=np.int64)
    for i in prange(n):
        in_junction[i] = False
        head[i] = False
        li = leader[i] if al[i] else -1  # empty slots are not in the order
        if li >= 0:
            same_path = (
                route[li] == route[i] and stream[li] == stream[i] and lc_count[i] == 0
                and lc_count[li] == 0
            )  # fmt: skip
            gap[i] = (pos[li] - pos[i] if same_path else offs[li] - offs[i]) - length
            real[i] = True
            gap_phys[i] = gap[i]
            v_l[i] = v[li]
            continue
        leader[i] = -1
        gap[i] = INF
        real[i] = False
        gap_phys[i] = INF
        v_l[i] = 0.0
        if not al[i]:
            continue
        nxt = next_link[i]  # route_links[route, link_k + 1], -1 past the route's end
        if nxt < 0:
            continue
        rh = route[i]
        dist_end = link_end[i] - pos[i]
        lane_next = lane_on(nxt, next_link_turn[i], lane[i], link_lanes)
        found = -1
        extra = dist_end
        cur_link, cur_lane, cur_k = nxt, lane_next, lk[i] + 1
        for hop in range(LOOKAHEAD_HOPS):
            rear = rear_of[cur_link * max_lanes + cur_lane]
            if rear >= 0:
                found = rear
                break
            extra += link_length[cur_link]
            k2 = cur_k + 1
            # The link after next from the per-slot copy (the route tables are megabytes).
            nx2 = next2_link[i] if hop == 0 else (route_links[rh, k2] if k2 < lmax else -1)
            if not (nx2 >= 0 and extra < LOOKAHEAD_M):
                break
            turn2 = next2_link_turn[i] if hop == 0 else route_turn[rh, k2]
            cur_lane = lane_on(nx2, turn2, cur_lane, link_lanes)
            cur_link = nx2
            cur_k = k2
        head[i] = True
        h_dist[i] = dist_end
        h_target[i] = nxt * max_lanes + lane_next
        leader[i] = found
        if found >= 0:
            fi = found
            same_h = (
                route[fi] == rh and stream[fi] == stream[i] and lc_count[fi] == 0
                and lc_count[i] == 0
            )  # fmt: skip
            g_phys = (pos[fi] - pos[i] if same_h else extra + offs[fi]) - length
            gap_phys[i] = g_phys
            gap[i] = g_phys if same_h else extra + max(offs[fi] - length, 0.0)
            # Another approach's vehicle just across the line: a standing obstacle there.
            in_junction[i] = not same_h and offs[fi] < length
            real[i] = True
    # The lane table is not needed any more: leave it empty for the next tick.
    for j in prange(n_al):
        rear_of[lane_s[j]] = -1
    # Merging: front vehicles that may cross now and enter the same lane (claimants) follow
    # each other, the one nearest to its link's end first (by distance, ties in vslot order).
    # Each lane's claimants are kept in a list sorted by (distance, vslot), threaded through
    # ``nxt_c`` from ``rear_of`` (the lane's first claimant; empty again afterwards).  A
    # scan of two byte arrays finds them (one slot in seven on the city); lists are short
    # (the approaches feeding one lane; most have one claimant).
    claimant = np.empty(n, dtype=np.int64)
    nxt_c = np.empty(n, dtype=np.int64)
    n_c = 0
    for i in range(n):  # branch-free compaction: which slots claim is hard to predict
        claimant[n_c] = i
        n_c += head[i] > obstacle[i]  # head and not obstacle
    for k in range(n_c):
        i = claimant[k]
        tg = h_target[i]
        di = h_dist[i]
        vi = vslot[i]
        prev = -1
        p = rear_of[tg]
        while p >= 0 and (h_dist[p] < di or (h_dist[p] == di and vslot[p] < vi)):
            prev = p
            p = nxt_c[p]
        nxt_c[i] = p
        if prev < 0:
            rear_of[tg] = i
        else:
            nxt_c[prev] = i
    for k in range(n_c):
        before = claimant[k]
        tg = h_target[before]
        if rear_of[tg] != before:
            continue
        rear_of[tg] = -1
        me = nxt_c[before]
        while me >= 0:
            g_v = h_dist[me] - h_dist[before] - length
            if g_v < gap[me]:
                # A virtual leader: on another lane until the merge, not in the safety check.
                leader[me] = before
                gap[me] = g_v
                real[me] = False
                gap_phys[me] = INF
                in_junction[me] = False
            before = me
            me = nxt_c[me]
    # The front vehicles' leader speeds (the others' are set above).
    for i in prange(n):
        if head[i]:
            li = leader[i]
            v_l[i] = v[li] if li >= 0 and not in_junction[i] else 0.0
    return leader, gap, v_l, real, gap_phys


def advance(
    t, dt, krauss, al, pos, v, v_des, target, queued_until, stop_k, link, link_group, leader, gap_l,
    v_l, obstacle, st, dist, grp, sig_change_at, stop_vmax, stop_pos, link_end, committed,
    u_dawdle, sigma, a, b, T, s0, adv_accel, adv_decel,
):  # fmt: skip
    """Accelerations and the position update (``_step`` from the driver policy to the stop
    lines crossed).  Updates ``queued_until`` in place (:func:`sim.driver.release_queued`).
    Returns ``x_new, v_new, a_real, crossed, moved`` (n,) and counters ``(red_violations,
    cleared_on_red, turn_crossings, turn_overspeed)``."""
    n = al.size
    x_new = np.empty(n)
    v_new = np.empty(n)
    a_real = np.empty(n)
    crossed = np.zeros(n, dtype=np.bool_)
    moved = np.zeros(n, dtype=np.bool_)
    red_viol = 0
    cleared = 0
    turn_cross = 0
    turn_over = 0
    sqrt_ab = 2.0 * math.sqrt(a * b)
    for i in prange(n):
        # release_queued
        qu = queued_until[i]
        if qu >= 0 and stop_k[i] >= qu:
            qu = -1
        if al[i] and link_group[link[i]] >= 0 and v[i] < QUEUE_SPEED_MS and qu < 0:
            qu = stop_k[i] + 1
        queued_until[i] = qu
    for i in prange(n):
        vi = v[i]
        has_l = leader[i] >= 0
        vli = v_l[i]
        gi = gap_l[i]
        tg = target[i]
        steer = not math.isnan(tg) and queued_until[i] < 0
        if steer and has_l:
            # follows_leader
            dv = max(vi - vli, 0.0)
            s_star = s0 + T * vi + vi * dv / sqrt_ab
            if vli < tg - SAME_ADVICE_MS and gi <= FOLLOW_GAP_FACTOR * s_star:
                steer = False
        acc = min(max((v_des[i] - vi) / dt, -b), a) if krauss else idm_free(vi, v_des[i], a)
        if steer:
            track = min(max((tg - vi) / dt, -adv_decel), adv_accel)
            free_up = a if krauss else idm_free(vi, max(v_des[i], tg), a)
            acc = min(track, free_up) if track > 0 else track
        if krauss:
            if has_l:
                v_safe = euler_safe_speed(gi - s0 + euler_brake_gap(vli, b, dt), b, dt, max(T, dt))
                inter = min((v_safe - vi) / dt - acc, 0.0)
            else:
                inter = 0.0
            amax = INF
        else:
            inter = idm_interaction(vi, vi - vli, gi, a, b, T, s0) if has_l else 0.0
            amax = safe_accel(vi, gi, vli, dt, EMERGENCY_DECEL_MS2) if has_l else INF
        obs = obstacle[i]
        has_sig = al[i] and grp[i] >= 0
        d = dist[i]
        if obs and steer and st[i] == RED:
            # A driver following advice trusts it: a red that turns green before they can
            # reach the line (1 s margin) is no reason to brake.
            to_green = sig_change_at[grp[i] if has_sig else 0] - t
            eta = d / max(vi, 0.1)
            if eta >= to_green + 1.0:
                obs = False
        if obs:
            if krauss:
                v_stop = euler_safe_speed(d, b, dt, dt)
                inter_o = min((v_stop - vi) / dt - acc, 0.0)
            else:
                inter_o = idm_interaction(vi, vi, d + s0, a, b, T, s0)
            inter = min(inter, inter_o)
            if not krauss:
                amax = min(amax, safe_accel(vi, d, 0.0, dt, EMERGENCY_DECEL_MS2))
        acc = acc + inter
        if krauss and sigma > 0.0 and not steer:
            v_max = max(vi + acc * dt, 0.0)
            floor = min(max(vi - b * dt, 0.0), v_max)
            dawdle = sigma * min(v_max, a) * dt * u_dawdle[i]
            acc = (max(v_max - dawdle, floor) - vi) / dt
        vmax_turn = stop_vmax[i] if has_sig else INF
        turning = math.isfinite(vmax_turn)
        if turning:
            room = max(d - vi * dt, 0.0)
            v_allow = math.sqrt(vmax_turn * vmax_turn + 2.0 * b * room)
            amax = min(amax, (v_allow - vi) / dt)
        acc = min(acc, amax)
        acc = max(acc, -EMERGENCY_DECEL_MS2)
        if not al[i]:
            acc = 0.0
        if krauss:
            vn = max(vi + acc * dt, 0.0)
            xn = pos[i] + vn * dt
        else:
            vn = vi + acc * dt
            if vn < 0.0:
                xn = pos[i] - vi * vi / (2.0 * acc)
                vn = 0.0
            else:
                xn = pos[i] + vi * dt + 0.5 * acc * dt * dt
        x_new[i] = xn
        v_new[i] = vn
        a_real[i] = (vn - vi) / dt
        if has_sig and xn > stop_pos[i] + CROSS_EPS_M:
            crossed[i] = True
            if st[i] == RED:
                if committed[i]:
                    cleared += 1
                else:
                    red_viol += 1
            if turning:
                turn_cross += 1
                if vn > vmax_turn + b * dt + 1e-9:
                    turn_over += 1
        moved[i] = al[i] and xn > link_end[i] + CROSS_EPS_M
    return x_new, v_new, a_real, crossed, moved, (red_viol, cleared, turn_cross, turn_over)


@njit(cache=True, error_model="numpy", inline="always")
def _exp_parts(x):
    """exp(x) as ``(p, bits)``: exp x = p * 2^k, with ``bits`` the float64 bit pattern of
    2^k (view an int64 array of them as float64).  Branch-free, for a loop that vectorises."""
    x = min(max(x, -_EXP_X_MAX), _EXP_X_MAX)
    kf = math.floor(x * _INV_LN2 + 0.5)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    c = _EXP_TAYLOR
    p = c[13]
    for k in range(12, -1, -1):
        p = p * r + c[k]
    return p, (np.int64(kf) + 1023) << 52


@njit(cache=True, error_model="numpy")
def exp_vec(x):
    """exp of each value of ``x`` (1-D) by :func:`_exp_parts` (scalar ``x``: use a 1-array)."""
    p = np.empty(x.size)
    bits = np.empty(x.size, dtype=np.int64)
    for i in range(x.size):
        p[i], bits[i] = _exp_parts(x[i])
    return p * bits.view(np.float64)


@njit(cache=True, error_model="numpy", inline="always")
def _vt_cubic(v, row):
    """Row ``row`` of the stacked coefficient table (:data:`_VT_ROWS`) as a cubic in ``v``."""
    c = _VT_ROWS
    return ((c[4 * row + 3] * v + c[4 * row + 2]) * v + c[4 * row + 1]) * v + c[4 * row]


@njit(cache=True, error_model="numpy", inline="always")
def _vt_exponent(v, a, neg, row0):
    """One VT-Micro surface's polynomial (the argument of its exp) for one clipped vehicle:
    rows ``row0``..+3 (matrix L, ``a`` >= 0) or +4..+7 (matrix M, ``neg``) of the table.
    Branch-free selects, so that a loop of them vectorises."""
    p0 = _vt_cubic(v, row0 + 4) if neg else _vt_cubic(v, row0)
    p1 = _vt_cubic(v, row0 + 5) if neg else _vt_cubic(v, row0 + 1)
    p2 = _vt_cubic(v, row0 + 6) if neg else _vt_cubic(v, row0 + 2)
    p3 = _vt_cubic(v, row0 + 7) if neg else _vt_cubic(v, row0 + 3)
    return ((p3 * a + p2) * a + p1) * a + p0


@njit(cache=True, error_model="numpy", inline="always")
def _vtmicro_exponents(v, a):
    """VT-Micro's fuel and CO2 exponents for one vehicle (:func:`sim.fuel.fuel_co2_rates`:
    the same clipping and Horner order); the rates are their exps (L/s, g/s)."""
    v = min(max(v, 0.0), _VTMICRO_SPEED_MAX_MS)
    a_ceiling = VTMICRO_SPECIFIC_POWER_MAX_W_PER_KG / max(v, _VTMICRO_POWER_KNEE_MS)
    a = min(max(a, VTMICRO_ACCEL_MIN_MS2), a_ceiling)
    neg = a < 0.0
    return _vt_exponent(v, a, neg, 0), _vt_exponent(v, a, neg, 8)


@njit(cache=True, error_model="numpy")
def _vtmicro_pair(v, a):
    """Fuel (L/s) and CO2 (g/s) of VT-Micro for one vehicle."""
    x_fuel, x_co2 = _vtmicro_exponents(v, a)
    out = exp_vec(np.array([x_fuel, x_co2]))
    return out[0], out[1]


@njit(cache=True, error_model="numpy")
def _hbefa3(v, accel, c):
    """SUMO's HBEFA3 rate for one vehicle (:func:`sim.fuel._hbefa3_rate`), units of ``c``."""
    v = max(v, 0.0)
    inner = ((accel * c[2] + c[1]) * accel + c[3] + (v * c[5] + c[4]) * v) * v + c[0]
    inner = max(inner, 0.0)
    if v >= HBEFA3_COAST_MIN_SPEED_MS:
        coast = _HB_COAST[0] + _HB_COAST[1] * v
    else:
        vm = HBEFA3_COAST_MIN_SPEED_MS
        coast = (_HB_COAST[0] + _HB_COAST[1] * vm) * max(v, 0.0) / vm
    if v > HBEFA3_ZERO_SPEED_MS and accel < -coast:
        return 0.0
    return inner


def finish(
    dt, krauss, vtmicro, al, pos, v, x_new, v_new, a_real, fuel, co2, stopped_time, stops,
    in_stop, leader, real_l, gap_phys, lane_id, link_end, route, route_length,
):  # fmt: skip
    """Emissions, stops, the safety check and the move (``_step`` after the link changes).
    Updates ``fuel, co2, stopped_time, stops, in_stop, pos, v`` in place; returns ``done``
    (n,) bool (reached the route's end), the smallest gap after the step (m) and the number
    of collisions."""
    n = al.size
    done = np.zeros(n, dtype=np.bool_)
    g_min = INF  # the smallest gap after the step (a min reduction: exact in any order)
    collisions = 0
    # VT-Micro's polynomials and exps in a loop of their own, which vectorises (libm's exp, a
    # call, would not): the rates as p * 2^k (_exp_parts), multiplied out where they are used.
    m = n if vtmicro else 0
    p_fuel = np.empty(m)
    p_co2 = np.empty(m)
    b_fuel = np.empty(m, dtype=np.int64)
    b_co2 = np.empty(m, dtype=np.int64)
    if vtmicro:
        for i in prange(n):
            vn = v_new[i]
            xf, xc = _vtmicro_exponents(vn if krauss else 0.5 * (v[i] + vn), a_real[i])
            p_fuel[i], b_fuel[i] = _exp_parts(xf)
            p_co2[i], b_co2[i] = _exp_parts(xc)
    s_fuel = b_fuel.view(np.float64)
    s_co2 = b_co2.view(np.float64)
    for i in prange(n):
        if not al[i]:
            in_stop[i] = False
            continue
        vn = v_new[i]
        v_move = vn if krauss else 0.5 * (v[i] + vn)
        if vtmicro:
            f = p_fuel[i] * s_fuel[i]
            c = p_co2[i] * s_co2[i]
        else:
            f, c = _hbefa3(v_move, a_real[i], _HB_FUEL), _hbefa3(v_move, a_real[i], _HB_CO2)
        fuel[i] += f * dt
        co2[i] += c * dt
        stopped = vn <= STOP_SPEED_MS
        if stopped:
            stopped_time[i] += dt
            if not in_stop[i]:
                stops[i] += 1
            in_stop[i] = True
        elif in_stop[i]:
            in_stop[i] = vn <= STOP_END_SPEED_MS
        li = leader[i]
        if (
            real_l[i]
            and math.isfinite(gap_phys[i])
            and (lane_id[li] == lane_id[i] or x_new[i] > link_end[i] + CROSS_EPS_M)
        ):
            g = gap_phys[i] + (x_new[li] - pos[li]) - (x_new[i] - pos[i])
            g_min = min(g_min, g)
            if g < -CROSS_EPS_M:
                collisions += 1
    # Positions move only once every gap has been measured from the old ones.
    for i in prange(n):
        if al[i]:
            pos[i] = x_new[i]
            v[i] = v_new[i]
            done[i] = pos[i] >= route_length[route[i]]
    return done, g_min, collisions


@njit(cache=True, error_model="numpy")
def _plan_window(q, n, cycle, base, starts, ends):
    """:meth:`greenwave.timing.PlanTable._window` for one group: start and end (s) of window
    ``q`` counted from the first window of the previous cycle."""
    j = q // n
    slot = q - j * n
    start0 = base + (j - 1) * cycle
    return start0 + starts[slot], start0 + ends[slot]


@njit(cache=True, error_model="numpy")
def sync_plan_signals(
    t, t_abs, eps, sig_state, sig_change_at, cycle_s, offset_s, amber_s, n_greens, green_start_s,
    green_end_s,
):  # fmt: skip
    """The engine's ``_sync_signals`` for fixed-time plans (no live SPaT): every group whose
    change is due by ``t + eps`` (s, simulation time) gets its state at ``t_abs`` (s, the
    plans' clock) and the simulation time of its next change, by
    :meth:`greenwave.timing.PlanTable.state`'s arithmetic in the same order (the same numbers).
    Updates ``sig_state, sig_change_at`` (G,) in place; returns the soonest next change (s)."""
    width = green_end_s.shape[1]
    for g in range(sig_state.size):
        if not sig_change_at[g] <= t + eps:
            continue
        cycle = cycle_s[g]
        off = offset_s[g]
        base = off + np.floor((t_abs - off) / cycle) * cycle
        n = n_greens[g]
        ends = green_end_s[g]
        s = 0
        for w in range(width):
            if w < n:
                if base - cycle + ends[w] <= t_abs:
                    s += 1
                if base + ends[w] <= t_abs:
                    s += 1
        starts = green_start_s[g]
        nxt_start, nxt_end = _plan_window(s, n, cycle, base, starts, ends)
        amber_end = _plan_window(s - 1, n, cycle, base, starts, ends)[1] + amber_s[g]
        if nxt_start <= t_abs:
            sig_state[g] = GREEN
            change = nxt_end - t_abs
        elif t_abs < amber_end:
            sig_state[g] = AMBER
            change = amber_end - t_abs
        else:
            sig_state[g] = RED
            change = nxt_start - t_abs
        sig_change_at[g] = t + change
    return sig_change_at.min()


@njit(cache=True, error_model="numpy", inline="always")
def _refresh_link_one(
    s, route, link_k, desired, r_links, r_link_start, r_link_end, r_turn, speed_limit, link,
    link_start, link_end, next_turn, v_des, next_link, next_link_turn, next2_link, next2_link_turn,
):  # fmt: skip
    lmax = r_links.shape[1]
    ro = route[s]
    k = min(link_k[s], lmax - 1)
    li = r_links[ro, k]
    link[s] = li
    link_start[s] = r_link_start[ro, k]
    link_end[s] = r_link_end[ro, k]
    next_turn[s] = r_turn[ro, k]
    v_des[s] = desired[s] * speed_limit[li]
    k1 = min(k + 1, lmax - 1)
    next_link[s] = r_links[ro, k1] if k + 1 < lmax else -1
    next_link_turn[s] = r_turn[ro, k1]
    k2 = min(k + 2, lmax - 1)
    next2_link[s] = r_links[ro, k2] if k + 2 < lmax else -1
    next2_link_turn[s] = r_turn[ro, k2]


@njit(cache=True, error_model="numpy")
def refresh_link(
    slots, route, link_k, desired, r_links, r_link_start, r_link_end, r_turn, speed_limit, link,
    link_start, link_end, next_turn, v_des, next_link, next_link_turn, next2_link, next2_link_turn,
):  # fmt: skip
    """:meth:`sim.engine.Simulation._refresh_link` for ``slots`` (few per step: serial)."""
    for s in slots:
        _refresh_link_one(
            s, route, link_k, desired, r_links, r_link_start, r_link_end, r_turn, speed_limit,
            link, link_start, link_end, next_turn, v_des, next_link, next_link_turn, next2_link,
            next2_link_turn,
        )  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def _move_on_one(s, route, link_k, lane, r_links, r_turn, link_lanes):
    """One vehicle onto the next link of its route; False if it leaves the network."""
    lmax = r_links.shape[1]
    k_new = link_k[s] + 1
    link_k[s] = k_new
    kk = min(k_new, lmax - 1)
    nl = r_links[route[s], kk]
    if k_new < lmax and nl >= 0:
        lane[s] = lane_on(nl, r_turn[route[s], kk], lane[s], link_lanes)
        return True
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _refresh_stop_one(
    s, route, stop_k, r_pos, r_group, r_turn, r_vmax, r_opp, r_opp_group, stop_pos, stop_grp,
    stop_turn, stop_vmax, stop_opp, stop_opp_grp,
):  # fmt: skip
    ro, sk = route[s], stop_k[s]
    stop_pos[s] = r_pos[ro, sk]
    stop_grp[s] = r_group[ro, sk]
    stop_turn[s] = r_turn[ro, sk]
    stop_vmax[s] = r_vmax[ro, sk]
    stop_opp[s] = r_opp[ro, sk]
    stop_opp_grp[s] = r_opp_group[ro, sk]


@njit(cache=True, error_model="numpy")
def refresh_stop(
    slots, route, stop_k, r_pos, r_group, r_turn, r_vmax, r_opp, r_opp_group, stop_pos, stop_grp,
    stop_turn, stop_vmax, stop_opp, stop_opp_grp,
):  # fmt: skip
    """:meth:`sim.engine.Simulation._refresh_stop` for ``slots`` (few per step: serial)."""
    for s in slots:
        _refresh_stop_one(
            s, route, stop_k, r_pos, r_group, r_turn, r_vmax, r_opp, r_opp_group, stop_pos,
            stop_grp, stop_turn, stop_vmax, stop_opp, stop_opp_grp,
        )  # fmt: skip


def cross_and_move(
    crossed, moved, route, stop_k, committed, rs_pos, rs_group, rs_turn, rs_vmax, rs_opp,
    rs_opp_group, stop_pos, stop_grp, stop_turn, stop_vmax, stop_opp, stop_opp_grp, link_k, lane,
    desired, r_links, r_link_start, r_link_end, r_turn, link_lanes, speed_limit, link, link_start,
    link_end, next_turn, v_des, next_link, next_link_turn, next2_link, next2_link_turn,
):  # fmt: skip
    """The step's stop-line crossings and link changes (:meth:`sim.engine.Simulation._crossed`
    without its record, then ``_moved``) for the vehicles flagged in ``crossed`` and ``moved``
    (n,) bool, straight from :func:`advance`'s masks: each vehicle's update touches its own
    slot only, so one pass over the masks does it (no index lists, no numpy gathers)."""
    for i in prange(crossed.size):
        if crossed[i]:
            stop_k[i] += 1
            committed[i] = False
            _refresh_stop_one(
                i, route, stop_k, rs_pos, rs_group, rs_turn, rs_vmax, rs_opp, rs_opp_group,
                stop_pos, stop_grp, stop_turn, stop_vmax, stop_opp, stop_opp_grp,
            )  # fmt: skip
        if moved[i] and _move_on_one(i, route, link_k, lane, r_links, r_turn, link_lanes):
            _refresh_link_one(
                i, route, link_k, desired, r_links, r_link_start, r_link_end, r_turn,
                speed_limit, link, link_start, link_end, next_turn, v_des, next_link,
                next_link_turn, next2_link, next2_link_turn,
            )  # fmt: skip


@njit(cache=True, error_model="numpy")
def exit_done(
    done, t_exit, vid, fuel, co2, stops, stopped_time, stream, tail, alive, stop_grp,
    sorted_lane, res_t_exit, res_fuel, res_co2, res_stops, res_stopped, vslot,
):  # fmt: skip
    """:meth:`sim.engine.Simulation._exit` for the slots flagged in ``done`` (n,): their
    results by vehicle id, their streams' tails, and the slots emptied.  Returns the slots
    in ``vslot`` order (as the engine frees them without relabelling; serial: a few per
    step)."""
    m = 0
    for s in range(done.size):
        if done[s]:
            m += 1
    out = np.empty(m, dtype=np.int64)
    k = 0
    for s in range(done.size):
        if not done[s]:
            continue
        out[k] = s
        k += 1
        w = vid[s]
        res_t_exit[w] = t_exit
        res_fuel[w] = fuel[s]
        res_co2[w] = co2[s]
        res_stops[w] = stops[s]
        res_stopped[w] = stopped_time[s]
        if tail[stream[s]] == s:  # the stream's last vehicle leaves
            tail[stream[s]] = -1
        alive[s] = False
        stop_grp[s] = -1
        sorted_lane[s] = -1
    return out[np.argsort(vslot[out])]  # distinct: any sort gives their order


@njit(cache=True, error_model="numpy")
def insertion(
    queue_head, queue_tail, stream_start, stream_arrivals, tail, stream_first, entry_links,
    order, ks, key_scale, max_lanes, alive, link_k, lane, route, r_links, pos, v, veh_route,
    speed_limit, desired_factor, krauss, length, min_gap, tau, b, dt,
):  # fmt: skip
    """Who enters now (:meth:`sim.engine.Simulation._insert` up to the new slots, with
    :meth:`~sim.engine.Simulation.rear_vehicles`; few streams per step: serial).  ``order,
    ks``: the lanes as last sorted.  Returns the streams that insert, their vehicles (arrival
    indices) and entry speeds (m/s), in stream order."""
    n_streams = queue_head.size
    lmax = r_links.shape[1]
    out_s = np.empty(n_streams, dtype=np.int64)
    out_vid = np.empty(n_streams, dtype=np.int64)
    out_v = np.empty(n_streams)
    m = 0
    for s in range(n_streams):
        if queue_tail[s] <= queue_head[s]:
            continue
        rear = tail[s]
        if order.size:
            # The last vehicle on the stream's entry lane, if it is behind the last inserted.
            entry = np.searchsorted(stream_first, s, side="right") - 1
            link = entry_links[entry]
            ln = s - stream_first[entry]
            tid = link * max_lanes + ln
            at = min(np.searchsorted(ks, tid * key_scale), order.size - 1)
            r = order[at]
            ok = ks[at] < (tid + 1) * key_scale and alive[r]
            k = min(link_k[r], lmax - 1)
            ok = ok and lane[r] == ln and r_links[route[r], k] == link
            if ok and (rear < 0 or pos[r] < pos[rear if rear >= 0 else 0]):
                rear = r
        vid = stream_arrivals[stream_start[s] + queue_head[s]]
        desired = desired_factor[vid] * speed_limit[r_links[veh_route[vid], 0]]
        if rear >= 0:
            gap = pos[rear] - length
            v_gap = (gap - min_gap) / tau
            g = gap - min_gap
            if krauss:
                v_safe = euler_safe_speed(g + euler_brake_gap(v[rear], b, dt), b, dt, max(tau, dt))
            elif math.isfinite(g):
                room = max(2.0 * b * g + v[rear] ** 2, 0.0)
                v_safe = max(-b * tau + math.sqrt((b * tau) ** 2 + room), 0.0)
            else:
                v_safe = INF
        else:
            gap = INF
            v_gap = INF
            v_safe = INF
        v_in = min(desired, max(min(v_gap, v_safe), 0.0))
        if gap >= min_gap + 0.5 and v_in >= 0.0:
            out_s[m] = s
            out_vid[m] = vid
            out_v[m] = v_in
            m += 1
    return out_s[:m], out_vid[:m], out_v[:m]


# ------------------------------------------------------------------------ compiled sets
KERNELS = (
    "prepare",
    "lane_change_candidates",
    "lane_change_choice",
    "leaders",
    "advance",
    "cross_and_move",
    "finish",
)


def _compile(parallel: bool) -> types.SimpleNamespace:
    """The tick's kernels compiled as one set: ``parallel`` spreads their per-vehicle loops
    (``prange``) over numba's threads (``NUMBA_NUM_THREADS``, default all cores); otherwise
    they run in the calling thread.  Each set is its own function object (own name, own
    on-disk cache entry); both compile lazily, on first use."""
    suffix = "_parallel" if parallel else "_serial"
    out = {}
    for name in KERNELS:
        py = globals()[name]
        f = types.FunctionType(py.__code__, py.__globals__, name + suffix, py.__defaults__)
        f.__qualname__ = name + suffix
        f.__doc__ = py.__doc__
        out[name] = njit(cache=True, error_model="numpy", parallel=parallel)(f)
    return types.SimpleNamespace(**out)


PARALLEL = _compile(True)
SERIAL = _compile(False)


def kernels() -> types.SimpleNamespace:
    """The kernel set for the calling thread: the parallel one on the main thread, the serial
    one elsewhere (simulations run in worker threads, e.g. a sweep on a thread pool: numba's
    default thread pool may not be entered from two threads at once, and the sweep already
    uses the cores)."""
    return PARALLEL if threading.current_thread() is threading.main_thread() else SERIAL
