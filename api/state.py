"""The signal timing the service advises with, its updates and their persistence.

One :class:`TimingStore` per worker process holds the current
:class:`greenwave.spat.SignalTiming`.  Timing objects are immutable: an update builds a new one
and swaps the reference, so an advisory computed concurrently sees the old plans or the new ones,
never a mix (a batch reads the reference once).

Persistence
-----------
Plans set through the API and live SPaT are written to ``<state_dir>/<scenario>.state.json`` by
write-to-temp + fsync + rename (+ fsync of the directory): the file is always either the old or
the new complete state.  The change is applied in memory only after the file is written, so an
accepted write survives a restart, and a write that cannot be persisted is refused and changes
nothing.  Writers of several worker processes serialise on an ``flock`` of ``<file>.lock`` and
re-read the file first, so no worker's change is lost; the other workers pick the file up within
``state_poll_s`` (:meth:`TimingStore.refresh`, polled by the app).

A write interrupted between creating its temporary file and the rename (the process killed)
leaves ``<file>.<random>.tmp`` behind; nothing else writes such names, so the files of a
scenario's state older than :data:`STALE_TMP_S` are removed when a worker starts.  Younger ones
may belong to a write in progress in another worker and are left alone.

A state file that cannot be read or validated is reported (log and ``/healthz``) and the
scenario's plans are used; it is kept as ``<file>.corrupt`` when the next write replaces it.
Entries that no longer fit the scenario (unknown intersection, different signal groups) are
skipped and reported the same way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

from pydantic import ValidationError

from greenwave.network import World
from greenwave.spat import SignalTiming, SpatMessage
from greenwave.timing import PlanTable, SignalPlan

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("greenwave.api.state")

FORMAT = "greenwave-state"
VERSION = 1
STALE_TMP_S = 60.0
"""Temporary files of the state older than this (s) are left over from interrupted writes: a
write holds its file for milliseconds (one fsync)."""


class PersistError(RuntimeError):
    """The state file could not be written; the change was not applied."""


@dataclass(frozen=True)
class Snapshot:
    """What the store holds, swapped as one reference."""

    timing: SignalTiming
    plans: dict[str, tuple[SignalPlan, float]] = field(default_factory=dict)  # iid → (plan, t)
    spat: dict[tuple[str, str], SpatMessage] = field(default_factory=dict)
    updated_at_s: float | None = None


class TimingStore:
    """Current signal timing of one scenario, updated atomically and persisted.

    Parameters
    ----------
    world : World
        The scenario's network and its plans (the fallback).
    state_dir : Path
        Directory of the state file (created if missing).
    """

    def __init__(self, world: World, state_dir: Path):
        self.world = world
        self.base = world.timing
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", world.scenario.name) or "scenario"
        self.path = Path(state_dir) / f"{name}.state.json"
        self.error: str | None = None
        self.now: Callable[[], float] = time.time  # the service's clock (live SPaT expiry)
        self._listeners: list[Callable[[Snapshot, Snapshot], None]] = []
        self._snap = Snapshot(self.base)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._corrupt = False
        self.removed_tmp = remove_stale_tmp(self.path)
        with self._lock:
            self._load()

    # ------------------------------------------------------------------ reading
    @property
    def timing(self) -> SignalTiming:
        """The timing in force (one reference read: consistent for the caller)."""
        return self._snap.timing

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def refresh(self) -> bool:
        """Reload if another process changed the file; True when something was reloaded."""
        if self._signature() == self._seen:
            return False
        with self._lock:
            if self._signature() == self._seen:
                return False
            old = self._snap
            self._load()
            new = self._snap
        self._notify(old, new)
        return True

    def subscribe(self, listener: Callable[[Snapshot, Snapshot], None]) -> None:
        """Call ``listener(old, new)`` after every change of the snapshot (a write of this
        process, or another process's write picked up by :meth:`refresh`), in the thread that
        made it; it must be quick and must not raise."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Snapshot, Snapshot], None]) -> None:
        with suppress(ValueError):
            self._listeners.remove(listener)

    def _notify(self, old: Snapshot, new: Snapshot) -> None:
        if old is new:
            return
        for listener in list(self._listeners):
            try:
                listener(old, new)
            except Exception:  # a listener's bug must not fail a write that was persisted
                log.exception("timing listener failed")

    # ------------------------------------------------------------------ writing
    def set_plan(self, intersection_id: str, plan: SignalPlan) -> float:
        """Replace one plan (drops the intersection's live SPaT, as the core does).

        Raises KeyError (unknown intersection), ValueError (groups differ), PersistError.
        Returns the time of the change (s).
        """

        def change(snap: Snapshot, now: float) -> Snapshot:
            timing = snap.timing.with_plan(intersection_id, plan)
            plans = {**snap.plans, intersection_id: (plan, now)}
            spat = {k: m for k, m in snap.spat.items() if k[0] != intersection_id}
            return Snapshot(timing, plans, spat, now)

        return self._write(change)

    def reset_plan(self, intersection_id: str) -> float:
        """Go back to the scenario's plan of one intersection."""
        if intersection_id not in self.base.plans.plans:
            raise KeyError(intersection_id)

        def change(snap: Snapshot, now: float) -> Snapshot:
            plans = {k: v for k, v in snap.plans.items() if k != intersection_id}
            spat = {k: m for k, m in snap.spat.items() if k[0] != intersection_id}
            return Snapshot(self._compose(plans, spat, now), plans, spat, now)

        return self._write(change)

    def push_spat(self, intersection_id: str, messages: dict[str, SpatMessage]) -> float:
        """Add or replace live SPaT of some groups of one intersection (by group id).

        Raises KeyError naming an unknown group, PersistError.
        """
        table = self.base.plans
        for gid in messages:
            table.group_index(intersection_id, gid)  # KeyError names what is missing

        def change(snap: Snapshot, now: float) -> Snapshot:
            clock = self.now()
            spat = {k: m for k, m in snap.spat.items() if m.horizon_s > clock}  # drop expired
            spat.update({(intersection_id, gid): m for gid, m in messages.items()})
            timing = SignalTiming(snap.timing.plans).with_spat(
                {table.group_index(*k): m for k, m in spat.items()}
            )
            return Snapshot(timing, snap.plans, spat, now)

        return self._write(change)

    # ------------------------------------------------------------------ internals
    def _write(self, change) -> float:
        with self._lock, self._file_lock():
            old = self._snap
            if self._signature() != self._seen:
                self._load()  # another worker wrote since: build on its state
            now = time.time()
            new = change(self._snap, now)
            self._persist(new)
            self._snap = new
            self.error = None
        self._notify(old, new)
        return now

    def _compose(self, plans: dict, spat: dict, now: float | None = None) -> SignalTiming:
        base = self.base.plans
        if plans:
            table = PlanTable.from_plans(
                (iid, plans[iid][0] if iid in plans else p) for iid, p in base.plans.items()
            )
        else:
            table = base
        timing = SignalTiming(table)
        if spat:
            timing = timing.with_spat({table.group_index(*k): m for k, m in spat.items()})
        return timing

    def _load(self) -> None:
        """Read the file into the snapshot; on failure keep the current snapshot (the
        scenario's plans at start-up) and record the error."""
        sig = self._signature()
        self._seen = sig
        if sig is None:
            return
        try:
            doc = json.loads(self.path.read_bytes())
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            if doc.get("version") != VERSION:
                raise ValueError(f"unsupported version {doc.get('version')!r}")
            plans, spat, problems = self._entries(doc)
            updated = doc.get("updated_at_s")
            updated = float(updated) if isinstance(updated, (int, float)) else None
            timing = self._compose(plans, spat)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self.error = (
                f"state file {self.path} is unreadable or corrupt ({exc}); "
                "using the scenario's plans"
            )
            self._corrupt = True
            log.error("%s", self.error)
            return
        self._snap = Snapshot(timing, plans, spat, updated)
        self._corrupt = False
        self.error = "; ".join(problems) if problems else None
        if problems:
            log.warning("state file %s: %s", self.path, self.error)
        if doc.get("scenario_sha256") != self.world.scenario.content_hash():
            log.warning(
                "state file %s was written for another version of scenario '%s'; "
                "entries that still fit were applied",
                self.path,
                doc.get("scenario"),
            )

    def _entries(self, doc: dict):
        base = self.base.plans
        plans, spat, problems = {}, {}, []
        for iid, entry in (doc.get("plans") or {}).items():
            try:
                plan = SignalPlan.model_validate(entry["plan"])
                if iid not in base.plans:
                    raise ValueError(f"unknown intersection '{iid}'")
                old = [g.id for g in base.plans[iid].groups]
                if [g.id for g in plan.groups] != old:
                    raise ValueError(f"signal groups differ from the scenario's {old}")
                plans[iid] = (plan, float(entry.get("updated_at_s", 0.0)))
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"plan of '{iid}' skipped: {_short(exc)}")
        for k, entry in enumerate(doc.get("spat") or []):
            try:
                key = (entry["intersection_id"], entry["signal_group"])
                base.group_index(*key)
                spat[key] = SpatMessage.model_validate(entry["message"])
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"spat[{k}] skipped: {_short(exc)}")
        return plans, spat, problems

    def _persist(self, snap: Snapshot) -> None:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "scenario": self.world.scenario.name,
            "scenario_sha256": self.world.scenario.content_hash(),
            "updated_at_s": snap.updated_at_s,
            "plans": {
                iid: {"plan": p.model_dump(mode="json"), "updated_at_s": t}
                for iid, (p, t) in snap.plans.items()
            },
            "spat": [
                {"intersection_id": i, "signal_group": g, "message": m.model_dump(mode="json")}
                for (i, g), m in snap.spat.items()
            ],
        }
        data = json.dumps(doc, ensure_ascii=False, indent=1).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._corrupt and self.path.exists():
                os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
                log.warning("kept the unreadable state file as %s.corrupt", self.path)
            fd, tmp = tempfile.mkstemp(
                prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent
            )
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                _unlink(tmp)
                raise
            _fsync_dir(self.path.parent)
        except OSError as exc:
            log.error("cannot write state file %s: %s", self.path, exc)
            raise PersistError(f"cannot write the state file: {exc.strerror or exc}") from None
        self._corrupt = False
        self._seen = self._signature()

    def _signature(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextmanager
    def _file_lock(self):
        if fcntl is None:
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644
            )
        except OSError as exc:
            raise PersistError(f"cannot open the state lock file: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def changed_intersections(old: Snapshot, new: Snapshot) -> set[str]:
    """Intersections whose timing differs between two snapshots: another plan in force, or
    other live SPaT events for one of their signal groups.  The same content written again is
    no change (a controller re-sending its SPaT with a new observation time, a plan re-put)."""
    out = {iid for iid in old.plans.keys() | new.plans.keys() if _plan(old, iid) != _plan(new, iid)}
    out.update(
        k[0] for k in old.spat.keys() | new.spat.keys() if _events(old, k) != _events(new, k)
    )
    return out


def _events(snap: Snapshot, key: tuple[str, str]) -> list | None:
    m = snap.spat.get(key)
    return None if m is None else m.events


def _plan(snap: Snapshot, iid: str) -> SignalPlan | None:
    entry = snap.plans.get(iid)
    return None if entry is None else entry[0]


def remove_stale_tmp(path: Path, older_than_s: float = STALE_TMP_S) -> list[Path]:
    """Remove temporary files of ``path``'s writes (``<name>.*.tmp`` beside it) last modified
    more than ``older_than_s`` ago; returns those removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = list(path.parent.glob(glob_escape(path.name) + ".*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if now - tmp.stat().st_mtime > older_than_s and tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError as exc:  # gone meanwhile (another worker), or not ours to remove
            log.debug("cannot remove %s: %s", tmp, exc)
    if removed:
        log.warning(
            "removed %d temporary file(s) of interrupted state writes: %s",
            len(removed),
            ", ".join(p.name for p in removed),
        )
    return removed


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        return f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
    return str(exc)


def _unlink(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
