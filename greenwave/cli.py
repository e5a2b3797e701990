"""``greenwave`` command line.

Subcommands live in the modules that own their ideas and register themselves as entry points of
the group ``greenwave.commands`` (``pyproject.toml``): each names an ``add_parser(subparsers)``
function, which adds one or more subcommands whose ``func`` handler returns the exit code.  This
module names none of them.  Bad input (a scenario that fails validation, a flag out of range, an
output path that cannot be written) prints one clear message to stderr and exits with code 2,
never a traceback; output paths are checked while the flags are parsed, before any work.

Shared helpers for the subcommands: :class:`CliError`, argparse types (:func:`finite_float`,
:func:`int_range`, :func:`out_dir_arg`, :func:`out_file_arg`), common flags
(:func:`scenario_arg`, :func:`json_arg`, :func:`lang_arg`), :func:`print_json`,
:func:`progress_bar` and :func:`pad` (tables with Chinese text).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import json
import math
import os
import sys
import unicodedata
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import numpy as np

from .scenario import DEFAULT_SCENARIO, ScenarioError

COMMAND_GROUP = "greenwave.commands"
"""Entry-point group of the subcommand modules (``name = "module:add_parser"``)."""

HELP_ORDER = ("core", "optimize", "serve", "compare", "sweep", "sumo", "generate")
"""Order of the entry points' subcommands in ``--help``; others follow by name."""

LANGS = ("en", "zh")


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


# --- output paths -------------------------------------------------------------------------------


def _creatable(path: Path) -> str | None:
    """Why ``path`` (which does not exist) cannot be created, or None if it can.

    Its nearest existing ancestor must be a directory we may write into.
    """
    if path.is_symlink():
        return f"{path} is a dangling symbolic link"
    for anc in Path(os.path.abspath(path)).parents:
        try:
            if not anc.exists():
                continue
        except OSError as exc:
            return f"cannot look at {anc}: {exc.strerror}"
        if not anc.is_dir():
            return f"{anc} is not a directory"
        if not os.access(anc, os.W_OK | os.X_OK):
            return f"cannot create it: no write permission in {anc}"
        return None
    return None


def output_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be (created and) written to as a directory, or None."""
    try:
        exists = path.exists()
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror}"
    if not exists:
        return _creatable(path)
    if not path.is_dir():
        return "exists and is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return "directory is not writable"
    return None


def output_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file (parents created as needed), or None."""
    try:
        exists = path.exists()
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror}"
    if not exists:
        return _creatable(path)
    if path.is_dir():
        return "is a directory, expected a file name"
    if not os.access(path, os.W_OK):
        return "file is not writable"
    return None


