"""``benchmarks/bench_sim.py --breakdown``: the sections it times apart account for the tick.

Wall-clock figures themselves are not tested (they belong to the benchmark); what is checked
is the bookkeeping: every kernel and engine step of the compiled tick is named, none is
counted twice, and the named sections plus the rest of the tick add up to the tick's time.
"""

import pytest
from simkit import load_script

from greenwave.sim import fastpath

pytestmark = pytest.mark.skipif(not fastpath.AVAILABLE, reason="needs numba")


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_sim")


def test_breakdown_sections_add_up_to_the_tick(bench, arterial):
    row = bench.measure(arterial, 240.0, True, breakdown=True, kernel="numba")
    parts = row[bench.BREAKDOWN]
    for name in ("prepare", "leaders", "advance", "finish", "_sort_compiled", "_sync_signals"):
        assert parts[name] > 0.0, name
    assert "sort_lanes" not in parts  # inside _sort_compiled, not counted twice
    assert "insertion" not in parts  # inside _insert, outside the tick
    assert parts["_advise"] > 0.0 and parts["_insert"] > 0.0  # outside the tick, listed apart
    inside = sum(v for k, v in parts.items() if k not in ("_advise", "_insert"))
    assert inside == pytest.approx(row["ns_per_vehicle_step"], rel=1e-9)
    assert parts["rest of the tick"] >= 0.0


def test_the_relabelling_counts_as_the_ticks(bench, arterial, monkeypatch):
    # The storage in lane order runs between steps; the tick's time includes it, and the
    # breakdown lists it among the tick's sections (here from the first vehicle on).
    from greenwave.sim import engine

    monkeypatch.setattr(engine, "PARALLEL_MIN_SLOTS", 1)
    row = bench.measure(arterial, 120.0, False, breakdown=True, kernel="numba")
    parts = row[bench.BREAKDOWN]
    assert parts["_relabel"] > 0.0
    inside = sum(v for k, v in parts.items() if k not in ("_advise", "_insert"))
    assert inside == pytest.approx(row["ns_per_vehicle_step"], rel=1e-9)


def test_without_breakdown_the_row_has_none(bench, arterial):
    row = bench.measure(arterial, 30.0, False, kernel="numba")
    assert bench.BREAKDOWN not in row and row["tick_steps_per_s"] > 0.0
