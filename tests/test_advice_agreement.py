"""``benchmarks/advice_agreement.py``: greenwave's simulator on the corridors of a
``glosa_generated.py --json`` run, beside SUMO's figures (no SUMO needed: the corridors are drawn
again from their seeds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "advice_agreement.py"


def _sumo_json(path: Path, **over) -> Path:
    change = {"stops_per_veh": -50.0, "fuel_l_per_100km": -8.0, "travel_time_s": -1.0}
    ref = {
        "sigma": 0.0,
        "seeds": "1",
        "penetration": 1.0,
        "min_speed_kmh": 18.0,
        "max_speedfactor": 1.1,
        "duration_s": 300.0,
        "drain_s": 600.0,
        "per_corridor": {
            "14": {"greenwave_vs_baseline_pct": {m: {"mean": v} for m, v in change.items()}}
        },
        **over,
    }
    path.write_text("table\n" + json.dumps(ref) + "\n", encoding="utf-8")
    return path


def _run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_agreement_table_and_counters(tmp_path):
    r = _run("--sumo-json", _sumo_json(tmp_path / "s.json"), "--seeds", "1", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    row = out["per_corridor"]["14"]
    for m in ("stops_per_veh", "fuel_l_per_100km", "travel_time_s"):
        own = row["greenwave_sim_pct"][m]
        assert row["difference_pp"][m] == own - row["sumo_pct"][m]
    assert row["greenwave_sim_pct"]["stops_per_veh"] < 0  # the advice removes stops
    assert set(row["within"]) == {"stops_per_veh", "fuel_l_per_100km"}
    assert out["greenwave_sim_counters"] == {"red_light_crossings": 0, "collisions": 0}
    assert "red-light crossings" in r.stdout


def test_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json\n", encoding="utf-8")
    r = _run("--sumo-json", bad)
    assert r.returncode == 2 and "not the output of glosa_generated.py" in r.stderr
    r = _run("--sumo-json", _sumo_json(tmp_path / "p.json", penetration=0.5))
    assert r.returncode == 2 and "100 % penetration" in r.stderr
    r = _run("--sumo-json", _sumo_json(tmp_path / "s.json"), "--seeds", "one")
    assert r.returncode == 2 and "--seeds" in r.stderr
    assert "Traceback" not in r.stderr
