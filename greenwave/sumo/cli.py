"""SUMO subcommands: ``export-sumo`` a scenario, ``import-sumo`` a SUMO network,
``generate-corridor`` a random corridor in both formats.

The work lives in the other modules of :mod:`greenwave.sumo`; this one only parses arguments and
prints.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from greenwave.cli import (
    CliError,
    check_distinct_outputs,
    finite_float,
    int_range,
    out_dir_arg,
    out_file_arg,
)
from greenwave.expand import expand_links
from greenwave.scenario import dumps_scenario, load_scenario


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-sumo",
        help="write a scenario as SUMO input (network, signal programs, flows, .sumocfg)",
        description="Writes SUMO plain XML (nodes, edges, connections, tlLogic programs), "
        "routes with one flow per entry link and a .sumocfg into OUTDIR, and builds "
        "scenario.net.xml with netconvert when it is installed (pip install "
        "'greenwave[sumo]'). SUMO second 0 is the scenario's start_time.",
    )
    p.add_argument("scenario", type=Path, help="scenario TOML file")
    p.add_argument("outdir", type=out_dir_arg, help="output directory (created)")
    p.add_argument(
        "--duration",
        type=finite_float(0.0, 86400.0, lo_open=True),
        metavar="S",
        help="simulated seconds (default: the scenario's simulation.duration_s)",
    )
    p.add_argument(
        "--seed",
        type=int_range(0, 2**31 - 1),
        metavar="N",
        help="SUMO random seed (default: the scenario's simulation.seed)",
    )
    p.add_argument(
        "--arrivals",
        choices=("uniform", "poisson"),
        default="uniform",
        help="equally spaced (vehsPerHour, default) or Poisson arrivals like "
        "greenwave's own demand (period=exp(rate))",
    )
    p.add_argument(
        "--car-following",
        choices=("krauss", "idm"),
        default="krauss",
        help="SUMO's Krauss with sigma=0 (default) or SUMO's IDM with the "
        "scenario's IDM parameters",
    )
    p.add_argument(
        "--no-lane-change",
        action="store_true",
        help="vehicles keep their departure lane (lcStrategic/lcCooperative -1, "
        "lcSpeedGain/lcKeepRight 0), like greenwave's single-file lanes",
    )
    p.add_argument(
        "--no-netconvert",
        action="store_true",
        help="write the plain files only, do not build scenario.net.xml",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import-sumo",
        help="read a SUMO network, its signal programs and routes into a scenario",
        description="Reads a SUMO network (a .net.xml, read with sumolib, or the plain files "
        "written by export-sumo, e.g. scenario.nod.xml, which need no SUMO) with the signal "
        "programs SUMO would run (the net's, then those of the --additional files in order: "
        "the --program id where a signal has it, else the one loaded last), the demand and "
        "drivers of the --routes files (vehicles, trips, flows, routes, route distributions, "
        "vTypes) on the edges their vehicles drive, places it with the net's <location>, "
        "detects the corridor most vehicles drive, and writes a greenwave scenario TOML. "
        "Everything approximated or left out is printed as a note on stderr, every signal "
        "whose program came from the net alone as a warning.",
    )
    p.add_argument(
        "net",
        type=Path,
        metavar="NET",
        help="NET.net.xml, or a plain PREFIX.nod.xml (with .edg/.con/.tll.xml)",
    )
    p.add_argument(
        "out",
        type=out_file_arg,
        metavar="OUT_SCENARIO",
        help="scenario TOML to write (its directory is created)",
    )
    p.add_argument(
        "--additional",
        type=_path_list,
        action="extend",
        default=[],
        metavar="A.add.xml[,B.add.xml]",
        help="SUMO additional files with signal programs (<tlLogic>), loaded after the net's "
        "in the order given (repeat the flag or separate with commas, as SUMO's -a)",
    )
    p.add_argument(
        "--routes",
        type=_path_list,
        action="extend",
        default=[],
        metavar="R.rou.xml[,S.rou.xml]",
        help="SUMO route files (repeat or separate with commas): vehicles, trips and flows "
        "become the demand, the vType most vehicles use the drivers",
    )
    p.add_argument(
        "--program",
        metavar="ID",
        help="signal program id (SUMO programID) to run where a signal has it "
        "(default: the program loaded last, as SUMO)",
    )
    p.add_argument(
        "--corridor-edges",
        metavar="E1,E2,...",
        help="edges to import (default: the edges the routes' vehicles drive; without "
        "--routes the only corridor of signalised edges)",
    )
    p.add_argument(
        "--start-time",
        metavar="ISO",
        help="absolute time of SUMO second 0, e.g. 2026-11-23T07:30:00+08:00 "
        "(default: stored by export-sumo, else greenwave's default)",
    )
    p.add_argument(
        "--origin",
        metavar="LON,LAT",
        help="lon/lat of the network point x=0, y=0 (only for networks whose <location> "
        "has no projection)",
    )
    p.add_argument("--name", help="scenario name (default: the network's file name)")
    p.set_defaults(func=cmd_import)


def cmd_export(args) -> int:
    from .export import export_sumo
    from .xmlio import SumoError

    sc = load_scenario(args.scenario)
    try:
        res = export_sumo(
            sc,
            args.outdir,
            duration_s=args.duration,
            seed=args.seed,
            arrivals=args.arrivals,
            car_following=args.car_following,
            lane_change=not args.no_lane_change,
            build_net=not args.no_netconvert,
        )
    except SumoError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.outdir}: cannot write: {exc.strerror or exc}") from None
    print(f"{args.scenario}: '{sc.name}' exported to {res.outdir}")
    for kind, path in res.files.items():
        print(f"  {kind:<12} {path.name}")
    for note in res.notes:
        print(f"  note: {note}")
    cfg = res.files["sumocfg"]
    if res.net_built:
        print(f"  built with {res.netconvert}")
        print(f"run: sumo-gui -c {cfg}   (or: sumo -c {cfg})")
    else:
        print(f"build the network first: cd {res.outdir} && netconvert -c {cfg.stem}.netccfg")
    return 0


def _path_list(text: str) -> list[Path]:
    """argparse type: one or more comma-separated paths (SUMO's list syntax)."""
    paths = [Path(p.strip()) for p in text.split(",") if p.strip()]
    if not paths:
        raise argparse.ArgumentTypeError("no file given")
    return paths


def _parse_origin(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise CliError(f"--origin: expected LON,LAT, got '{text}'") from None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise CliError(f"--origin: {lon}, {lat} is not a lon/lat")
    return lon, lat


def _parse_start(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--start-time: '{text}' is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise CliError(f"--start-time: '{text}' needs a UTC offset, e.g. +08:00")
    return t


def cmd_import(args) -> int:
    from .importer import read_sumo
    from .xmlio import SumoError

    inputs: dict[str, Path | None] = {"NET": args.net}
    inputs.update({f"--routes {p}": p for p in args.routes})
    inputs.update({f"--additional {p}": p for p in args.additional})
    check_distinct_outputs({"OUT_SCENARIO": args.out}, inputs)
    edges = None
    if args.corridor_edges is not None:
        edges = [e.strip() for e in args.corridor_edges.split(",") if e.strip()]
        if not edges:
            raise CliError("--corridor-edges: no edge ids given")
    if args.program is not None and not args.program.strip():
        raise CliError("--program: empty program id")
    try:
        res = read_sumo(
            args.net,
            additional=args.additional,
            routes=args.routes,
            program=args.program,
            corridor_edges=edges,
            start_time=_parse_start(args.start_time) if args.start_time else None,
            origin=_parse_origin(args.origin) if args.origin else None,
            name=args.name,
        )
    except SumoError as exc:
        raise CliError(str(exc)) from None
    sc = res.scenario
    text = dumps_scenario(sc)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    links = expand_links(sc).links
    n_sig = sum(1 for ln in links if ln.signal_group)
    print(
        f"{args.net}: {len(sc.intersections)} intersections, {len(links)} links "
        f"({n_sig} signalised), {len(sc.corridors)} corridor(s), "
        f"{len(sc.demand.entries)} demand entries → {args.out}"
    )
    for c in res.corridors:
        print(f"  {c}")
    for w in res.warnings:
        print(f"  warning: {w}", file=sys.stderr)
    for note in res.notes:
        print(f"  note: {note}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- generate-corridor


def add_generate_parser(sub) -> None:
    """``generate-corridor`` (its own entry point, after the other SUMO commands in --help)."""
    p = sub.add_parser(
        "generate-corridor",
        help="generate a random signalised corridor (SUMO network + greenwave scenario)",
        description="Draws every parameter of an east-west arterial with 4-10 fixed-time "
        "signals and straight side streets from one seed (see greenwave.sumo.corridorgen for the "
        "ranges) and writes it into OUT twice: as a SUMO network (corridor.net.xml, programs "
        "in corridor.tll.add.xml and inside corridor.merged.net.xml, corridor.rou.xml, "
        "corridor.sumocfg) and as a greenwave scenario (corridor.toml), plus params.json.",
    )
    p.add_argument(
        "--seed",
        type=int_range(0, 2**63 - 1),
        required=True,
        metavar="N",
        help="seed of every random draw",
    )
    p.add_argument(
        "--out", type=out_dir_arg, required=True, metavar="DIR", help="output directory (created)"
    )
    p.add_argument(
        "--sigma",
        type=finite_float(0.0, 1.0),
        default=0.5,
        metavar="S",
        help="Krauss driver imperfection of SUMO's vehicles (default 0.5)",
    )
    p.add_argument(
        "--duration",
        type=finite_float(0.0, 86400.0, lo_open=True),
        default=3600.0,
        metavar="S",
        help="simulated seconds (default 3600)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--coordinated",
        dest="coordinated",
        action="store_const",
        const=True,
        help="a one-way green wave (default: drawn, p = 0.5)",
    )
    mode.add_argument(
        "--uncoordinated",
        dest="coordinated",
        action="store_const",
        const=False,
        help="random offsets (default: drawn, p = 0.5)",
    )
    p.add_argument(
        "--no-netconvert",
        action="store_true",
        help="write only what needs no SUMO (plain XML, routes, .sumocfg, "
        "corridor.toml, params.json)",
    )
    p.set_defaults(func=cmd_generate, coordinated=None)


def cmd_generate(args) -> int:
    from .corridorgen import generate_corridor
    from .xmlio import SumoError

    try:
        p = generate_corridor(
            args.seed,
            args.out,
            coordinated=args.coordinated,
            sigma=args.sigma,
            duration_s=args.duration,
            build_net=not args.no_netconvert,
        )
    except SumoError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    cycles = sorted(set(p.cycle_s))
    cyc = f"{cycles[0]} s" if len(cycles) == 1 else f"{cycles[0]}-{cycles[-1]} s per signal"
    wave = (
        f"{p.wave_direction}bound green wave at {p.progression_kmh:g} km/h"
        if p.coordinated
        else "uncoordinated"
    )
    print(
        f"seed {p.seed}: {p.n_signals} signals over {p.positions_m[-1]:.0f} m, cycle {cyc}, "
        f"{wave}, {p.lanes} lane(s) per direction, {p.flow_east_veh_h}/{p.flow_west_veh_h} "
        f"veh/h east/west, max degree of saturation {p.degree_of_saturation():.2f}"
    )
    print(f"written to {args.out}")
    if args.no_netconvert:
        print(
            "  (no SUMO network: corridor.net.xml, .tll.add.xml and .merged.net.xml need "
            "netconvert)"
        )
    else:
        print(
            f"run: sumo -c {args.out / 'corridor.sumocfg'}   or: greenwave compare "
            f"{args.out / 'corridor.toml'}"
        )
    return 0
