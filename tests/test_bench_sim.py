"""``benchmarks/bench_sim.py --breakdown``: the sections it times apart account for the tick.

Wall-clock figures themselves are not tested (they belong to the benchmark); what is checked
is the bookkeeping: every kernel and engine step of the compiled tick is named, none is
counted twice, and the named sections plus the rest of the tick add up to the tick's time.
"""

import importlib.util
from pathlib import Path

import pytest

from greenwave.sim import fastpath

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_sim.py"

pytestmark = pytest.mark.skipif(not fastpath.AVAILABLE, reason="needs numba")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_sim_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_breakdown_sections_add_up_to_the_tick(bench, arterial):
    row = bench.measure(arterial, 240.0, True, breakdown=True, kernel="numba")
    parts = row[bench.BREAKDOWN]
    for name in ("prepare", "leaders", "advance", "finish", "_sort_compiled", "_sync_signals"):
        assert parts[name] > 0.0, name
    assert "sort_keys" not in parts  # inside _sort_compiled, not counted twice
    assert parts["_advise"] > 0.0 and parts["_insert"] > 0.0  # outside the tick, listed apart
    inside = sum(v for k, v in parts.items() if k not in ("_advise", "_insert"))
    assert inside == pytest.approx(row["ns_per_vehicle_step"], rel=1e-9)
    assert parts["rest of the tick"] >= 0.0


def test_without_breakdown_the_row_has_none(bench, arterial):
    row = bench.measure(arterial, 30.0, False, kernel="numba")
    assert bench.BREAKDOWN not in row and row["tick_steps_per_s"] > 0.0
