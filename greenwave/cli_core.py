"""Core subcommands: ``validate`` a scenario, ``advise`` sample vehicles on it."""

from __future__ import annotations

import numpy as np

from .advice import advise
from .cli import finite_float, int_range, print_json, scenario_arg
from .messages import records
from .network import World
from .scenario import load_scenario
from .units import kmh_to_ms


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check a scenario file and summarise it")
    scenario_arg(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "advise",
        help="print the advice for sample vehicles on a scenario's network",
        description="Places vehicles at random (seeded) positions and speeds on signalised "
        "approaches and prints what the app would tell each driver.",
    )
    scenario_arg(p)
    p.add_argument("--vehicles", type=int_range(1, 1_000_000), default=12, help="(default 12)")
    p.add_argument(
        "--at-s",
        type=finite_float(0.0, 86400.0),
        default=0.0,
        metavar="S",
        help="seconds after the scenario's start_time (default 0)",
    )
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=1)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_advise)


def cmd_validate(args) -> int:
    sc = load_scenario(args.scenario)
    w = World.build(sc)
    net, plans = w.network, w.timing.plans
    signalised = (net.link_group >= 0).sum()
    print(f"{args.scenario}: ok — '{sc.name}'")
    print(
        f"  intersections {len(net.intersection_ids)}, links {net.n_links} "
        f"({signalised} signalised approaches, {len(net.entry_links)} entries), "
        f"corridors {len(net.corridors)}"
    )
    print(
        f"  cycles {plans.cycle_s.min():g}–{plans.cycle_s.max():g} s, "
        f"network length {net.link_length_m.sum() / 1000:.1f} km"
    )
    return 0


def cmd_advise(args) -> int:
    sc = load_scenario(args.scenario)
    w = World.build(sc)
    net = w.network
    params = sc.band_params()
    rng = np.random.default_rng(args.seed)
    candidates = np.flatnonzero(net.link_group >= 0)
    link = rng.choice(candidates, args.vehicles)
    offset = rng.uniform(0.0, 1.0, args.vehicles) * net.link_length_m[link]
    speed = kmh_to_ms(rng.uniform(20.0, 60.0, args.vehicles))
    t = w.epoch_s + args.at_s
    adv = advise(net, w.timing, params, link, offset, speed, t, sc.advisory.intersections_ahead)
    recs = records(adv, net, w.timing, t, params, sc.advisory.intersections_ahead)
    for r, li, v in zip(recs, link, speed, strict=True):
        r["link_id"] = net.link_ids[li]
        r["speed_kmh"] = float(v * 3.6)
    if args.json:
        print_json(
            {
                "scenario": sc.name,
                "time": sc.simulation.start_time.isoformat(),
                "at_s": args.at_s,
                "vehicles": recs,
            }
        )
        return 0
    print(
        f"{sc.name}: advice at {sc.simulation.start_time.isoformat()} + {args.at_s:g} s "
        f"(band {sc.advisory.band_min_kmh:g}–{sc.advisory.band_max_kmh:g} km/h)"
    )
    print(
        f"{'veh':>4} {'link':<14} {'dist m':>7} {'km/h':>5} {'signal':<12} {'status':<16}"
        f" {'band km/h':<10} {'green through n (km/h)':<28} message"
    )
    for i, r in enumerate(recs):
        sig = r["signal"]
        sig_t = f"{sig['state']} {sig['time_to_change_s']:.0f}s" if sig else "-"
        band = r["band"]
        band_t = f"{band['min_kmh']:.1f}–{band['max_kmh']:.1f}" if band else "-"
        opts = (
            " ".join(
                f"{o['intersections']}:{o['min_kmh']:.0f}–{o['max_kmh']:.0f}" for o in r["options"]
            )
            or "-"
        )
        dist = f"{r['distance_m']:.0f}" if r["distance_m"] is not None else "-"
        print(
            f"{i:>4} {r['link_id']:<14} {dist:>7} {r['speed_kmh']:>5.1f} {sig_t:<12} "
            f"{r['status']:<16} {band_t:<10} {opts:<28} {r['message']['zh']}"
        )
    return 0
