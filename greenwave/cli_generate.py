"""``generate-corridor``: a random signalised corridor for SUMO and greenwave.

The generator lives in :mod:`greenwave.corridorgen`; this module only parses arguments and prints.
"""

from __future__ import annotations

from .cli import CliError, finite_float, int_range, out_dir_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "generate-corridor",
        help="generate a random signalised corridor (SUMO network + greenwave scenario)",
        description="Draws every parameter of an east-west arterial with 4-10 fixed-time "
        "signals and straight side streets from one seed (see greenwave.corridorgen for the "
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
    from .sumo_io import SumoError

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
