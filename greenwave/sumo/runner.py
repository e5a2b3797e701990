"""One SUMO run through libsumo or TraCI, with greenwave's controller when asked."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .controller import GlosaController
from .tools import (
    find_sumo_tool,
    parse_sumo_duration_s,
    parse_ups,
    redirect_fds,
    sumo_api,
    tool_env,
)
from .tripinfo import read_tripinfo
from .xmlio import SumoError, attr_float, parse_xml


@dataclass
class SumoRun:
    """One SUMO run: its trips and what the run cost."""

    trips: dict[str, np.ndarray]
    ups: float  # SUMO's vehicle updates per second (its own statistic)
    sumo_wall_s: float  # SUMO's own simulation duration
    wall_s: float  # wall time of the whole stepping loop (incl. any controller)
    controller: GlosaController | None = None
    log_text: str = ""


def run_sumo(
    cfg: Path,
    *,
    seed: int,
    end_s: float | None = None,
    args=(),
    world=None,
    glosa: dict | None = None,
    api=None,
    tag: str = "run",
) -> SumoRun:
    """Run SUMO on ``cfg`` (libsumo/TraCI), with greenwave's controller when ``glosa`` is given.

    Parameters
    ----------
    cfg : Path
        The exported ``scenario.sumocfg``.
    seed : int
        SUMO's random seed (``--seed``) and the seed of the controller's equipment draws.
    end_s : float, optional
        ``--end`` (default: the configuration's).
    args : sequence of str
        More SUMO options (e.g. ``--device.glosa.probability 1``).
    world : World
        Needed with ``glosa``.
    glosa : dict, optional
        Keyword arguments of :class:`GlosaController` (``penetration``, ``record``, ...).
    api : module, optional
        libsumo or traci (default: :func:`sumo_api`).
    tag : str
        Output file stem (``tripinfo_<tag>.xml``, ``<tag>.log`` next to ``cfg``).

    With libsumo, run one simulation per process when runs differ in more than the controller:
    SUMO keeps some state for the life of the process (e.g. the ``--device.<name>.explicit``
    id list is parsed by the first run and reused by later ones).
    """
    if api is None:
        api, _ = sumo_api()
    exe = find_sumo_tool("sumo")
    if exe is None:
        raise FileNotFoundError("sumo not found: pip install 'greenwave[sumo]'")
    out = Path(cfg).parent
    trip_path = out / f"tripinfo_{tag}.xml"
    log_path = out / f"{tag}.log"
    log_path.unlink(missing_ok=True)
    cmd = [
        exe,
        "-c",
        str(cfg),
        "--seed",
        str(int(seed)),
        "--tripinfo-output",
        str(trip_path),
        "--duration-log.statistics",
        "true",
        "--no-step-log",
        "true",
        *map(str, args),
    ]
    if end_s is not None:
        cmd += ["--end", f"{float(end_s):g}"]
    env = tool_env(exe)
    for k in ("SUMO_HOME", "PROJ_DATA", "PROJ_LIB"):
        if k in env:
            os.environ.setdefault(k, env[k])
    ctrl = None
    with redirect_fds(log_path):
        if api.__name__ == "traci":
            with open(log_path, "ab") as lf:
                api.start(cmd, stdout=lf)
        else:
            api.start(cmd)
        try:
            end = float(end_s) if end_s is not None else _cfg_end(cfg)
            if glosa is not None:
                ctrl = GlosaController(world, api, seed=seed, **glosa)
            wall = time.perf_counter()
            while api.simulation.getTime() < end - 1e-9:
                api.simulationStep()
                if ctrl is not None:
                    ctrl.step()
            wall = time.perf_counter() - wall
        finally:
            api.close()
    text = log_path.read_text(errors="replace")
    return SumoRun(
        read_tripinfo(trip_path), parse_ups(text), parse_sumo_duration_s(text), wall, ctrl, text
    )


def _cfg_end(cfg: Path) -> float:
    el = parse_xml(cfg).find("time/end")
    if el is None:
        raise SumoError(f"{cfg}: no time/end; give end_s")
    return attr_float(el, "value")
