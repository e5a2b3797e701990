"""``greenwave`` command line.

Each subcommand lives in the module that owns its idea and registers itself through an
``add_parser(subparsers)`` function listed in ``COMMANDS``; the parser sets ``func`` to the
handler, which returns the exit code.  Bad input (a scenario that fails validation, a flag out of
range) prints one clear message to stderr and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np

from .scenario import DEFAULT_SCENARIO, ScenarioError

# name → module providing add_parser(subparsers); order is the order of --help.
COMMANDS = [
    "greenwave.cli_core",
    "greenwave.cli_coordination",
    "greenwave.api.serve",
    "greenwave.sim.cli",
    "greenwave.sim.cli_sweep",
    "greenwave.cli_sumo",
    "greenwave.cli_generate",
]


class CliError(Exception):
    """A user error: printed as ``greenwave: error: ...`` and exit code 2."""


def finite_float(lo: float | None = None, hi: float | None = None, *, lo_open=False):
    """argparse type: a finite float inside [lo, hi] (or (lo, hi] with ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"'{text}' must be finite")
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise argparse.ArgumentTypeError(f"{v:g} must be {'>' if lo_open else '>='} {lo:g}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"{v:g} must be <= {hi:g}")
        return v

    return parse


def int_range(lo: int, hi: int):
    """argparse type: an integer inside [lo, hi]."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} must be in {lo}..{hi}")
        return v

    return parse


def scenario_arg(p: argparse.ArgumentParser, required: bool = False):
    """Add the positional SCENARIO argument (default: the bundled Zibo arterial)."""
    if required:
        p.add_argument("scenario", type=Path, help="scenario TOML file")
    else:
        p.add_argument(
            "scenario",
            type=Path,
            nargs="?",
            default=DEFAULT_SCENARIO,
            help=f"scenario TOML file (default: {DEFAULT_SCENARIO.name})",
        )


def print_json(obj) -> None:
    """Exactly one JSON object on one line of stdout (NaN and infinities are written as null;
    numpy scalars as plain numbers)."""
    print(json.dumps(_nan_to_none(obj), ensure_ascii=False, allow_nan=False))


def parse_list(text: str, conv=int) -> list:
    """``"1-4"``, ``"1,2,7"`` or ``"25,50,100"`` as a list (ranges for integers only).

    Raises ``ValueError`` naming the text when it is empty or malformed.
    """
    out = []
    for part in text.split(","):
        part = part.strip()
        if conv is int and "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(conv(part))
    if not out:
        raise ValueError(f"empty list: {text!r}")
    return out


def _nan_to_none(obj):
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenwave",
        description="Green-wave speed advisory (GLOSA): speed bands, simulation, service.",
    )
    parser.add_argument("--version", action="version", version=f"greenwave {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in COMMANDS:
        importlib.import_module(mod).add_parser(sub)
    return parser


def _version() -> str:
    """The installed distribution's version (the package's own when run from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("greenwave")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        print(f"greenwave: error: invalid scenario\n{exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"greenwave: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("greenwave: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
