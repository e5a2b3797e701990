"""``greenwave serve``: run the advisory service with uvicorn.

Settings go to the workers as ``GREENWAVE_*`` environment variables (each worker process builds
its own state from them, see :func:`api.main.app_from_env`).  With several workers, Prometheus
metrics are aggregated through a multiprocess directory and plan writes reach the other workers
through the state file.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from greenwave.cli import CliError, finite_float, int_range
from greenwave.scenario import DEFAULT_SCENARIO, load_scenario


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="run the advisory HTTP service (FastAPI + uvicorn)",
        description="Serves speed advice for a scenario's network over HTTP; OpenAPI docs at "
        "/docs.  Every flag can also be set as an environment variable "
        "GREENWAVE_<NAME>; the write token is GREENWAVE_TOKEN.",
    )
    p.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help=f"scenario TOML file (default: $GREENWAVE_SCENARIO or {DEFAULT_SCENARIO.name})",
    )
    p.add_argument("--host", default="127.0.0.1", help="(default 127.0.0.1)")
    p.add_argument("--port", type=int_range(0, 65535), default=8000, help="(default 8000)")
    p.add_argument("--workers", type=int_range(1, 64), default=1, help="(default 1)")
    p.add_argument(
        "--token",
        default=None,
        help="bearer token for plan/SPaT writes (prefer $GREENWAVE_TOKEN: flags are "
        "visible in the process list); none = writes refused",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where accepted plans are kept (default: $GREENWAVE_STATE_DIR or "
        "~/.local/state/greenwave)",
    )
    p.add_argument(
        "--max-batch",
        type=int_range(1, 1_000_000),
        default=None,
        help="largest batch of vehicles per request (default 10000)",
    )
    p.add_argument(
        "--advisory-range-m",
        type=finite_float(0.0, 100_000.0, lo_open=True),
        default=None,
        help="no band beyond this distance (default: the scenario's)",
    )
    p.add_argument(
        "--clock",
        choices=["wall", "scenario"],
        default=None,
        help="wall (default): now is the machine's time, request times within 24 h of it; "
        "scenario: now runs through the scenario's time span from its start_time (looping) "
        "and request times anywhere in it are accepted (replay, tests)",
    )
    p.add_argument(
        "--cors-origins",
        default=None,
        metavar="ORIGINS",
        help="comma-separated origins of web pages allowed to call the API (CORS), or '*' "
        "(default: $GREENWAVE_CORS_ORIGINS or none: same origin only)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default info)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import uvicorn
    from pydantic import ValidationError

    from .settings import Settings

    env = {}
    for flag, name in (
        ("scenario", "SCENARIO"),
        ("token", "TOKEN"),
        ("state_dir", "STATE_DIR"),
        ("max_batch", "MAX_BATCH"),
        ("advisory_range_m", "ADVISORY_RANGE_M"),
        ("clock", "CLOCK"),
        ("cors_origins", "CORS_ORIGINS"),
    ):
        value = getattr(args, flag)
        if value is not None:
            env["GREENWAVE_" + name] = str(value)
    os.environ.update(env)
    try:
        settings = Settings()
    except ValidationError as exc:
        e = exc.errors()[0]
        msg = str(e["msg"]).removeprefix("Value error, ")
        raise CliError(f"setting {'.'.join(map(str, e['loc']))}: {msg}") from None
    load_scenario(settings.scenario)  # ScenarioError → exit 2 before anything starts
    _check_listen(args.host, args.port)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="greenwave-metrics-")
    uvicorn.run(
        "greenwave.api.main:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        proxy_headers=False,
        server_header=False,
        # A stream's fix is at most 16 KiB (a larger one gets an error frame); a frame over
        # 1 MiB closes the stream (1009) before it is held in memory.
        ws_max_size=1 << 20,
    )
    return 0


def _check_listen(host: str, port: int) -> None:
    """Fail with exit code 2 and a clear message when the address cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CliError(f"cannot resolve --host {host}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        s.close()
