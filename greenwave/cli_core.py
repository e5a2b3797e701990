"""Core subcommands: ``validate`` a scenario, ``advise`` sample vehicles on it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .advice import advise
from .cli import (
    CliError,
    finite_float,
    int_range,
    json_arg,
    lang_arg,
    pad,
    print_json,
    scenario_arg,
    warn_unencodable,
)
from .messages import records
from .movements import THROUGH, TURN_NAMES
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
    p.add_argument(
        "--vehicles",
        type=int_range(1, 1_000_000),
        default=12,
        metavar="N",
        help="number of sample vehicles (default 12)",
    )
    p.add_argument(
        "--at-s",
        type=finite_float(0.0, 86400.0),
        default=0.0,
        metavar="S",
        help="seconds after the scenario's start_time (default 0)",
    )
    p.add_argument(
        "--seed",
        type=int_range(0, 2**32 - 1),
        default=1,
        metavar="N",
        help="seed of the vehicles' links, positions and speeds (default 1)",
    )
    p.add_argument(
        "--turn",
        choices=TURN_NAMES,
        default="through",
        help="the turn every sample vehicle takes at its next signal: vehicles are placed on "
        "approaches that have it, and the advice follows that movement's signal group and turn "
        "speed (default through)",
    )
    lang_arg(p, "table and the drivers' messages (--json has both)")
    json_arg(p)
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
    turn = TURN_NAMES.index(args.turn)
    candidates = np.flatnonzero(net.link_group >= 0)
    if turn != THROUGH:
        # Approaches ending at a signal that have this turn (the straight path may have none).
        candidates = candidates[net.movements.find(candidates, turn) >= 0]
        if candidates.size == 0:
            raise CliError(f"--turn {args.turn}: no signalised approach of '{sc.name}' has one")
    link = rng.choice(candidates, args.vehicles)
    offset = rng.uniform(0.0, 1.0, args.vehicles) * net.link_length_m[link]
    speed = kmh_to_ms(rng.uniform(20.0, 60.0, args.vehicles))
    t = w.epoch_s + args.at_s
    adv = advise(
        net,
        w.timing,
        params,
        link,
        offset,
        speed,
        t,
        sc.advisory.intersections_ahead,
        turn=np.full(args.vehicles, turn) if turn != THROUGH else None,
    )
    recs = records(adv, net, w.timing, t, params, sc.advisory.intersections_ahead)
    for r, li, v in zip(recs, link, speed, strict=True):
        r["link_id"] = net.link_ids[li]
        r["speed_kmh"] = float(v * 3.6)
        r["turn"] = args.turn
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
    tr = TEXT[args.lang]
    warn_unencodable(tr["title"])
    band_t = f"{sc.advisory.band_min_kmh:g}–{sc.advisory.band_max_kmh:g} km/h"
    print(
        tr["title"].format(
            name=sc.name,
            time=sc.simulation.start_time.isoformat(),
            at=args.at_s,
            band=band_t,
            turn=tr["turn"][args.turn],
        )
    )
    *cols, last = tr["header"]
    widths = (4, 14, 7, 5, 12, 16, 12, 28)
    aligns = (">", "<", ">", ">", "<", "<", "<", "<")
    print(" ".join(pad(*c) for c in zip(cols, widths, aligns, strict=True)), last)
    for i, r in enumerate(recs):
        sig = r["signal"]
        sig_t = (
            f"{tr['signal'].get(sig['state'], sig['state'])} {sig['time_to_change_s']:.0f}s"
            if sig
            else "-"
        )
        band = r["band"]
        band_t = f"{band['min_kmh']:.1f}–{band['max_kmh']:.1f}" if band else "-"
        opts = (
            " ".join(
                f"{o['intersections']}:{o['min_kmh']:.0f}–{o['max_kmh']:.0f}" for o in r["options"]
            )
            or "-"
        )
        dist = f"{r['distance_m']:.0f}" if r["distance_m"] is not None else "-"
        status = tr["status"].get(r["status"], r["status"])
        print(
            f"{i:>4} {r['link_id']:<14} {dist:>7} {r['speed_kmh']:>5.1f} {pad(sig_t, 12)} "
            f"{pad(status, 16)} {band_t:<12} {opts:<28} {r['message'][args.lang]}"
        )
    return 0


TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "{name}: advice at {time} + {at:g} s (band {band}; {turn})",
        "header": (
            "veh",
            "link",
            "dist m",
            "km/h",
            "signal",
            "status",
            "band km/h",
            "green through n (km/h)",
            "message",
        ),
        "signal": {},
        "status": {},
        "turn": {"left": "turning left", "through": "straight on", "right": "turning right"},
    },
    "zh": {
        "title": "{name}:{time} 后 {at:g} 秒的车速引导(速度区间 {band};{turn})",
        "header": (
            "车辆",
            "路段",
            "距离 m",
            "km/h",
            "信号灯",
            "状态",
            "速度区间",
            "连续绿灯 n 个路口 (km/h)",
            "提示",
        ),
        "signal": {"green": "绿灯", "amber": "黄灯", "red": "红灯"},
        "status": {
            "no_signal_ahead": "前方无信号灯",
            "proceed": "保持车速",
            "advice": "建议车速",
            "prepare_to_stop": "准备停车",
        },
        "turn": {"left": "左转", "through": "直行", "right": "右转"},
    },
}
"""Table texts of ``advise --lang``; the messages come from :mod:`greenwave.messages`."""
