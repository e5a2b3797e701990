"""``greenwave sweep``: a grid of scenario settings × seeds, in parallel, resumable.

Local processes by default; ``--scheduler tcp://HOST:PORT`` runs the same cases on a Dask
distributed cluster (``pip install 'greenwave[dask]'``).  See :mod:`sim.sweep` for the files.
Exit codes: 0 all cases ok, 1 some failed, 2 bad input, 130 interrupted (re-run to resume).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from greenwave.cli import CliError, duration_arg, int_range, out_dir_arg, scenario_arg, seeds_args

from .sweep import (
    Case,
    SweepError,
    build_spec,
    greenwave_version,
    local_executor,
    parse_set,
    run_sweep,
)

DASK_CONNECT_TIMEOUT_S = 10.0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of scenario settings × seeds in parallel (resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs, for every combination of the --set values and every seed, a paired\n"
        "baseline/advisory comparison, and writes results.csv, results.parquet, summary.csv\n"
        "(mean and 95 % CI over seeds) and plots to --out.  Re-running the same command\n"
        "resumes: finished cases are skipped, failed ones retried.",
        epilog="example:\n  greenwave sweep scenarios/zibo_arterial.toml \\\n"
        "      --set advisory.penetration=0.25,0.5,1 --set demand.scale=0.8,1.0,1.2 \\\n"
        "      --seeds 5 --out runs/penetration",
    )
    scenario_arg(p)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a swept setting: dotted scenario key and comma-separated TOML values "
        "(repeat for a grid; e.g. advisory.penetration=0.25,0.5,1)",
    )
    seeds_args(p, default=3, per=" per combination")
    duration_arg(p)
    p.add_argument(
        "--out",
        type=out_dir_arg,
        required=True,
        metavar="DIR",
        help="output directory (created; resumes the sweep already there)",
    )
    p.add_argument(
        "--workers",
        type=int_range(1, 1024),
        metavar="N",
        help=f"local worker processes (default: all cores, {os.cpu_count()})",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--before",
        type=Path,
        metavar="BEFORE",
        help="baseline = this scenario's signal timing without advice (the system "
        "comparison of compare --before); the --set overrides apply to both",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="discard results of a different sweep in --out and start fresh",
    )
    p.add_argument("--no-plots", dest="plots", action="store_false", help="do not write DIR/plots/")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    if args.scheduler and args.workers:
        raise CliError(
            "--workers applies to local processes; with --scheduler the cluster's "
            "workers run the cases"
        )
    try:
        text = args.scenario.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.scenario}: cannot read file: {exc.strerror}") from None
    try:
        grid: dict[str, list] = {}
        for s in args.sets:
            key, values = parse_set(s)
            if key in grid:
                raise SweepError([f"--set {key} given twice; list all its values in one --set"])
            grid[key] = values
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        before_text = None
        if args.before is not None:
            try:
                before_text = args.before.read_text(encoding="utf-8")
            except OSError as exc:
                raise CliError(f"{args.before}: cannot read file: {exc.strerror}") from None
        spec = build_spec(
            text,
            grid,
            seeds=seeds,
            duration_s=args.duration,
            source=str(args.scenario),
            before_text=before_text,
            before_source=str(args.before),
        )
    except SweepError as exc:
        raise CliError(str(exc)) from None

    n_cases = len(spec.cases())
    if args.scheduler:
        executor, closer = _dask_executor(args.scheduler)
    else:
        executor = local_executor(min(args.workers or os.cpu_count() or 1, n_cases))
        closer = None
    progress = make_progress(sys.stderr)
    try:
        report = run_sweep(
            spec, executor, args.out, force=args.force, progress=progress, plots=args.plots
        )
    except SweepError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        _stop(executor)
        print(
            f"greenwave: sweep interrupted; finished cases are kept in {args.out}. "
            "Run the same command again to resume.",
            file=sys.stderr,
        )
        raise
    finally:
        _shutdown(executor, closer)
    for w in report.warnings:
        print(f"greenwave: warning: {w}", file=sys.stderr)
    print(
        f"{spec.scenario_name}: {report.total} cases ({report.total // len(spec.seeds)} "
        f"combinations × {len(spec.seeds)} seeds): {report.ran} run now, {report.skipped} "
        f"from earlier runs, {report.failed} failed; {report.wall_s:.1f} s"
    )
    print(
        f"results: {args.out / 'results.csv'}, {args.out / 'results.parquet'}, "
        f"{args.out / 'summary.csv'}" + (f", {args.out / 'plots'}/" if args.plots else "")
    )
    if report.failed:
        print(
            f"{report.failed} case(s) failed; see the error column of results.csv. "
            "Re-running the same command retries them.",
            file=sys.stderr,
        )
        return 1
    return 0


def _dask_executor(address: str):
    try:
        from dask.distributed import Client
    except ImportError:
        raise CliError(
            "--scheduler needs Dask distributed: pip install 'greenwave[dask]'"
        ) from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CliError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        _check_workers(client)
    except BaseException:
        client.close()
        raise
    return client.get_executor(pure=False), client.close


def _worker_greenwave() -> str:
    from greenwave.sim.sweep import greenwave_version

    return greenwave_version()


def _check_workers(client) -> None:
    """Every connected worker must import greenwave (the same version as here)."""
    here = greenwave_version()
    try:
        found = client.run(_worker_greenwave, on_error="return")
    except Exception as exc:
        raise CliError(f"cannot query the Dask workers: {exc}") from None
    if not found:
        print(
            "greenwave: warning: the Dask cluster has no workers yet; cases wait for them",
            file=sys.stderr,
        )
    bad = {w: v for w, v in found.items() if not isinstance(v, str)}
    if bad:
        raise CliError(
            "Dask workers cannot import greenwave (install the package on every "
            "worker): " + ", ".join(sorted(bad))
        )
    other = {w: v for w, v in found.items() if v != here}
    if other:
        print(
            f"greenwave: warning: workers run other greenwave versions than "
            f"{here}: " + ", ".join(f"{w} {v}" for w, v in sorted(other.items())),
            file=sys.stderr,
        )


def _stop(executor) -> None:
    """After Ctrl-C: cancel queued cases and stop the local worker processes now."""
    procs = list((getattr(executor, "_processes", None) or {}).values())
    try:
        executor.shutdown(wait=False, cancel_futures=True)
    except TypeError:  # executors without cancel_futures (Dask's ClientExecutor cancels itself)
        executor.shutdown(wait=False)
    for p in procs:
        if p.is_alive():
            p.terminate()


def _shutdown(executor, closer) -> None:
    try:
        executor.shutdown(wait=False) if closer else executor.shutdown(wait=True)
    finally:
        if closer:
            closer()


class LogProgress:
    """One plain line per finished case (stderr not a terminal)."""

    def __init__(self, stream):
        self.stream = stream

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.t0, self.first = total, done, time.monotonic(), done
        msg = f"sweep: {total} cases"
        if done:
            msg += f", {done} finished earlier (resuming)"
        print(msg, file=self.stream, flush=True)

    def update(self, case: Case, record: dict) -> None:
        self.done += 1
        params = " ".join(f"{k}={v}" for k, v in case.params.items())
        status = (
            f"ok {record['wall_s']:.1f} s"
            if record["status"] == "ok"
            else f"FAILED {record['error']}"
        )
        rate = (self.done - self.first) / max(time.monotonic() - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else math.nan
        print(
            f"sweep: [{self.done}/{self.total}] {params} seed={case.seed}: {status}; "
            f"eta {_hms(eta)}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm progress bar: cases done / total, rate and ETA (stderr a terminal)."""

    def __init__(self, stream):
        self.stream = stream
        self.bar = None
        self.failed = 0

    def start(self, total: int, done: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,
            unit="case",
            file=self.stream,
            dynamic_ncols=True,
            desc="sweep",
        )

    def update(self, case: Case, record: dict) -> None:
        if record["status"] != "ok":
            self.failed += 1
            params = " ".join(f"{k}={v}" for k, v in case.params.items())
            self.bar.write(
                f"sweep: {params} seed={case.seed}: FAILED {record['error']}", file=self.stream
            )
            self.bar.set_postfix(failed=self.failed)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_progress(stream):
    """A bar on a terminal, log lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    return BarProgress(stream) if isatty and isatty() else LogProgress(stream)


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = round(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
