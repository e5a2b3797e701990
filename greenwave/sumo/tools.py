"""Finding and running SUMO's programs: executables, their environment, netconvert, libsumo."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .xmlio import (
    SumoError,
)


def find_sumo_tool(name: str) -> str | None:
    """Path of a SUMO executable (``sumo``, ``netconvert``, ...), or None.

    Looks in the ``eclipse-sumo`` package (the ``[sumo]`` extra), then on ``PATH``, then in
    ``$SUMO_HOME/bin``.
    """
    exe = name + (".exe" if os.name == "nt" else "")
    try:
        import sumo  # the eclipse-sumo wheel

        cand = Path(sumo.SUMO_HOME) / "bin" / exe
        if cand.is_file():
            return str(cand)
    except ImportError:
        pass
    found = shutil.which(name)
    if found:
        return found
    home = os.environ.get("SUMO_HOME")
    if home and (Path(home) / "bin" / exe).is_file():
        return str(Path(home) / "bin" / exe)
    return None


def tool_env(exe: str) -> dict[str, str]:
    """Environment for running a SUMO executable: ``SUMO_HOME`` (XML validation against the
    bundled schemas) and PROJ's data directory, when not set already."""
    env = dict(os.environ)
    home = Path(exe).resolve().parent.parent
    if "SUMO_HOME" not in env and (home / "data").is_dir():
        env["SUMO_HOME"] = str(home)
    proj = Path(env.get("SUMO_HOME", home)) / "data" / "proj"
    if not env.get("PROJ_DATA") and not env.get("PROJ_LIB") and proj.is_dir():
        env["PROJ_DATA"] = env["PROJ_LIB"] = str(proj)
    return env


def run_netconvert(exe: str, cwd: Path, args: list[str], target: str) -> list[str]:
    """Run netconvert in ``cwd`` with ``args`` writing ``target``; its warnings, in order.

    Raises SumoError with netconvert's last errors when it fails or writes nothing.
    """
    proc = subprocess.run(
        [exe, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=tool_env(exe),
    )
    msgs = [
        ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.startswith(("Warning", "Error"))
    ]
    if proc.returncode != 0 or not (cwd / target).is_file():
        tail = "\n".join(msgs[-10:]) or proc.stderr.strip()[-2000:]
        raise SumoError(f"netconvert failed (exit {proc.returncode}):\n{tail}")
    return msgs


def sumo_api(prefer: str = "libsumo"):
    """``(module, name)``: libsumo when importable (in-process, fast), else traci.

    Raises ImportError when neither is installed (``pip install 'greenwave[sumo]'``).
    """
    order = ("libsumo", "traci") if prefer == "libsumo" else ("traci", "libsumo")
    for name in order:
        try:
            with quiet_stdout():  # libsumo may print a version warning on import
                mod = __import__(name)
            return mod, name
        except ImportError:
            continue
    raise ImportError("neither libsumo nor traci is installed: pip install 'greenwave[sumo]'")


@contextlib.contextmanager
def quiet_stdout():
    saved = sys.stdout
    try:
        with open(os.devnull, "w") as null:
            sys.stdout = null
            yield
    finally:
        sys.stdout = saved


@contextlib.contextmanager
def redirect_fds(path: Path):
    """Send the process's C-level stdout/stderr (libsumo's messages) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def parse_ups(text: str) -> float:
    """SUMO's ``UPS`` (vehicle updates per wall second) from its ``--duration-log.statistics``
    report, NaN when absent."""
    m = re.findall(r"UPS:\s*([0-9.eE+-]+)", text)
    return float(m[-1]) if m else math.nan


def parse_sumo_duration_s(text: str) -> float:
    """The simulation's wall time (``Performance: Duration: 5.43s``), NaN when absent."""
    m = re.findall(r"Duration:\s*([0-9.]+)s", text)
    return float(m[-1]) if m else math.nan
