"""``greenwave sweep``: files and rows, resume after interruption, bad input, failures, Dask.

One small sweep (2 × 2 grid, 2 seeds, 300 s on a two-signal corridor) is run once on local
processes as the reference; the resumed, interrupted and Dask runs must reproduce its rows
exactly (every column but the wall time).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from simkit import two_signal_toml

from greenwave.cli import main
from greenwave.sim import cli_sweep, sweep
from greenwave.sim.measures import CHANGE_MEASURES, aggregate, paired_changes
from greenwave.sim.sweep import (
    MEASURE_COLUMNS,
    SIDE_MEASURES,
    SweepError,
    build_spec,
    case_key,
    local_executor,
    parse_set,
    parse_values,
    read_results,
    run_sweep,
)

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = two_signal_toml("sweep_test", offset_b_s=25.0, duration_s=3600.0, warmup_s=600.0)
SETS = ["advisory.penetration=0.5,1", "demand.scale=0.8,1.2", "simulation.warmup_s=60"]
SEEDS = [1, 2]
DURATION = 300.0
N_CASES = 2 * 2 * 1 * len(SEEDS)


def make_spec(text=SCENARIO, sets=SETS):
    return build_spec(
        text,
        dict(parse_set(s) for s in sets),
        seeds=SEEDS,
        duration_s=DURATION,
        source="sweep_test.toml",
    )


def cli_args(scenario: Path, out: Path, *extra) -> list[str]:
    args = ["sweep", str(scenario)]
    for s in SETS:
        args += ["--set", s]
    return [
        *args,
        "--seeds",
        str(len(SEEDS)),
        "--duration",
        f"{DURATION:g}",
        "--out",
        str(out),
        *extra,
    ]


def comparable(rows):
    """Result rows without the wall time (the only column that differs between runs)."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("scenario") / "sweep_test.toml"
    p.write_text(SCENARIO, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted sweep on local processes, with plots."""
    out = tmp_path_factory.mktemp("reference")
    spec = make_spec()
    with local_executor(2) as ex:
        report = run_sweep(spec, ex, out)
    return spec, out, report


def test_parse_values():
    assert parse_values("0.5,1") == [0.5, 1]
    assert parse_values("true, false") == [True, False]
    assert parse_values("zero,random") == ["zero", "random"]
    assert parse_values('"a,b", "c"') == ["a,b", "c"]
    with pytest.raises(ValueError, match="not a scalar"):
        parse_values("[1, 2]")
    with pytest.raises(SweepError, match="expected KEY=V1,V2"):
        parse_set("advisory.penetration")


def test_case_key_is_stable():
    """Case keys name journal rows of existing sweep directories: they must never change."""
    k = case_key("abc", 300.0, {"b": 1.0, "a": "x"}, 3)
    assert k == case_key("abc", 300.0, {"a": "x", "b": 1.0}, 3)  # order of --set irrelevant
    assert k == "c5ca9935bc0169a3"
    assert k != case_key("abc", 300.0, {"a": "x", "b": 1.0}, 4)
    assert k != case_key("abd", 300.0, {"a": "x", "b": 1.0}, 3)


def test_spec_normalises_and_orders_cases():
    spec = make_spec()
    assert spec.grid == {
        "advisory.penetration": [0.5, 1.0],
        "demand.scale": [0.8, 1.2],
        "simulation.warmup_s": [60.0],
    }
    cases = spec.cases()
    assert len(cases) == N_CASES
    assert [
        (c.params["advisory.penetration"], c.params["demand.scale"], c.seed) for c in cases[:3]
    ] == [(0.5, 0.8, 1), (0.5, 0.8, 2), (0.5, 1.2, 1)]
    assert len({c.key for c in cases}) == N_CASES


def test_sweep_writes_files_with_the_right_rows(reference):
    spec, out, report = reference
    assert (report.total, report.ran, report.failed, report.pending) == (N_CASES, N_CASES, 0, 0)
    rows = read_results(out / "results.csv")
    assert [int(r["case"]) for r in rows] == list(range(N_CASES))
    assert [(r["advisory.penetration"], r["demand.scale"], r["seed"]) for r in rows[:4]] == [
        ("0.5", "0.8", "1"),
        ("0.5", "0.8", "2"),
        ("0.5", "1.2", "1"),
        ("0.5", "1.2", "2"),
    ]
    assert all(r["status"] == "ok" and r["error"] == "" for r in rows)
    assert list(rows[0])[-len(MEASURE_COLUMNS) :] == list(MEASURE_COLUMNS)
    for r in rows:  # every case counts vehicles, so every measure is a number
        assert int(r["baseline_vehicles"]) > 10
        assert all(math.isfinite(float(r[c])) for c in MEASURE_COLUMNS)

    import pyarrow.parquet as pq

    table = pq.read_table(out / "results.parquet")
    assert table.column_names == list(rows[0])
    assert table.num_rows == N_CASES
    assert table.column("advisory.penetration").to_pylist() == [0.5] * 4 + [1.0] * 4
    assert table.column("baseline_co2_g_per_km").to_pylist() == [
        float(r["baseline_co2_g_per_km"]) for r in rows
    ]
    assert json.loads(table.schema.metadata[b"greenwave.sweep"])["seeds"] == SEEDS

    summary = read_results(out / "summary.csv")
    assert len(summary) == 4
    assert all(s["seeds_ok"] == "2" and s["seeds_failed"] == "0" for s in summary)
    # The summary's change % is compare's paired change over the same seeds.
    first = [r for r in rows if r["advisory.penetration"] == "0.5" and r["demand.scale"] == "0.8"]
    base = [{m: float(r[f"baseline_{m}"]) for m in SIDE_MEASURES} for r in first]
    adv = [{m: float(r[f"advisory_{m}"]) for m in SIDE_MEASURES} for r in first]
    change, ci = paired_changes(base, adv)
    for m in CHANGE_MEASURES:
        assert float(summary[0][f"change_pct_{m}_mean"]) == pytest.approx(change[m], rel=1e-12)
        assert float(summary[0][f"change_pct_{m}_ci_lo"]) == pytest.approx(ci[m][0], rel=1e-12)
        assert float(summary[0][f"change_pct_{m}_ci_hi"]) == pytest.approx(ci[m][1], rel=1e-12)
    assert float(summary[0]["baseline_delay_s_mean"]) == pytest.approx(
        aggregate(base)["delay_s"], rel=1e-12
    )

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["content_hash"] == spec.scenario_hash
    assert manifest["grid"] == spec.grid and manifest["seeds"] == SEEDS
    assert manifest["duration_s"] == DURATION
    assert {"greenwave", "numpy", "simpy", "python"} <= set(manifest["versions"])
    assert manifest["started"] and manifest["finished"]
    assert manifest["status"] == {"ok": N_CASES, "failed": 0, "pending": 0}
    assert (out / "scenario.toml").read_text() == SCENARIO

    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert len(plots) == len(CHANGE_MEASURES) * 3  # 2 keys x 6 measures + 6 heat maps
    assert "change_delay_s_vs_advisory.penetration.png" in plots
    assert "heatmap_co2_g_per_km.png" in plots
    assert not any("warmup" in p for p in plots)  # a single value is a fixed override


def test_worker_row_is_the_in_process_result(reference):
    spec, out, _ = reference
    case = spec.cases()[5]
    row = sweep.run_case(spec.scenario_text, case.params, case.seed, spec.duration_s)
    ref = read_results(out / "results.csv")[5]
    for c in MEASURE_COLUMNS:
        assert (str(row[c]) if isinstance(row[c], int) else repr(row[c])) == ref[c], c


@pytest.mark.slow
def test_resume_after_partial_run_and_torn_journal(reference, tmp_path):
    """Stopped after 3 cases, with a half-written line: the resumed table is the same."""
    spec, ref_out, _ = reference
    with local_executor(2) as ex:
        first = run_sweep(spec, ex, tmp_path, max_cases=3, plots=False)
        assert (first.ran, first.pending) == (3, N_CASES - 3)
        assert len(read_results(tmp_path / "results.csv")) == 3
        with (tmp_path / "rows.jsonl").open("ab") as f:  # a crash while writing a row
            f.write(b'{"case_key": "0123", "status": "o')
        second = run_sweep(spec, ex, tmp_path, plots=False)
    assert (second.skipped, second.ran, second.failed) == (3, N_CASES - 3, 0)
    assert comparable(read_results(tmp_path / "results.csv")) == comparable(
        read_results(ref_out / "results.csv")
    )
    assert (tmp_path / "summary.csv").read_text() != ""
    lines = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert len(lines) == N_CASES and all(json.loads(x)["status"] == "ok" for x in lines)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["cases_run"] for r in manifest["runs"]] == [3, N_CASES - 3]


@pytest.mark.slow
def test_ctrl_c_loses_only_cases_in_flight(reference, scenario_file, tmp_path):
    """A real CLI sweep gets SIGINT after its first row, exits 130, and resumes to the same rows."""
    _, ref_out, _ = reference
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "greenwave",
        *cli_args(scenario_file, out, "--workers", "2", "--no-plots"),
    ]
    # Ctrl-C's default action in the child, whatever this process inherited: a shell that
    # starts a job in the background (CI scripts do) makes it ignore SIGINT, and the sweep
    # would inherit that and run to the end.
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    journal = out / "rows.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 10  # in-flight cases are abandoned, not awaited
    assert "run the same command again to resume" in err.lower()
    done = journal.read_text().count("\n")
    assert 1 <= done < N_CASES
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"][0]["interrupted"] and manifest["status"]["ok"] == done

    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert f"{done} finished earlier (resuming)" in res.stderr
    assert comparable(read_results(out / "results.csv")) == comparable(
        read_results(ref_out / "results.csv")
    )


@pytest.mark.parametrize(
    "bad, expect",
    [
        (
            "advisory.penetraton=0.5",
            [
                "did you mean advisory.penetration?",
                "valid keys in [advisory]: penetration, range_m",
            ],
        ),
        ("drivers.nope=1", ["valid keys in [drivers]: desired_speed_factor_mean"]),
        ("advisory.penetration=0.5,1.5", ["advisory.penetration=1.5", "less than or equal to 1"]),
        (
            "advisory.band_min_kmh=40,55",
            ["advisory.band_min_kmh=55", "band_min_kmh must be < band_max_kmh"],
        ),
        ("intersections.plan.cycle_s=90", ["'intersections' is a list", "only scalar settings"]),
        ("seed=1,2", ["use --seeds N"]),
        ("simulation.warmup_s=300", ["must exceed the warm-up (300 s)"]),
        ("grid.rows=3", ["no [grid] section"]),
    ],
)
def test_bad_input_fails_before_running_with_exit_2(scenario_file, tmp_path, capsys, bad, expect):
    out = tmp_path / "out"
    rc = main(["sweep", str(scenario_file), "--set", bad, "--duration", "300", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    for e in expect:
        assert e in err
    assert not out.exists()  # nothing ran, nothing written


def test_different_sweep_in_the_same_dir_is_refused(reference, scenario_file, tmp_path, capsys):
    _, ref_out, _ = reference
    out = tmp_path / "copy"
    shutil.copytree(ref_out, out)
    changed = tmp_path / "changed.toml"
    changed.write_text(
        SCENARIO.replace("flow_veh_h_per_lane = 500.0", "flow_veh_h_per_lane = 400.0")
    )
    args = cli_args(changed, out)
    assert main(args) == 2
    assert "the scenario differs" in capsys.readouterr().err
    assert main(cli_args(scenario_file, out, "--set", "advisory.range_m=300")) == 2
    assert "the grid differs" in capsys.readouterr().err
    # a second sweep writing to the same directory is refused
    held = sweep.Journal(out / "rows.jsonl")
    try:
        with (
            pytest.raises(SweepError, match="another sweep is writing"),
            ThreadPoolExecutor(1) as ex,
        ):
            run_sweep(make_spec(), ex, out, max_cases=0, plots=False)
    finally:
        held.close()
    # --force starts fresh (max_cases=0: start, run nothing)
    spec = make_spec(changed.read_text())
    with ThreadPoolExecutor(1) as ex:
        rep = run_sweep(spec, ex, out, force=True, max_cases=0, plots=False)
    assert (rep.skipped, rep.pending) == (0, N_CASES)
    assert (out / "rows.jsonl").read_text() == ""
    assert not list((out / "plots").glob("*.png"))
    assert (
        json.loads((out / "manifest.json").read_text())["scenario"]["content_hash"]
        == spec.scenario_hash
    )


def _fake_case(fail_seeds):
    def run(scenario_text, overrides, seed, duration_s, before_text=None):
        if seed in fail_seeds:
            raise RuntimeError(f"boom on seed {seed}")
        row = {c: 1.0 for c in MEASURE_COLUMNS}
        row.update({c: 10 for c in MEASURE_COLUMNS if c.endswith(("vehicles", "incomplete"))})
        row["wall_s"] = 0.0
        return row

    return run


def test_failed_cases_are_recorded_exit_1_and_retried(scenario_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(cli_sweep, "local_executor", lambda n: ThreadPoolExecutor(n))
    monkeypatch.setattr(sweep, "run_case", _fake_case({2}))
    assert main(cli_args(scenario_file, out, "--no-plots")) == 1
    err = capsys.readouterr().err
    assert "FAILED RuntimeError: boom on seed 2" in err
    rows = read_results(out / "results.csv")
    assert len(rows) == N_CASES
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["seed"] for r in failed] == ["2"] * 4
    assert failed[0]["error"] == "RuntimeError: boom on seed 2"
    assert failed[0]["baseline_delay_s"] == ""
    assert read_results(out / "summary.csv")[0]["seeds_failed"] == "1"
    records = [json.loads(x) for x in (out / "rows.jsonl").read_text().splitlines()]
    assert all("boom on seed 2" in r["traceback"] for r in records if r["status"] == "failed")

    monkeypatch.setattr(sweep, "run_case", _fake_case(set()))  # the cause is fixed: re-run
    assert main(cli_args(scenario_file, out, "--no-plots")) == 0
    assert "4 finished earlier" in capsys.readouterr().err
    assert all(r["status"] == "ok" for r in read_results(out / "results.csv"))


def test_progress_bar_on_a_terminal_log_lines_otherwise():
    class Tty:
        def isatty(self):
            return True

    assert isinstance(cli_sweep.make_progress(Tty()), cli_sweep.BarProgress)
    with open(os.devnull, "w") as devnull:
        assert isinstance(cli_sweep.make_progress(devnull), cli_sweep.LogProgress)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_rows(reference, scenario_file, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, ref_out, _ = reference
    out = tmp_path / "dask"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        rc = main(
            cli_args(scenario_file, out, "--scheduler", cluster.scheduler_address, "--no-plots")
        )
    assert rc == 0
    assert comparable(read_results(out / "results.csv")) == comparable(
        read_results(ref_out / "results.csv")
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert "distributed" in manifest["versions"]
    assert manifest["runs"][0]["executor"] == "ClientExecutor"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_exit_2(scenario_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(cli_sweep, "DASK_CONNECT_TIMEOUT_S", 1.0)
    addr = f"tcp://127.0.0.1:{_free_port()}"
    assert main(cli_args(scenario_file, tmp_path / "o", "--scheduler", addr)) == 2
    assert f"cannot reach the Dask scheduler at {addr}" in capsys.readouterr().err


def test_missing_dask_exit_2(scenario_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    assert main(cli_args(scenario_file, tmp_path / "o", "--scheduler", "tcp://x:1")) == 2
    assert "pip install 'greenwave[dask]'" in capsys.readouterr().err


def test_before_after_sweep_runs_the_system_comparison(tmp_path, root):
    """With --before the baseline is the before timing without advice (as compare --before)."""
    import tomllib

    from greenwave.network import World
    from greenwave.scenario import apply_override, parse_scenario
    from greenwave.sim.compare import run_before_after
    from greenwave.sim.measures import summarize
    from greenwave.sim.sweep import build_spec, run_sweep

    after = (root / "scenarios" / "zibo_arterial.toml").read_text(encoding="utf-8")
    before = (root / "scenarios" / "zibo_arterial_uncoordinated.toml").read_text(encoding="utf-8")
    spec = build_spec(
        after,
        {"advisory.penetration": [1.0], "simulation.warmup_s": [100.0]},
        seeds=[1],
        duration_s=900.0,
        before_text=before,
    )
    with ThreadPoolExecutor(1) as ex:
        report = run_sweep(spec, ex, tmp_path / "ba", plots=False)
    assert report.failed == 0 and (tmp_path / "ba" / "before.toml").exists()
    with open(tmp_path / "ba" / "results.csv") as f:
        row = next(csv.DictReader(f))

    def world(text):
        data = apply_override(tomllib.loads(text), "simulation.warmup_s", 100.0)
        return World.build(parse_scenario(data))

    b, a = run_before_after(world(after), world(before), 1, duration_s=900.0)
    assert float(row["baseline_stops_per_veh"]) == pytest.approx(summarize(b)["stops_per_veh"])
    assert float(row["advisory_stops_per_veh"]) == pytest.approx(summarize(a)["stops_per_veh"])
    # A different before scenario under the same --out is a different sweep.
    spec2 = build_spec(
        after,
        {"advisory.penetration": [1.0], "simulation.warmup_s": [100.0]},
        seeds=[1],
        duration_s=900.0,
        before_text=after,
    )
    with ThreadPoolExecutor(1) as ex, pytest.raises(SweepError, match="--before"):
        run_sweep(spec2, ex, tmp_path / "ba", plots=False)
