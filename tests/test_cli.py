"""The ``greenwave`` command line as a tool: help, version, entry points, output paths checked
before any work, progress, ``compare --before`` files, ``--lang``, ``--report`` and output on
terminals that are not UTF-8.

Simulations run on a small corridor (two signals, 60 s warm-up, one seed of 200 s) so that
the module takes seconds.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import tomli_w
from simkit import load_script, two_signal_toml

import greenwave.cli as cli
from greenwave.cli import main
from greenwave.scenario import DEFAULT_SCENARIO

ROOT = Path(__file__).resolve().parent.parent
BEFORE = ROOT / "scenarios" / "zibo_arterial_uncoordinated.toml"
SHORT = ["--seeds", "1", "--duration", "700"]  # the bundled arterial's warm-up is 600 s
RUN = ["--seeds", "1", "--duration", "200"]  # on the small corridor

SMALL = two_signal_toml(
    "cli_test", offset_b_s="OFFSET", duration_s=300.0, warmup_s=60.0, progression_kmh=40.0
)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """(after, before) scenario files: the same corridor, offsets 31 s and 0 s at b."""
    d = tmp_path_factory.mktemp("scenarios")
    after, before = d / "small.toml", d / "small_before.toml"
    after.write_text(SMALL.replace("OFFSET", "31.0"), encoding="utf-8")
    before.write_text(SMALL.replace("OFFSET", "0.0"), encoding="utf-8")
    return after, before


# Flags without help; each entry must still lack help (so the list shrinks as they are fixed).
KNOWN_WITHOUT_HELP: set[tuple[str, str]] = set()


def _actions(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        else:
            yield path, (action.option_strings or [action.dest])[-1], action


def _missing_help(parser, path):
    return {
        (where, flag)
        for where, flag, action in _actions(parser, path)
        if not action.help or action.help == argparse.SUPPRESS or not action.help.strip()
    }


def test_every_flag_of_every_subcommand_has_help():
    missing = _missing_help(cli.build_parser(), "greenwave")
    assert missing - KNOWN_WITHOUT_HELP == set()
    assert missing >= KNOWN_WITHOUT_HELP, "fixed upstream: remove from KNOWN_WITHOUT_HELP"


def test_every_flag_of_reproduce_claims_has_help():
    mod = load_script("reproduce_claims")
    assert _missing_help(mod.build_parser(), "reproduce_claims") == set()


def test_help_renders_for_every_subcommand(capsys):
    parser = cli.build_parser()
    names = [n for a in parser._subparsers._group_actions for n in a.choices]
    assert {"validate", "advise", "optimize", "compare", "demo", "sweep", "serve"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: greenwave " + name in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"greenwave {cli._version()}"


# --- entry points -------------------------------------------------------------------------------


def test_subcommands_come_from_entry_points_and_the_core_names_no_upper_package():
    eps = cli.command_entry_points()
    names = [ep.name for ep in eps]
    assert names[: len(cli.HELP_ORDER)] == list(cli.HELP_ORDER)
    values = {ep.name: ep.value for ep in eps}
    assert values["compare"] == "greenwave.sim.cli:add_parser"
    assert values["serve"] == "greenwave.api.serve:add_parser"
    source = inspect.getsource(cli)
    assert "greenwave.sim" not in source and "greenwave.api" not in source


def test_no_registered_commands_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "greenwave is not installed; run pip install -e ." in err
    assert "Traceback" not in err


def test_a_broken_command_module_warns_and_the_others_work(monkeypatch, capsys):
    real = cli.entry_points
    broken = EntryPoint("broken", "greenwave_no_such_module:add_parser", cli.COMMAND_GROUP)
    monkeypatch.setattr(cli, "entry_points", lambda group: [*real(group=group), broken])
    assert main(["validate"]) == 0
    captured = capsys.readouterr()
    assert "commands 'broken'" in captured.err and "ModuleNotFoundError" in captured.err
    assert ": ok" in captured.out


# --- output paths, checked before any work ------------------------------------------------------


@pytest.fixture
def no_work(monkeypatch):
    """Every entry into real work raises: a bad path must stop the command before it."""

    def boom(*a, **k):
        raise AssertionError("work started before the output paths were checked")

    import greenwave.cli_coordination
    import greenwave.sim.cli
    import greenwave.sim.cli_sweep
    import greenwave.sim.compare
    import greenwave.sim.engine
    import greenwave.sumo.corridorgen
    import greenwave.sumo.export
    import greenwave.sumo.importer

    monkeypatch.setattr(greenwave.sim.engine.Simulation, "run", boom)
    for mod, name in (
        (greenwave.sim.compare, "compare"),
        (greenwave.sim.compare, "compare_before_after"),
        (greenwave.sim.cli, "compare"),
        (greenwave.sim.cli, "compare_before_after"),
        (greenwave.sim.cli_sweep, "run_sweep"),
        (greenwave.cli_coordination, "optimize_corridor"),
        (greenwave.cli_coordination, "optimize_network"),
        (greenwave.sumo.export, "export_sumo"),
        (greenwave.sumo.importer, "import_sumo"),
        (greenwave.sumo.corridorgen, "generate_corridor"),
    ):
        monkeypatch.setattr(mod, name, boom)


A_FILE = "{tmp}/a_file.txt"
UNDER_A_FILE = "{tmp}/a_file.txt/sub"
A_DIR = "{tmp}"

BAD_PATHS = [
    # (argv, flag in the message, reason in the message)
    (["compare", *SHORT, "--plots", UNDER_A_FILE], "--plots", "a_file.txt is not a directory"),
    (["compare", *SHORT, "--plots", A_FILE], "--plots", "exists and is not a directory"),
    (["compare", *SHORT, "--out", A_DIR], "--out", "is a directory"),
    (["compare", *SHORT, "--out", UNDER_A_FILE + "/r.csv"], "--out", "is not a directory"),
    (["compare", *SHORT, "--report", A_DIR], "--report", "is a directory"),
    (
        ["compare", *SHORT, "--before", str(BEFORE), "--plots", UNDER_A_FILE],
        "--plots",
        "is not a directory",
    ),
    (["demo", *SHORT, "--plots", A_FILE], "--plots", "exists and is not a directory"),
    (["demo", *SHORT, "--report", UNDER_A_FILE], "--report", "is not a directory"),
    (
        ["sweep", "--set", "demand.scale=1", "--out", A_FILE],
        "--out",
        "exists and is not a directory",
    ),
    (["optimize", "--speed-kmh", "45", "--out", A_DIR], "--out", "is a directory"),
    (["optimize", "--speed-kmh", "45", "--out", UNDER_A_FILE], "--out", "is not a directory"),
    (["export-sumo", str(DEFAULT_SCENARIO), A_FILE], "outdir", "exists and is not a directory"),
    (["import-sumo", "x.net.xml", A_DIR], "OUT_SCENARIO", "is a directory"),
    (["generate-corridor", "--seed", "1", "--out", UNDER_A_FILE], "--out", "is not a directory"),
]


@pytest.mark.parametrize(("argv", "flag", "reason"), BAD_PATHS, ids=lambda v: str(v)[:40])
def test_bad_output_path_exits_2_before_any_work(no_work, tmp_path, capsys, argv, flag, reason):
    (tmp_path / "a_file.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: " in err and reason in err, err
    assert "Traceback" not in err


def test_sweep_out_on_etc_hostname_is_a_message_not_a_traceback(no_work, capsys):
    if not Path("/etc/hostname").is_file():
        pytest.skip("no /etc/hostname here")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--set", "demand.scale=1", "--out", "/etc/hostname"])
    assert exc.value.code == 2
    assert "--out: /etc/hostname: exists and is not a directory" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_is_refused(no_work, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SystemExit):
            main(["compare", *SHORT, "--out", str(locked / "r.csv")])
        assert "no write permission" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_outputs_may_not_overwrite_the_scenario_or_each_other(no_work, tmp_path, capsys):
    scen = tmp_path / "s.toml"
    shutil.copy(DEFAULT_SCENARIO, scen)
    assert main(["compare", str(scen), *SHORT, "--out", str(scen)]) == 2
    assert "--out" in capsys.readouterr().err
    same = str(tmp_path / "x.html")
    assert main(["compare", str(scen), *SHORT, "--out", same, "--report", same]) == 2
    assert "--out and --report name the same path" in capsys.readouterr().err
    assert scen.read_text() == DEFAULT_SCENARIO.read_text()


def test_missing_output_directories_are_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "opt.toml"
    assert main(["optimize", "--speed-kmh", "45", "--direction", "one", "--out", str(out)]) == 0
    assert out.is_file()


# --- compare: files, progress, --lang -----------------------------------------------------------


def _json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_compare_writes_plots_and_csv_and_matches_the_library(small, tmp_path, capsys):
    from greenwave.cli import _nan_to_none
    from greenwave.network import World
    from greenwave.scenario import load_scenario
    from greenwave.sim.compare import compare

    scen, _ = small
    plots, out = tmp_path / "plots", tmp_path / "csv" / "veh.csv"
    argv = ["compare", str(scen), *RUN, "--json", "--plots", str(plots), "--out", str(out)]
    assert main(argv) == 0
    got = _json_out(capsys)
    assert sorted(p.name for p in plots.glob("*.png")) == [
        "change_by_group.png",
        "speed_profiles_eastbound.png",
        "speed_profiles_westbound.png",
        "time_space_eastbound.png",
        "time_space_westbound.png",
    ]
    with out.open(newline="", encoding="utf-8") as f:
        runs = {r["run"] for r in csv.DictReader(f)}
    assert runs == {"baseline", "advisory"}
    # The CLI drives the seeds itself (progress, first seed recorded): same numbers as compare().
    assert got["baseline"]["vehicles"] > 0
    ref = _nan_to_none(compare(World.build(load_scenario(scen)), [1], duration_s=200))
    assert {k: v for k, v in got.items() if k != "vehicle_steps_per_s"} == {
        k: ref[k] for k in got if k != "vehicle_steps_per_s"
    }


def test_compare_before_honours_plots_and_out(small, tmp_path, capsys):
    from greenwave.cli import _nan_to_none
    from greenwave.network import World
    from greenwave.scenario import load_scenario
    from greenwave.sim.compare import compare_before_after

    scen, before = small
    plots, out = tmp_path / "plots", tmp_path / "veh.csv"
    argv = ["compare", str(scen), "--before", str(before), *RUN, "--plots", str(plots)]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    got = _json_out(capsys)
    assert len(list(plots.glob("time_space_*.png"))) == 2
    assert len(list(plots.glob("speed_profiles_*.png"))) == 2
    assert (plots / "change_by_group.png").is_file()
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["run"] for r in rows} == {"before", "retiming_only", "advice_only", "after"}
    assert {r["seed"] for r in rows} == {"1"}
    after_w, before_w = (World.build(load_scenario(p)) for p in (scen, before))
    assert got == _nan_to_none(compare_before_after(after_w, before_w, [1], duration_s=200))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_only_and_never_with_json(small, tmp_path, monkeypatch, capsys):
    scen, before = small
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert main(["compare", str(scen), *RUN]) == 0
    assert "compare: 100%" in sys.stderr.getvalue() and "2/2" in sys.stderr.getvalue()
    assert "mean speed (km/h)" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert main(["compare", str(scen), *RUN, "--json"]) == 0
    assert "compare:" not in sys.stderr.getvalue()  # warnings may go there, progress never
    json.loads(capsys.readouterr().out.splitlines()[-1])
    # stderr a pipe or a log file: no progress; the --before table in Chinese names the CSV.
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    out = tmp_path / "veh.csv"
    argv = ["compare", str(scen), "--before", str(before), *RUN, "--out", str(out)]
    assert main([*argv, "--lang", "zh"]) == 0
    assert "compare:" not in sys.stderr.getvalue()  # no progress bar on a pipe
    text = capsys.readouterr().out
    assert "仅配时优化" in text and "平均车速" in text and "mean speed" not in text
    assert f"逐车结果: {out}" in text and out.is_file()


# --- advise --lang, encodings -------------------------------------------------------------------


def test_advise_message_column_follows_lang(capsys):
    assert main(["advise", "--vehicles", "5"]) == 0
    en = capsys.readouterr().out
    assert "to the next intersection" in en and "路口" not in en
    assert main(["advise", "--vehicles", "5", "--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert "距离前方路口" in zh and "to the next intersection" not in zh


def test_advise_turn_places_turners_on_approaches_that_have_the_turn(capsys):
    assert main(["advise", "--vehicles", "40", "--turn", "left", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["vehicles"]
    assert {r["turn"] for r in rows} == {"left"}
    # Under the 35 km/h floor a left turner (32.7 km/h turn) still gets bands: hold, then brake.
    assert any(r["band"] is not None and r["band"]["min_kmh"] >= 35.0 for r in rows)
    assert main(["advise", "--vehicles", "3", "--turn", "right"]) == 0
    assert "turning right" in capsys.readouterr().out


def test_advise_turn_nobody_can_take_is_exit_2(tmp_path, capsys):
    # A through-only corridor (no movements across it): nobody can turn left.
    from simkit import corridor

    sc = corridor(n=2).scenario
    path = tmp_path / "through.toml"
    path.write_text(tomli_w.dumps(sc.model_dump(mode="json", exclude_none=True)))
    assert main(["advise", str(path), "--turn", "left"]) == 2
    err = capsys.readouterr().err
    assert "--turn left: no signalised approach of" in err and "has one" in err


def _run(*args, encoding="cp1252"):
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "greenwave", *args],
        capture_output=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )


def test_non_utf8_stdout_does_not_crash(tmp_path):
    r = _run("advise", "--vehicles", "6")
    assert r.returncode == 0, r.stderr.decode("cp1252", "replace")
    text = r.stdout.decode("cp1252")
    assert "to the next intersection" in text

    r = _run("advise", "--vehicles", "6", "--lang", "zh")
    assert r.returncode == 0, r.stderr.decode("cp1252", "replace")
    assert "?" in r.stdout.decode("cp1252")
    assert "cannot show --lang zh" in r.stderr.decode("cp1252")

    r = _run("optimize", "--speed-kmh", "45", "--out", str(tmp_path / "o.toml"))
    assert r.returncode == 0, r.stderr.decode("cp1252", "replace")
    assert "->" in r.stdout.decode("cp1252")  # → as ASCII


def test_json_on_a_non_utf8_stdout_is_lossless():
    utf8 = json.loads(_run("advise", "--vehicles", "3", "--json", encoding="utf-8").stdout)
    r = _run("advise", "--vehicles", "3", "--json", encoding="ascii")
    assert r.returncode == 0
    assert json.loads(r.stdout.decode("ascii")) == utf8


# --- --report -----------------------------------------------------------------------------------


def test_report_embeds_plots_without_plots_flag(small, tmp_path, capsys):
    report = tmp_path / "r" / "report.html"
    assert main(["compare", str(small[0]), *RUN, "--report", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "data:image/png;base64," in html
    assert f"report: {report}" in capsys.readouterr().out


# --- --drain ------------------------------------------------------------------------------------


def test_drain_counts_every_trip_and_short_runs_warn(small, capsys):
    scen, _ = small
    assert main(["compare", str(scen), *RUN, "--json"]) == 0
    cut = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert main(["compare", str(scen), *RUN, "--drain", "--json"]) == 0
    captured = capsys.readouterr()
    drained = json.loads(captured.out.splitlines()[-1])
    assert drained["drain_s"] == 3600.0 and cut["drain_s"] is None
    for run in ("baseline", "advisory"):
        # Same arrivals: draining adds the trips that were en route at the horizon.
        assert drained[run]["incomplete"] == 0
        assert drained[run]["vehicles"] == cut[run]["vehicles"] + cut[run]["incomplete"]
    assert "counted only" not in captured.err
    # Without draining, this short run counts under half of its trips: say so.
    assert main(["compare", str(scen), *RUN]) == 0
    assert "counted only" in capsys.readouterr().err


def test_drain_bound_and_warmup_checks(small, tmp_path, capsys):
    scen, _ = small
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(scen), "--drain", "nan"])
    assert exc.value.code == 2
    assert "argument --drain: 'nan' must be finite" in capsys.readouterr().err
    bad = tmp_path / "warm.toml"
    bad.write_text(scen.read_text().replace("warmup_s = 60.0", "warmup_s = 600.0"))
    assert "warmup_s = 600.0" in bad.read_text()
    for cmd in (["validate", str(bad)], ["compare", str(bad)]):
        assert main(cmd) == 2
        assert "warmup_s (600) must be less than duration_s" in capsys.readouterr().err
