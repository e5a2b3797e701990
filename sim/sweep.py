"""Scenario sweeps: a grid of settings × seeds, run in parallel, resumable, on any executor.

A :class:`SweepSpec` holds the scenario *text*, the swept keys with their values and the seeds;
:func:`build_spec` checks the whole grid against the scenario model before anything runs.
:meth:`SweepSpec.cases` expands it in a fixed order (first key outermost, seeds innermost).
Each case is one call of :func:`run_case` — a top-level function of plain arguments (TOML text,
overrides, seed, duration), so it runs the same in a local process pool and on a remote Dask
worker that has only the package installed — and gives one row: the paired baseline and
advisory measures of :func:`sim.compare.run_pair` and their change in percent.

:func:`run_sweep` submits the cases to any :class:`concurrent.futures.Executor` and journals
every finished case at once, so an interrupted sweep resumes where it stopped.

Files in the output directory
-----------------------------
``manifest.json``
    scenario hash, grid, seeds, duration, package versions, start and end times, one entry per
    invocation.  A different scenario, grid or duration under the same directory is refused.
``scenario.toml``
    the scenario text as given (the sweep directory is self-contained).
``rows.jsonl``
    the journal: one JSON line per finished case, appended, flushed and fsynced.  Rows are
    matched to cases by :func:`case_key`; a later line for the same case wins (a retried
    failure).
``results.csv``, ``results.parquet``
    one row per case, in case order (see :func:`result_columns`).
``summary.csv``
    one row per parameter combination: mean and 95 % CI over the seeds of every measure.
``plots/``
    change % against each swept key, and heat maps for two-key sweeps (:mod:`sim.sweep_plots`).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import itertools
import json
import math
import os
import platform
import signal
import time
import tomllib
import traceback
import types
import typing
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from greenwave.scenario import Scenario, ScenarioError, apply_override, parse_scenario

from .measures import CHANGE_MEASURES, MEASURES, change_pct, mean_ci

FORMAT = 1  # manifest / journal format version
MANIFEST = "manifest.json"
JOURNAL = "rows.jsonl"
SCENARIO_COPY = "scenario.toml"
BEFORE_COPY = "before.toml"  # with --before: the scenario whose timing the baselines run
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
SUMMARY_CSV = "summary.csv"
PLOTS_DIR = "plots"
MAX_ERRORS = 10  # validation messages shown before "... and N more"

# Seeds come from --seeds / --first-seed; simulation.seed is not read by paired runs.
RESERVED_KEYS = {
    "seed": "seeds are not swept with --set: use --seeds N and --first-seed S",
    "simulation.seed": "simulation.seed is not used by sweeps: use --seeds N and --first-seed S",
}

SIDE_MEASURES = ("vehicles", "incomplete", *MEASURES)
MEASURE_COLUMNS = (
    tuple(f"baseline_{m}" for m in SIDE_MEASURES)
    + tuple(f"advisory_{m}" for m in SIDE_MEASURES)
    + tuple(f"change_pct_{m}" for m in CHANGE_MEASURES)
)
INT_COLUMNS = {
    "baseline_vehicles",
    "baseline_incomplete",
    "advisory_vehicles",
    "advisory_incomplete",
}


class SweepError(ValueError):
    """Bad sweep input (a key, a value, a combination, the output directory): exit code 2.

    ``messages`` lists one line per problem.
    """

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        shown = self.messages[:MAX_ERRORS]
        if len(self.messages) > MAX_ERRORS:
            shown.append(f"... and {len(self.messages) - MAX_ERRORS} more")
        super().__init__("\n".join(shown))


# --------------------------------------------------------------------------- keys and values


def _unwrap(annotation):
    """The model class or container origin behind ``X | None``, else the annotation."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _kind(annotation) -> str:
    ann = _unwrap(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    if typing.get_origin(ann) in (list, tuple, dict, set) or ann in (list, tuple, dict, set):
        return "list"
    return "scalar"


def scenario_keys(model: type[BaseModel] = Scenario, prefix: str = "") -> dict[str, str]:
    """Every dotted path of the scenario model mapped to ``scalar``, ``list`` or ``section``.

    Only ``scalar`` paths can be swept; list items (``intersections[2]...``) have no dotted path.
    """
    out = {}
    for name, info in model.model_fields.items():
        path = prefix + name
        kind = _kind(info.annotation)
        out[path] = kind
        if kind == "section":
            out.update(scenario_keys(_unwrap(info.annotation), path + "."))
    return out


def check_key(key: str) -> None:
    """Raise :class:`SweepError` unless ``key`` is a sweepable scalar setting of the scenario."""
    if key in RESERVED_KEYS:
        raise SweepError([f"--set {key}: {RESERVED_KEYS[key]}"])
    tree = scenario_keys()
    scalars = [k for k, v in tree.items() if v == "scalar"]
    kind = tree.get(key)
    if kind == "scalar":
        return
    parts = key.split(".")
    if kind == "section":
        raise SweepError(
            [
                f"--set {key}: [{key}] is a section, not a setting; valid keys: "
                + ", ".join(_children(tree, key))
            ]
        )
    for i in range(len(parts) - 1, 0, -1):  # the longest known prefix
        head = ".".join(parts[:i])
        if tree.get(head) == "list":
            raise SweepError(
                [
                    (
                        f"--set {key}: '{head}' is a list; only scalar settings can "
                        "be swept (list items have no dotted key)"
                    )
                ]
            )
        if tree.get(head) == "scalar":
            raise SweepError([f"--set {key}: '{head}' is a setting, not a section"])
    if kind == "list":
        raise SweepError([f"--set {key}: '{key}' is a list; only scalar settings can be swept"])
    section = ".".join(parts[:-1])
    if tree.get(section) == "section":
        close = [
            f"{section}.{c}"
            for c in difflib.get_close_matches(parts[-1], _children(tree, section), n=3, cutoff=0.6)
        ]
    else:
        close = difflib.get_close_matches(key, scalars, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    if tree.get(section) == "section":
        msg = f"--set {key}: unknown key{hint}\n  valid keys in [{section}]: " + ", ".join(
            _children(tree, section)
        )
    else:
        sections = [k for k, v in tree.items() if v == "section"]
        msg = (
            f"--set {key}: unknown key{hint}\n  sections: "
            + ", ".join(sections)
            + "; top-level keys: "
            + ", ".join(k for k in scalars if "." not in k)
        )
    raise SweepError([msg])


def _children(tree: dict[str, str], section: str) -> list[str]:
    pre = section + "."
    return [
        k[len(pre) :]
        for k, v in tree.items()
        if k.startswith(pre) and "." not in k[len(pre) :] and v == "scalar"
    ]


def _scalar(text: str):
    """One TOML scalar; a bare word that is not TOML is taken as a string."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if any(c in text for c in "[]{}\"'=#\n"):
            raise ValueError(f"'{text}' is not a TOML scalar") from None
        return text


def parse_values(text: str) -> list:
    """``V1,V2,...`` as TOML scalars (numbers, booleans, quoted or bare strings, dates)."""
    try:
        values = tomllib.loads(f"v = [{text}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [_scalar(part) for part in text.split(",")]
    if not values:
        raise ValueError("no values")
    for v in values:
        if isinstance(v, (list, dict)):
            raise ValueError(
                f"{json.dumps(v, default=str)} is not a scalar; only scalar settings can be swept"
            )
    return values


def parse_set(text: str) -> tuple[str, list]:
    """``KEY=V1,V2,...`` → ``(key, values)``; raises :class:`SweepError`."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError([f"--set {text}: expected KEY=V1,V2,..."])
    try:
        return key, parse_values(rest)
    except ValueError as exc:
        raise SweepError([f"--set {text}: {exc}"]) from None


# --------------------------------------------------------------------------- spec and cases


@dataclass(frozen=True)
class Case:
    """One run of the sweep: a parameter combination and a seed, in case order."""

    index: int
    params: dict[str, Any]
    seed: int
    key: str


@dataclass(frozen=True)
class SweepSpec:
    """What to run.  Build it with :func:`build_spec` (which validates the whole grid).

    ``grid`` maps each swept key to its values as the model normalises them (``1`` → ``1.0``
    for a float setting), JSON-compatible; ``duration_s`` None means each case's scenario
    duration.
    """

    scenario_text: str
    scenario_hash: str
    scenario_name: str
    source: str
    grid: dict[str, list]
    seeds: tuple[int, ...]
    duration_s: float | None = None
    before_text: str | None = None
    before_hash: str | None = None

    @property
    def keys(self) -> list[str]:
        return list(self.grid)

    def combinations(self) -> list[dict[str, Any]]:
        """Parameter combinations in case order (first key outermost)."""
        return [
            dict(zip(self.grid, vals, strict=True))
            for vals in itertools.product(*self.grid.values())
        ]

    def cases(self) -> list[Case]:
        out = []
        for params in self.combinations():
            for seed in self.seeds:
                out.append(
                    Case(
                        len(out),
                        params,
                        seed,
                        case_key(
                            self.scenario_hash, self.duration_s, params, seed, self.before_hash
                        ),
                    )
                )
        return out

    def identity(self) -> dict:
        """What a resumed sweep must share with the directory's manifest (seeds may differ)."""
        return {
            "scenario_hash": self.scenario_hash,
            "duration_s": self.duration_s,
            "before_hash": self.before_hash,
            "grid": {
                k: sorted(json.dumps(v) for v in vals) for k, vals in sorted(self.grid.items())
            },
        }


def case_key(
    scenario_hash: str,
    duration_s: float | None,
    params: dict,
    seed: int,
    before_hash: str | None = None,
) -> str:
    """Stable identity of a case: hash of scenario(s), duration, overrides (any order), seed."""
    ident = {
        "scenario": scenario_hash,
        "duration_s": duration_s,
        "params": sorted(params.items()),
        "seed": int(seed),
    }
    if before_hash is not None:
        ident["before"] = before_hash
    blob = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _lookup(scenario: Scenario, key: str):
    from pydantic_core import to_jsonable_python

    node: Any = scenario
    for part in key.split("."):
        node = getattr(node, part)
    return to_jsonable_python(node)


def _fmt_value(v) -> str:
    return (
        json.dumps(v, ensure_ascii=False)
        if isinstance(v, str)
        else (str(v).lower() if isinstance(v, bool) else str(v))
    )


def _fmt_params(params: dict) -> str:
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in params.items())


def build_spec(
    scenario_text: str,
    grid: dict[str, list],
    *,
    seeds,
    duration_s=None,
    source: str = "<scenario>",
    before_text: str | None = None,
    before_source: str = "<before>",
) -> SweepSpec:
    """Validate the scenario, every key, every value and every combination; build the spec.

    Parameters
    ----------
    scenario_text : the scenario TOML (sent to the workers as is)
    grid : swept dotted key → list of values (Python scalars, e.g. from :func:`parse_values`)
    seeds : iterable of int, the seeds of every combination
    duration_s : simulated seconds of every run (None: each case's ``simulation.duration_s``)
    before_text : optional "before" scenario TOML: each case's baseline then runs the before
        scenario's signal timing without advice (the system comparison of ``compare --before``);
        the overrides apply to both scenarios, which must share network and signal groups

    Raises
    ------
    ScenarioError
        the scenario itself does not load.
    SweepError
        an unknown or non-scalar key, a value the model refuses (names key, value and reason),
        a combination that fails a cross-field rule, or a duration not beyond the warm-up.
    """
    try:
        base = tomllib.loads(scenario_text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"invalid TOML: {exc}")]) from None
    scenario = parse_scenario(base, source)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise SweepError(["no seeds"])
    if len(set(seeds)) != len(seeds):
        raise SweepError(["duplicate seeds"])
    if not grid:
        raise SweepError(["nothing to sweep: give at least one --set KEY=V1,V2,..."])
    if empty := [k for k, v in grid.items() if not list(v)]:
        raise SweepError([f"--set {k}: no values" for k in empty])
    errors = []
    for key in grid:
        try:
            check_key(key)
        except SweepError as exc:
            errors += exc.messages
    if duration_s is not None and "simulation.duration_s" in grid:
        errors.append("--set simulation.duration_s: conflicts with --duration; give one of them")
    if errors:
        raise SweepError(errors)

    for key in grid:  # an optional section the scenario does not have, e.g. [grid]
        node: Any = scenario
        for i, part in enumerate(key.split(".")[:-1]):
            node = getattr(node, part)
            if node is None:
                errors.append(
                    f"--set {key}: the scenario has no "
                    f"[{'.'.join(key.split('.')[: i + 1])}] section to change"
                )
                break
    if errors:
        raise SweepError(errors)

    # Each value alone: precise messages, and the value as the model normalises it.
    norm: dict[str, list] = {}
    for key, values in grid.items():
        norm[key] = []
        for v in values:
            try:
                sc = parse_scenario(apply_override(base, key, v), source)
            except ScenarioError as exc:
                errors += [
                    f"--set {key}={_fmt_value(v)}: {_where(p, key)}{m}" for p, m in exc.errors
                ]
                continue
            except KeyError:
                errors.append(f"--set {key}: '{key.rsplit('.', 1)[0]}' is not a section here")
                continue
            nv = _lookup(sc, key)
            if nv in norm[key]:
                errors.append(f"--set {key}: value {_fmt_value(v)} given twice")
            norm[key].append(nv)
    if errors:
        raise SweepError(errors)

    # Every combination: cross-field rules (band_min < band_max, ...) and duration > warm-up.
    for params in itertools.product(*norm.values()):
        params = dict(zip(norm, params, strict=True))
        data = base
        for k, v in params.items():
            data = apply_override(data, k, v)
        try:
            sc = parse_scenario(data, source)
        except ScenarioError as exc:
            errors += [
                f"combination {_fmt_params(params)}: {p + ': ' if p else ''}{m}"
                for p, m in exc.errors
            ]
            continue
        dur = duration_s if duration_s is not None else sc.simulation.duration_s
        if dur <= sc.simulation.warmup_s:
            errors.append(
                f"combination {_fmt_params(params)}: duration {dur:g} s must exceed "
                f"the warm-up ({sc.simulation.warmup_s:g} s)"
            )
    if errors:
        raise SweepError(list(dict.fromkeys(errors)))
    before_hash = None
    if before_text is not None:
        before_hash = _check_before(scenario_text, before_text, norm, before_source)
    return SweepSpec(
        scenario_text=scenario_text,
        scenario_hash=scenario.content_hash(),
        scenario_name=scenario.name,
        source=source,
        grid=norm,
        seeds=seeds,
        duration_s=None if duration_s is None else float(duration_s),
        before_text=before_text,
        before_hash=before_hash,
    )


