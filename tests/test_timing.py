"""Fixed-time plans: green windows and states against a scalar reference; plan validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from reference import windows_scalar

from greenwave.timing import AMBER, GREEN, RED, PlanTable, SignalPlan


@st.composite
def plans(draw):
    cycle = draw(st.floats(40.0, 200.0)).__round__(1)
    n = draw(st.integers(1, 2))
    cuts = sorted(
        draw(st.lists(st.floats(0.0, cycle), min_size=2 * n, max_size=2 * n, unique=True))
    )
    if draw(st.booleans()):  # green touching both cycle ends: a wrapped green
        cuts[0], cuts[-1] = 0.0, cycle
    greens = [(round(cuts[2 * i], 2), round(cuts[2 * i + 1], 2)) for i in range(n)]
    greens = [(s, e) for s, e in greens if s < e]
    if not greens or sum(e - s for s, e in greens) >= cycle:
        greens = [(0.0, cycle / 2)]
    offset = round(draw(st.floats(0.0, cycle - 0.01)), 2)  # controllers work in 0.1 s
    return SignalPlan(cycle_s=cycle, offset_s=offset, groups=[{"id": "A", "greens_s": greens}])


@settings(max_examples=300, deadline=None)
@given(plans(), st.floats(-1e6, 2e9), st.integers(1, 5))
def test_windows_match_scalar_reference(plan, t, k):
    tab = PlanTable.from_plans([("I", plan)])
    ws, we = tab.green_windows(np.array([0]), np.array([t]), k)
    g = plan.groups[0]
    ref = windows_scalar(plan.cycle_s, plan.offset_s, g.greens_s, t, t + (k + 2) * plan.cycle_s)
    assert len(ref) >= k
    np.testing.assert_allclose(ws[0], [s for s, _ in ref[:k]], rtol=0, atol=1e-6)
    np.testing.assert_allclose(we[0], [e for _, e in ref[:k]], rtol=0, atol=1e-6)
    assert np.all(we[0] > t)


@settings(max_examples=200, deadline=None)
@given(plans(), st.floats(0, 1e6))
def test_state_matches_scalar_reference(plan, t):
    tab = PlanTable.from_plans([("I", plan)])
    state, ttc = tab.state(np.array([0]), np.array([t]))
    g = plan.groups[0]
    ref = windows_scalar(
        plan.cycle_s, plan.offset_s, g.greens_s, t - 2 * plan.cycle_s, t + 2 * plan.cycle_s
    )
    if min(abs(t - x) for w in ref for x in w) < 1e-9:
        # Within float width of a green's start or end: either side's state is right (a
        # green wrapped around the cycle's end is kept as one window running past it, e.g.
        # [1, 166.0) in a 165.7 s cycle, and 166.0 - 165.7 is not exactly the 0.3 the
        # reference has).
        return
    cur = [w for w in ref if w[0] <= t < w[1]]
    if cur:
        assert state[0] == GREEN
        assert math.isclose(ttc[0], cur[0][1] - t, abs_tol=1e-6)
        return
    last_end = max(e for s, e in ref if e <= t)
    nxt = min(s for s, e in ref if s > t)
    if t < last_end + g.amber_s - 1e-9:
        assert state[0] == AMBER
        assert math.isclose(ttc[0], last_end + g.amber_s - t, abs_tol=1e-6)
    elif t >= last_end + g.amber_s + 1e-9:
        assert state[0] == RED
        assert math.isclose(ttc[0], nxt - t, abs_tol=1e-6)


def test_vectorised_over_groups_and_times():
    a = SignalPlan(cycle_s=100, offset_s=10, groups=[{"id": "A", "greens_s": [[0, 40]]}])
    b = SignalPlan(cycle_s=60, offset_s=0, groups=[{"id": "A", "greens_s": [[0, 10], [50, 60]]}])
    tab = PlanTable.from_plans([("a", a), ("b", b)])
    g = np.array([0, 1, 1, 0])
    t = np.array([0.0, 5.0, 20.0, 55.0])
    ws, we = tab.green_windows(g, t, 2)
    np.testing.assert_allclose(ws, [[10, 110], [-10, 50], [50, 110], [110, 210]])
    np.testing.assert_allclose(we, [[50, 150], [10, 70], [70, 130], [150, 250]])


def _plan(**kw):
    base = dict(
        cycle_s=90,
        offset_s=0,
        groups=[
            {"id": "EW", "greens_s": [[0, 40]], "conflicts": ["NS"]},
            {"id": "NS", "greens_s": [[45, 85]]},
        ],
    )
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "change, field, words",
    [
        (dict(cycle_s=0), "cycle_s", "greater than 0"),
        (dict(cycle_s=-5), "cycle_s", "greater than 0"),
        (dict(cycle_s=float("nan")), "cycle_s", "finite"),
        (dict(offset_s=float("inf")), "offset_s", "finite"),
        (dict(offset_s=95), "", "offset_s"),
    ],
)
def test_plan_errors_name_field(change, field, words):
    with pytest.raises(ValidationError) as e:
        SignalPlan.model_validate(_plan(**change))
    err = e.value.errors()[0]
    assert field in ".".join(map(str, err["loc"]))
    assert words in err["msg"]


def test_green_outside_cycle():
    with pytest.raises(ValidationError, match=r"greens_s\[0\].*outside the cycle"):
        SignalPlan.model_validate(_plan(groups=[{"id": "A", "greens_s": [[10, 95]]}]))


def test_conflicting_groups_green_together():
    bad = _plan(
        groups=[
            {"id": "EW", "greens_s": [[0, 45]], "conflicts": ["NS"]},
            {"id": "NS", "greens_s": [[45, 85]]},
        ]
    )
    with pytest.raises(ValidationError, match=r"'EW' and 'NS'.*cycle second 45"):
        SignalPlan.model_validate(bad)


def test_conflict_clearance_wraps_cycle():
    bad = _plan(
        groups=[
            {"id": "EW", "greens_s": [[50, 89]], "conflicts": ["NS"]},
            {"id": "NS", "greens_s": [[0, 40]]},
        ]
    )
    with pytest.raises(ValidationError, match="'EW' and 'NS'"):
        SignalPlan.model_validate(bad)


def test_unknown_conflict_and_nan_green():
    with pytest.raises(ValidationError, match="unknown group 'XX'"):
        SignalPlan.model_validate(
            _plan(groups=[{"id": "A", "greens_s": [[0, 10]], "conflicts": ["XX"]}])
        )
    with pytest.raises(ValidationError) as e:
        SignalPlan.model_validate(_plan(groups=[{"id": "A", "greens_s": [[0, float("nan")]]}]))
    assert "greens_s" in str(e.value) and "finite" in str(e.value)


def test_with_plan_keeps_groups():
    p = SignalPlan.model_validate(_plan())
    tab = PlanTable.from_plans([("x", p)])
    p2 = SignalPlan.model_validate(_plan(offset_s=30))
    tab2 = tab.with_plan("x", p2)
    assert tab2.offset_s[0] == 30 and tab.offset_s[0] == 0
    with pytest.raises(ValueError, match="keep its signal groups"):
        tab.with_plan("x", SignalPlan(cycle_s=60, groups=[{"id": "Z", "greens_s": [[0, 20]]}]))