def out_dir_arg(text: str) -> Path:
    """argparse type: an output directory that exists or can be created, and is writable.

    Checked while parsing, so a bad path stops the command before any work; nothing is created
    here (the command creates the directory when it writes).
    """
    path = Path(text)
    problem = output_dir_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def out_file_arg(text: str) -> Path:
    """argparse type: an output file that can be written (its directory may still be missing)."""
    path = Path(text)
    problem = output_file_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def same_file(a: Path, b: Path) -> bool:
    """True if the two paths name the same file (existing or not)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_distinct_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path | None]):
    """Refuse (:class:`CliError`) an output flag that would overwrite an input or another output.

    ``outputs`` and ``inputs`` map flag names (``"--out"``, ``"SCENARIO"``) to paths or None.
    """
    given_out = [(f, p) for f, p in outputs.items() if p is not None]
    given_in = [(f, p) for f, p in inputs.items() if p is not None]
    for i, (flag, path) in enumerate(given_out):
        for other, src in given_in:
            if same_file(path, src):
                raise CliError(f"{flag} {path} would overwrite {other}; write to a new file")
        for other, dst in given_out[i + 1 :]:
            if same_file(path, dst):
                raise CliError(f"{flag} and {other} name the same path {path}")


# --- common flags -------------------------------------------------------------------------------


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
            help=f"scenario TOML file (default: the bundled {DEFAULT_SCENARIO.name})",
        )


def seeds_args(p: argparse.ArgumentParser, *, default: int, per: str = "") -> None:
    """``--seeds N`` and ``--first-seed S``: the runs use seeds S, S+1, ..., S+N-1."""
    p.add_argument(
        "--seeds",
        type=int_range(1, 1000),
        default=default,
        metavar="N",
        help=f"number of seeds{per} (default {default})",
    )
    p.add_argument(
        "--first-seed",
        type=int_range(0, 2**31),
        default=1,
        metavar="S",
        help="first seed; the runs use seeds S, S+1, ..., S+N-1 (default 1)",
    )


def duration_arg(p: argparse.ArgumentParser) -> None:
    """``--duration S``: simulated seconds per run (default: the scenario's)."""
    p.add_argument(
        "--duration",
        type=finite_float(1.0, 86400.0),
        metavar="S",
        help="simulated seconds per run, more than the warm-up (default: the scenario's)",
    )


def json_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--json``: one JSON object on stdout and nothing else there; no progress bar."""
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout instead of the table (no progress bar)",
    )


def lang_arg(p: argparse.ArgumentParser, what: str = "tables and messages") -> None:
    """Add ``--lang en|zh`` (default en)."""
    p.add_argument(
        "--lang",
        choices=LANGS,
        default="en",
        help=f"language of the {what}: en (default) or zh (Chinese)",
    )


# --- output -------------------------------------------------------------------------------------


def _stdout_is_unicode() -> bool:
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        return codecs.lookup(enc).name.startswith("utf")
    except LookupError:
        return False


def warn_unencodable(text: str, what: str = "--lang zh") -> None:
    """Warn on stderr once if stdout's encoding cannot show ``text`` (it prints ``?`` then)."""
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(enc)
    except UnicodeEncodeError:
        print(
            f"greenwave: warning: stdout's encoding {enc} cannot show {what}; unencodable "
            "characters print as '?' (set PYTHONIOENCODING=utf-8 or use a UTF-8 terminal)",
            file=sys.stderr,
        )
    except LookupError:
        pass


def print_json(obj) -> None:
    """Exactly one JSON object on one line of stdout (NaN and infinities are written as null;
    numpy scalars as plain numbers).  Non-ASCII text is escaped (``\\uXXXX``) when stdout is not
    Unicode, so the JSON stays lossless whatever the terminal's encoding."""
    ascii_only = not _stdout_is_unicode()
    print(json.dumps(_nan_to_none(obj), ensure_ascii=ascii_only, allow_nan=False))


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


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (East Asian wide and full-width characters take 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` terminal columns (``<`` left, ``>`` right)."""
    fill = " " * max(0, width - text_width(text))
    return text + fill if align == "<" else fill + text


class _NoBar:
    """Stand-in for a tqdm bar when no progress is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(total: int, *, desc: str, unit: str, quiet: bool = False) -> Any:
    """A tqdm progress bar on stderr, or a silent stand-in.

    Shown only when stderr is a terminal and not ``quiet`` (pass ``args.json``): logs, pipes and
    JSON consumers see nothing.  The bar disappears when closed; use it as a context manager.
    """
    isatty = getattr(sys.stderr, "isatty", None)
    if quiet or not (isatty and isatty()):
        return _NoBar()
    from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


# Typographic signs used in tables and messages, as ASCII for terminals that lack them.
_ASCII = {
    "–": "-",
    "—": "-",
    "−": "-",
    "→": "->",
    "←": "<-",
    "×": "x",
    "·": "*",
    "≤": "<=",
    "≥": ">=",
    "≈": "~",
    "±": "+/-",
    "σ": "sigma",
    "µ": "u",
    "’": "'",
    "‘": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "°": " deg",
}


def _encode_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: ASCII look-alikes for typographic signs, ``?`` for the rest."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_ASCII.get(c, "?") for c in bad), exc.end


codecs.register_error("greenwave-fallback", _encode_fallback)


def ensure_encodable_stdio() -> None:
    """Make stdout and stderr survive text their encoding lacks (cp1252, ASCII, ...).

    Streams whose encoding is not UTF-8/16/32 get an error handler that writes ASCII
    look-alikes (``–`` → ``-``, ``→`` → ``->``) and ``?`` for the rest (e.g. Chinese), instead
    of a UnicodeEncodeError; :func:`print_json` escapes non-ASCII there instead.
    """
    for stream in (sys.stdout, sys.stderr):
        enc = getattr(stream, "encoding", None)
        if not isinstance(stream, io.TextIOWrapper) or not enc:
            continue
        try:
            if codecs.lookup(enc).name.startswith("utf"):
                continue
        except LookupError:
            pass
        with contextlib.suppress(ValueError, io.UnsupportedOperation):  # closed, detached
            stream.reconfigure(errors="greenwave-fallback")


# --- parser -------------------------------------------------------------------------------------


def command_entry_points() -> list[EntryPoint]:
    """The registered subcommand modules, in ``--help`` order (one per name)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=COMMAND_GROUP):
        found.setdefault(ep.name, ep)

    def key(name: str) -> tuple[int, str]:
        return (HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER), name)

    return [found[n] for n in sorted(found, key=key)]


def build_parser() -> argparse.ArgumentParser:
    """The full parser; :class:`CliError` if no subcommand is registered."""
    eps = command_entry_points()
    if not eps:
        raise CliError(
            f"no subcommands are registered (entry points '{COMMAND_GROUP}'): greenwave is "
            "not installed; run pip install -e . in the source tree"
        )
    parser = argparse.ArgumentParser(
        prog="greenwave",
        description="Green-wave speed advisory (GLOSA): speed bands, simulation, service.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"greenwave {_version()}",
        help="print greenwave's version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for ep in eps:
        try:
            add_parser = ep.load()
        except Exception as exc:
            print(
                f"greenwave: warning: commands '{ep.name}' ({ep.value}) not available: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        add_parser(sub)
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
    ensure_encodable_stdio()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
    except CliError as exc:
        print(f"greenwave: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.argv = ["greenwave", *argv]
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
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