def _check_before(scenario_text: str, before_text: str, grid: dict, source: str) -> str:
    """Validate the before scenario (with the first combination's overrides) against the after
    scenario; return its content hash."""
    from greenwave.network import World

    from .compare import check_same_network

    try:
        before = tomllib.loads(before_text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"invalid TOML: {exc}")]) from None
    base_sc = parse_scenario(before, source)
    params = {k: v[0] for k, v in grid.items()}
    data_b, data_a = before, tomllib.loads(scenario_text)
    for k, v in params.items():
        data_b, data_a = apply_override(data_b, k, v), apply_override(data_a, k, v)
    try:
        check_same_network(
            World.build(parse_scenario(data_a, "<after>")),
            World.build(parse_scenario(data_b, source)),
        )
    except ScenarioError as exc:
        raise SweepError([f"--before: {p + ': ' if p else ''}{m}" for p, m in exc.errors]) from None
    except ValueError as exc:
        raise SweepError([f"--before: {exc}"]) from None
    return base_sc.content_hash()


def _where(path: str, key: str) -> str:
    return "" if path == key else f"{path}: " if path else ""


# --------------------------------------------------------------------------- the worker


def run_case(
    scenario_text: str,
    overrides: dict,
    seed: int,
    duration_s: float | None,
    before_text: str | None = None,
) -> dict:
    """Run one case: baseline and advisory on the same arrivals; the measures of both and changes.

    Plain arguments only (the scenario content, never a path), so a remote worker needs nothing
    but the package.  With ``before_text`` the baseline runs the before scenario's timing
    without advice (:func:`sim.compare.run_before_after`).  Returns ``{column: value}`` for
    :data:`MEASURE_COLUMNS` plus ``wall_s``.
    """
    from greenwave.network import World

    from .compare import run_before_after, run_pair
    from .measures import summarize

    t0 = time.perf_counter()

    def build(text, source):
        data = tomllib.loads(text)
        for k, v in overrides.items():
            data = apply_override(data, k, v)
        return World.build(parse_scenario(data, source))

    world = build(scenario_text, "<sweep case>")
    if before_text is None:
        base, adv = run_pair(world, int(seed), duration_s=duration_s)
    else:
        base, adv = run_before_after(
            world, build(before_text, "<sweep before>"), int(seed), duration_s=duration_s
        )
    b, a = summarize(base), summarize(adv)
    row = {f"baseline_{m}": b[m] for m in SIDE_MEASURES}
    row.update({f"advisory_{m}": a[m] for m in SIDE_MEASURES})
    row.update({f"change_pct_{m}": change_pct(b[m], a[m]) for m in CHANGE_MEASURES})
    row["wall_s"] = time.perf_counter() - t0
    return row


