"""Spoken advice: rounding and the two languages."""

from hypothesis import given
from hypothesis import strategies as st

from greenwave.bands import ADVICE, NO_SIGNAL, PROCEED, STOP
from greenwave.messages import render, round_band_kmh, round_distance_m
from greenwave.units import kmh_to_ms


def test_app_phrase():
    msg = render(ADVICE, 481.0, (kmh_to_ms(35.0), kmh_to_ms(50.0)))
    assert msg["zh"] == "距离前方路口480米,绿波速度区间35—50公里"
    assert msg["en"] == "480 m to the next intersection, green-wave speed 35–50 km/h"


@given(st.floats(1.0, 60.0), st.floats(0.3, 20.0))
def test_band_rounds_inwards(lo_kmh, width):
    lo, hi = kmh_to_ms(lo_kmh), kmh_to_ms(lo_kmh + width)
    r = round_band_kmh(lo, hi)
    if r is None:
        assert width < 1.0
    else:
        assert lo_kmh - 1e-9 <= r[0] <= r[1] <= lo_kmh + width + 1e-9


def test_distance_rounding():
    assert [round_distance_m(d) for d in (43.0, 96.0, 484.0, 1234.0)] == [45, 95, 480, 1250]


def test_other_statuses():
    assert "prepare to stop" in render(STOP, 120.0, None)["en"]
    assert render(NO_SIGNAL, None, None)["zh"] == "前方无信号灯路口"
    m = render(
        PROCEED,
        300.0,
        (kmh_to_ms(40.2), kmh_to_ms(48.9)),
        [(1, kmh_to_ms(40.2), kmh_to_ms(48.9)), (3, kmh_to_ms(41.0), kmh_to_ms(45.5))],
    )
    assert "41–45 km/h for green through the next 3 intersections" in m["en"]
    assert "41—45公里可连续绿灯通过3个路口" in m["zh"] and "41—48公里" in m["zh"]