def local_executor(workers: int | None = None) -> Executor:
    """The default executor: ``workers`` (default all cores) spawned processes ignoring Ctrl-C.

    Spawned, not forked: the same start-up on Linux, macOS and Windows, and no fork of a parent
    that already runs threads (progress bar, Dask client).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=worker_init,
    )


def worker_init() -> None:
    """Process-pool initializer: Ctrl-C is the parent's business (it stops the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_up(hold_s: float = 0.0) -> int:
    """Import the simulator in a worker, then hold it ``hold_s``; returns the pid.

    Benchmarks submit one per worker (holding, so that every worker gets one) to start a pool
    before timing it.
    """
    import greenwave.sim.compare  # noqa: F401

    time.sleep(hold_s)
    return os.getpid()


# --------------------------------------------------------------------------- the run loop


class Progress(Protocol):
    """What :func:`run_sweep` reports to (the CLI's progress bar or log lines)."""

    def start(self, total: int, done: int) -> None: ...

    def update(self, case: Case, record: dict) -> None: ...

    def close(self) -> None: ...


class _NoProgress:
    def start(self, total, done):
        pass

    def update(self, case, record):
        pass

    def close(self):
        pass


@dataclass
class SweepReport:
    """Outcome of :func:`run_sweep` (counts over the spec's cases)."""

    total: int
    skipped: int  # finished in an earlier run
    ran: int  # finished in this run (ok or failed)
    failed: int  # cases whose latest row failed
    pending: int  # not run (max_cases)
    wall_s: float
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def package_versions(executor: Executor | None = None) -> dict[str, str]:
    """Versions recorded in the manifest: greenwave, numpy, simpy, pydantic, pyarrow, python."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"greenwave": greenwave_version(), "python": platform.python_version()}
    names = ["numpy", "simpy", "pydantic", "pyarrow"]
    if executor is not None and type(executor).__module__.split(".")[0] == "distributed":
        names += ["dask", "distributed"]
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def greenwave_version() -> str:
    """The installed greenwave version (package metadata, else ``greenwave.__version__``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("greenwave")
    except PackageNotFoundError:
        import greenwave

        return getattr(greenwave, "__version__", "unknown")


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _executor_label(executor: Executor) -> str:
    name = type(executor).__name__
    n = getattr(executor, "_max_workers", None)
    return f"{name}({n})" if n else name


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Journal:
    """``rows.jsonl``: append + flush + fsync one JSON line per finished case.

    Holds an exclusive lock (POSIX ``flock``) while open, so two sweeps cannot write the same
    directory; a torn last line (crash while writing) is cut off on opening.
    """

    def __init__(self, path: Path):
        self.path = path
        self.f = path.open("a+b")
        try:
            import fcntl

            fcntl.flock(self.f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        except OSError as e:
            self.f.close()
            raise SweepError([f"{path.parent}: another sweep is writing to this directory"]) from e
        self.records: list[dict] = self._read(repair=True)

    def _read(self, repair=False) -> list[dict]:
        self.f.seek(0)
        data = self.f.read()
        end = data.rfind(b"\n") + 1
        if repair and end < len(data):  # torn line from a crash: drop it before appending
            self.f.truncate(end)
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def reread(self) -> None:
        """Records as on disk (after an interruption in the middle of :meth:`append`)."""
        self.records = self._read()

    def reset(self) -> None:
        self.f.truncate(0)
        self.records = []

    def append(self, record: dict) -> None:
        self.f.seek(0, os.SEEK_END)
        self.f.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        self.f.flush()
        os.fsync(self.f.fileno())
        self.records.append(record)

    def latest(self) -> dict[str, dict]:
        """The last record of each case key."""
        return {r["case_key"]: r for r in self.records if "case_key" in r}

    def close(self) -> None:
        self.f.close()


def _manifest_problems(old: dict, spec: SweepSpec) -> list[str]:
    ident = old.get("identity", {})
    new = spec.identity()
    out = []
    if ident.get("scenario_hash") != new["scenario_hash"]:
        out.append(
            f"the scenario differs (content hash {str(ident.get('scenario_hash'))[:12]} "
            f"in the manifest, {new['scenario_hash'][:12]} now)"
        )
    if ident.get("grid") != new["grid"]:
        out.append(
            f"the grid differs (manifest: {_grid_text(old.get('grid', {}))}; now: "
            f"{_grid_text(spec.grid)})"
        )
    if ident.get("duration_s") != new["duration_s"]:
        out.append(
            f"the duration differs ({ident.get('duration_s')} in the manifest, "
            f"{new['duration_s']} now)"
        )
    if ident.get("before_hash") != new["before_hash"]:
        out.append("the --before scenario differs")
    return out


def _grid_text(grid: dict) -> str:
    return " ".join(f"{k}={','.join(_fmt_value(v) for v in vals)}" for k, vals in grid.items())


def _clear_outputs(out: Path) -> None:
    for name in (RESULTS_CSV, RESULTS_PARQUET, SUMMARY_CSV, SCENARIO_COPY, BEFORE_COPY, MANIFEST):
        (out / name).unlink(missing_ok=True)
    plots = out / PLOTS_DIR
    if plots.is_dir():
        for p in plots.glob("*.png"):
            p.unlink()


def run_sweep(
    spec: SweepSpec,
    executor: Executor,
    out_dir,
    *,
    force: bool = False,
    progress: Progress | None = None,
    max_cases: int | None = None,
    plots: bool = True,
) -> SweepReport:
    """Run the spec's unfinished cases on ``executor``; journal, then write the outputs.

    Parameters
    ----------
    spec : from :func:`build_spec`
    executor : any :class:`concurrent.futures.Executor` (a process pool, Dask's
        ``Client.get_executor()``, ...); it is not shut down here
    out_dir : the sweep directory (created); a manifest of a different sweep is refused
        (:class:`SweepError`) unless ``force``, which deletes the old results first
    progress : receives ``start``, one ``update`` per finished case, ``close``
    max_cases : run at most this many unfinished cases (tests simulate an interruption)
    plots : write ``plots/`` (matplotlib)

    Cases finished in an earlier run (latest journal row ``ok``) are skipped; failed ones are
    retried.  A case that raises is journalled with ``status = failed`` and its error.  On
    KeyboardInterrupt the not-yet-started cases are cancelled and the exception propagates;
    the journal keeps every finished case.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or _NoProgress()
    t_start = time.perf_counter()
    warnings: list[str] = []
    journal = Journal(out / JOURNAL)
    try:
        manifest = _open_manifest(spec, out, journal, force, executor, warnings)
        cases = spec.cases()
        latest = journal.latest()
        done = [c for c in cases if latest.get(c.key, {}).get("status") == "ok"]
        todo = [c for c in cases if latest.get(c.key, {}).get("status") != "ok"]
        if max_cases is not None:
            todo = todo[:max_cases]
        run_entry = {
            "started": _now(),
            "finished": None,
            "executor": _executor_label(executor),
            "cases_run": 0,
            "failed": 0,
        }
        manifest["runs"].append(run_entry)
        _write_manifest(out, manifest)

        progress.start(len(cases), len(done))
        ran = 0
        futures: dict[Future, Case] = {}
        try:
            for c in todo:
                fut = executor.submit(
                    run_case,
                    spec.scenario_text,
                    dict(c.params),
                    c.seed,
                    spec.duration_s,
                    spec.before_text,
                )
                futures[fut] = c
            for fut in as_completed(list(futures)):
                c = futures.pop(fut)
                if fut.cancelled():
                    continue
                record = _record(c, fut)
                journal.append(record)
                ran += 1
                run_entry["cases_run"] = ran
                run_entry["failed"] += record["status"] != "ok"
                progress.update(c, record)
        except BaseException:
            for fut in futures:
                fut.cancel()
            run_entry["finished"] = _now()
            run_entry["interrupted"] = True
            journal.reread()
            manifest["status"] = _status(len(cases), table_rows(spec, journal.latest()))
            _write_manifest(out, manifest)
            raise
        finally:
            progress.close()

        rows = table_rows(spec, journal.latest())
        manifest["status"] = _status(len(cases), rows)
        failed, pending = manifest["status"]["failed"], manifest["status"]["pending"]
        run_entry["finished"] = _now()
        if pending == 0:
            manifest["finished"] = run_entry["finished"]
        files = write_outputs(spec, rows, out, plots=plots)
        _write_manifest(out, manifest)
        return SweepReport(
            total=len(cases),
            skipped=len(done),
            ran=ran,
            failed=failed,
            pending=pending,
            wall_s=time.perf_counter() - t_start,
            files=[out / MANIFEST, *files],
            warnings=warnings,
        )
    finally:
        journal.close()


def _status(total: int, rows: list[dict]) -> dict:
    failed = sum(r["status"] != "ok" for r in rows)
    return {"ok": len(rows) - failed, "failed": failed, "pending": total - len(rows)}


def _open_manifest(spec, out, journal, force, executor, warnings) -> dict:
    path = out / MANIFEST
    old = None
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
    if not force:
        if old is None and journal.records:
            raise SweepError(
                [
                    (
                        f"{out}: holds results without a {MANIFEST}; use --force to "
                        "start fresh or choose another --out"
                    )
                ]
            )
        if old is not None:
            problems = _manifest_problems(old, spec)
            if problems:
                raise SweepError(
                    [
                        f"{out} holds a different sweep: "
                        + "; ".join(problems)
                        + ". Use --force to start fresh or choose another --out"
                    ]
                )
    if force or old is None:
        journal.reset()
        _clear_outputs(out)
        old = None
    versions = package_versions(executor)
    if old is not None:
        before = old.get("versions", {})
        changed = [
            f"{k} {before[k]} → {v}" for k, v in versions.items() if k in before and before[k] != v
        ]
        if changed:
            warnings.append(
                "package versions changed since the sweep started: "
                + ", ".join(changed)
                + " (finished cases are kept)"
            )
        manifest = old
        manifest["versions"] = {**before, **versions}
    else:
        manifest = {
            "format": FORMAT,
            "started": _now(),
            "finished": None,
            "versions": versions,
            "runs": [],
        }
        _write_atomic(out / SCENARIO_COPY, spec.scenario_text.encode())
        if spec.before_text is not None:
            _write_atomic(out / BEFORE_COPY, spec.before_text.encode())
    manifest.update(
        {
            "scenario": {
                "name": spec.scenario_name,
                "source": spec.source,
                "content_hash": spec.scenario_hash,
            },
            "grid": spec.grid,
            "seeds": list(spec.seeds),
            "duration_s": spec.duration_s,
            "cases": len(spec.seeds) * math.prod(len(v) for v in spec.grid.values()),
            "identity": spec.identity(),
            "before": None
            if spec.before_hash is None
            else {"content_hash": spec.before_hash, "file": BEFORE_COPY},
        }
    )
    manifest["format"] = FORMAT
    manifest.setdefault("runs", [])
    return manifest


def _write_manifest(out: Path, manifest: dict) -> None:
    _write_atomic(
        out / MANIFEST,
        (json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode(),
    )


def _record(case: Case, fut: Future) -> dict:
    rec = {"case_key": case.key, "params": case.params, "seed": case.seed, "finished": _now()}
    exc = fut.exception()
    if exc is None:
        res = dict(fut.result())
        rec.update(status="ok", error="", wall_s=res.pop("wall_s", math.nan), measures=res)
        return rec
    if not isinstance(exc, Exception):  # KeyboardInterrupt / SystemExit inside a worker
        raise exc
    rec.update(
        status="failed",
        error=f"{type(exc).__name__}: {exc}".strip(),
        wall_s=math.nan,
        measures={},
        traceback="".join(traceback.format_exception(exc))[-4000:],
    )
    return rec


# --------------------------------------------------------------------------- outputs


def result_columns(spec: SweepSpec) -> list[str]:
    """Columns of ``results.csv`` / ``results.parquet``, in order."""
    return ["case", "case_key", *spec.keys, "seed", "status", "error", "wall_s", *MEASURE_COLUMNS]


def table_rows(spec: SweepSpec, latest: dict[str, dict]) -> list[dict]:
    """One row per case that has a journal record, in case order."""
    rows = []
    for c in spec.cases():
        rec = latest.get(c.key)
        if rec is None:
            continue
        row = {
            "case": c.index,
            "case_key": c.key,
            **c.params,
            "seed": c.seed,
            "status": rec["status"],
            "error": rec.get("error", ""),
            "wall_s": rec.get("wall_s", math.nan),
        }
        meas = rec.get("measures", {})
        for col in MEASURE_COLUMNS:
            v = meas.get(col)
            row[col] = None if v is None else (int(v) if col in INT_COLUMNS else float(v))
        rows.append(row)
    return rows


def summary_rows(spec: SweepSpec, rows: list[dict]) -> list[dict]:
    """Per parameter combination: seeds ok / failed, and mean, 95 % CI of every measure."""
    out = []
    by_combo: dict[str, list[dict]] = {}
    for r in rows:
        by_combo.setdefault(json.dumps([r[k] for k in spec.keys]), []).append(r)
    for params in spec.combinations():
        group = by_combo.get(json.dumps(list(params.values())), [])
        ok = [r for r in group if r["status"] == "ok"]
        s = {**params, "seeds_ok": len(ok), "seeds_failed": len(group) - len(ok)}
        for col in MEASURE_COLUMNS:
            m, lo, hi = mean_ci([r[col] for r in ok])
            s[f"{col}_mean"], s[f"{col}_ci_lo"], s[f"{col}_ci_hi"] = m, lo, hi
        out.append(s)
    return out


def _csv_cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """CSV with a header; empty cells for missing / NaN; atomically replaced."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_cell(r.get(c)) for c in columns])
    os.replace(tmp, path)


def _arrow_type(values: list):
    import pyarrow as pa

    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def write_parquet(path: Path, spec: SweepSpec, columns: list[str], rows: list[dict]) -> None:
    """The results table as Parquet (explicit column types; the grid in the file metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types_ = {
        "case": pa.int64(),
        "case_key": pa.string(),
        "seed": pa.int64(),
        "status": pa.string(),
        "error": pa.string(),
        "wall_s": pa.float64(),
    }
    for k in spec.keys:
        types_[k] = _arrow_type(spec.grid[k])
    for c in MEASURE_COLUMNS:
        types_[c] = pa.int64() if c in INT_COLUMNS else pa.float64()
    arrays = []
    for c in columns:
        t = types_[c]
        vals = [r.get(c) for r in rows]
        if t == pa.string():
            vals = [None if v is None else v if isinstance(v, str) else _fmt_value(v) for v in vals]
        elif t == pa.float64():
            vals = [None if v is None else float(v) for v in vals]
        arrays.append(pa.array(vals, type=t))
    meta = {
        "greenwave.sweep": json.dumps(
            {
                "scenario_hash": spec.scenario_hash,
                "scenario": spec.scenario_name,
                "grid": spec.grid,
                "seeds": list(spec.seeds),
                "duration_s": spec.duration_s,
            }
        )
    }
    table = pa.Table.from_arrays(arrays, names=columns).replace_schema_metadata(meta)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def write_outputs(spec: SweepSpec, rows: list[dict], out: Path, *, plots=True) -> list[Path]:
    """``results.csv``, ``results.parquet``, ``summary.csv`` and the plots; returns the paths."""
    cols = result_columns(spec)
    write_csv(out / RESULTS_CSV, cols, rows)
    write_parquet(out / RESULTS_PARQUET, spec, cols, rows)
    summ = summary_rows(spec, rows)
    write_csv(out / SUMMARY_CSV, list(summ[0]), summ)
    files = [out / RESULTS_CSV, out / RESULTS_PARQUET, out / SUMMARY_CSV]
    if plots:
        from .sweep_plots import write_sweep_plots

        files += write_sweep_plots(spec.grid, rows, out / PLOTS_DIR)
    return files


def read_results(path) -> list[dict]:
    """Rows of a ``results.csv`` as strings (for tests and quick looks without pandas)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
