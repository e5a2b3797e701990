"""``GET /v1/advisory/stream`` (WebSocket): advice for a stream of fixes, pushed again when the
timing of the vehicle's next signal changes.

Protocol (text frames of JSON; binary frames holding JSON are read the same way):

* client → server: one fix per frame, the body of ``POST /v1/advisory`` (same fields, same
  validation with the service's clock and network).
* server → client:

  - ``{"type": "advisory", "seq": n, "cause": "fix", "advisory": {...}}``: the answer to the
    client's n-th fix (``advisory`` as ``POST /v1/advisory`` answers it);
  - ``{"type": "advisory", "seq": n, "cause": "timing", "advisory": {...}}``: new advice, sent
    at once when the plan or the live SPaT of the next intersection of the last fix (number n)
    changes: a write to this worker, or another worker's write when this worker's state poll
    picks it up (``state_poll_s``).  It is for the vehicle's position dead-reckoned along its
    link at its last speed to now (never past the stop line), and for now (the fix's timestamp
    moved on by the time since it arrived, when it had one);
  - ``{"type": "error", "seq": n, "status": 422, "detail": [{loc, msg, type}]}``: the n-th fix
    was invalid (``detail`` as the HTTP 422 body, field paths from ``body``; a ``turn`` the
    approach at the fix's position does not have included); 413 for a frame over 16 KiB.  The
    connection stays open.

Same rules as HTTP: no token (a read); a browser page of another origin must be allowed by
``GREENWAVE_CORS_ORIGINS`` (:func:`api.cors.origin_allowed`), otherwise the handshake is refused
with 403.  A worker holds at most ``max_streams`` connections (beyond: closed with code 1013, try
again later).

A plain ``GET`` of the path (no upgrade) is answered 426 Upgrade Required.  OpenAPI has no
notation for WebSockets: the endpoint is named in the API's description and in the README, and
is not an operation of the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from greenwave.units import kmh_to_ms

from ..advisor import Refusal
from ..cors import origin_allowed
from ..deps import Service
from ..errors import clean_errors
from ..schemas import ADVISORY
from ..state import Snapshot, changed_intersections
from .advisory import SINGLE_BODY_LIMIT

log = logging.getLogger("greenwave.api.stream")

router = APIRouter(prefix="/v1", tags=["advisory"])

STREAM_PATH = "/v1/advisory/stream"
SEND_TIMEOUT_S = 10.0  # a push to a client that has read nothing for this long is dropped


@router.get("/advisory/stream", include_in_schema=False)
async def stream_doc():
    raise HTTPException(
        426,
        "this is a WebSocket endpoint: open it with a WebSocket handshake "
        f"(ws://HOST{STREAM_PATH})",
        headers={"Upgrade": "websocket", "Connection": "Upgrade"},
    )


@dataclass(eq=False)
class Connection:
    """One client: its socket and what a pushed advisory needs of its last fix.

    Where the last fix was matched (link, offset, next intersection) is read from its answer
    only when a timing change asks for it (:meth:`StreamHub._locate`), at most once per fix:
    answering a fix costs what answering ``POST /v1/advisory`` costs, and no more."""

    ws: WebSocket
    seq: int = 0  # fixes received
    last: Any = None  # last valid fix (an AdvisoryRequest dict)
    last_seq: int = 0
    received_s: float = 0.0  # machine time the last fix arrived (s)
    answer: bytes | None = None  # the last valid fix's advisory, until located
    link: int = -1  # matched link of the last fix, -1 off the network
    offset_m: float = 0.0
    intersection: str | None = None  # next intersection of the last fix
    pushing: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, data: bytes, timeout_s: float | None = None) -> None:
        """Send one text frame; with ``timeout_s``, give up (TimeoutError) on a client that
        has not read for that long (the send waits while its socket buffer is full)."""
        message = {"type": "websocket.send", "text": data.decode()}
        async with self.send_lock:
            if timeout_s is None:
                await self.ws.send(message)
            else:
                await asyncio.wait_for(self.ws.send(message), timeout_s)


class StreamHub:
    """The open streams of one worker and the pushes on timing changes."""

    def __init__(self, svc: Service, loop: asyncio.AbstractEventLoop):
        self.svc = svc
        self.loop = loop
        self.connections: set[Connection] = set()
        counter = svc.metrics.stream_messages
        self._count = {k: counter.labels(k) for k in ("in", "out_fix", "out_timing", "out_error")}
        svc.store.subscribe(self._on_change)

    @classmethod
    def of(cls, svc: Service) -> StreamHub:
        hub = svc.streams
        if hub is None:
            hub = svc.streams = cls(svc, asyncio.get_running_loop())
        return hub

    # ------------------------------------------------------------------ fixes
    async def serve(self, ws: WebSocket) -> None:
        svc = self.svc
        if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), svc.settings):
            await ws.close(code=1008)  # before accept: the handshake is refused with 403
            return
        await ws.accept()
        if len(self.connections) >= svc.settings.max_streams:
            await ws.close(code=1013, reason="too many streams on this worker")
            return
        conn = Connection(ws)
        self.connections.add(conn)
        svc.metrics.stream_connections.inc()
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                data = msg.get("text")
                await self.on_fix(conn, data if data is not None else msg.get("bytes") or b"")
        except (TimeoutError, WebSocketDisconnect, RuntimeError):
            pass  # the client went away (or stopped reading) mid-answer
        finally:
            self.connections.discard(conn)
            svc.metrics.stream_connections.dec()
            if ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):  # already gone
                    await ws.close()

    async def on_fix(self, conn: Connection, data: str | bytes) -> None:
        """One fix: a text frame (the str the server decoded, validated as it is: encoding it
        back to bytes would only be undone by the parser) or a binary frame."""
        svc = self.svc
        conn.seq += 1
        self._count["in"].inc()
        size = len(data)
        if isinstance(data, str) and size > SINGLE_BODY_LIMIT // 4:
            size = len(data.encode())  # up to 4 bytes a character: count them when it matters
        if size > SINGLE_BODY_LIMIT:
            await self._error(
                conn, 413, f"message of {size} bytes exceeds {SINGLE_BODY_LIMIT} bytes"
            )
            return
        try:
            req = ADVISORY.validate_json(data, context=svc.context)
        except ValidationError as exc:
            errs = exc.errors(include_url=False, include_input=False)
            await self._error(conn, 422, clean_errors(errs, ("body",), ADVISORY))
            return
        except (ValueError, RecursionError) as exc:
            await self._error(
                conn,
                422,
                [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}],
            )
            return
        now = svc.clock.now()
        out = await svc.batcher.submit((req, now))
        if isinstance(out, Refusal):  # a turn the approach at the position does not have
            await self._error(conn, 422, out.errors("body"))
            return
        conn.last, conn.last_seq, conn.received_s = req, conn.seq, time.time()
        conn.answer = out
        await self._send(conn, b"fix", conn.seq, out)

    def _locate(self, conn: Connection) -> None:
        """What a push needs of the last fix, from its answer (once per fix): the matched link
        and offset, the next intersection."""
        answer, conn.answer = conn.answer, None
        if answer is None:
            return
        a = orjson.loads(answer)
        net = self.svc.world.network
        conn.link = net.link_index.get(a["link_id"], -1) if a["link_id"] else -1
        conn.offset_m = a["offset_m"] if a["offset_m"] is not None else 0.0
        conn.intersection = (a["intersection"] or {}).get("id")

    async def _send(self, conn: Connection, cause: bytes, seq: int, advisory: bytes) -> None:
        frame = b'{"type":"advisory","seq":%d,"cause":"%s","advisory":%s}' % (
            seq,
            cause,
            advisory,
        )
        # A fix's answer waits for a slow reader (it is the reader's own stream); a push gives
        # up after SEND_TIMEOUT_S.
        await conn.send(frame, SEND_TIMEOUT_S if cause == b"timing" else None)
        self._count["out_" + cause.decode()].inc()

    async def _error(self, conn: Connection, status: int, detail: Any) -> None:
        frame = orjson.dumps({"type": "error", "seq": conn.seq, "status": status, "detail": detail})
        await conn.send(frame)
        self._count["out_error"].inc()

    # ------------------------------------------------------------------ pushes
    def _on_change(self, old: Snapshot, new: Snapshot) -> None:
        """TimingStore listener (any thread): hand the changed intersections to the loop."""
        if not self.connections:
            return
        changed = changed_intersections(old, new)
        if changed:
            self.loop.call_soon_threadsafe(self._push_all, changed)

    def _push_all(self, changed: set[str]) -> None:
        for conn in list(self.connections):
            if conn.last is None or conn.pushing:
                continue
            self._locate(conn)
            if conn.intersection in changed and conn.link >= 0:
                conn.pushing = True
                self.loop.create_task(self._push(conn))

    async def _push(self, conn: Connection) -> None:
        try:
            req, now = self.reckon(conn)
            seq = conn.last_seq
            out = await self.svc.batcher.submit((req, now))
            if isinstance(out, Refusal):  # (cannot happen: the fix's link, whose turns held)
                return
            # The fix stays the base of the next push (its link, offset and arrival time): the
            # vehicle is dead-reckoned from the fix, never from a reckoned position again.
            await self._send(conn, b"timing", seq, out)
        except (TimeoutError, WebSocketDisconnect, RuntimeError):
            pass  # closed meanwhile; its serve() cleans up
        except Exception:
            log.exception("push to a stream failed")
        finally:
            conn.pushing = False

    def reckon(self, conn: Connection) -> tuple[dict, float]:
        """The last fix moved on to now: ``(request, server time)``.

        On its matched link (only fixes with a next intersection are pushed, so there is one)
        the vehicle has gone ``speed × elapsed`` further, at most to the link's end (the stop
        line).  A fix's ``timestamp`` moves on by the elapsed time."""
        assert conn.last is not None
        last = conn.last
        elapsed = max(time.time() - conn.received_s, 0.0)
        net = self.svc.world.network
        ahead_m = float(kmh_to_ms(last["speed_kmh"])) * elapsed
        req: dict[str, Any] = {
            "link_id": net.link_ids[conn.link],
            "offset_m": min(conn.offset_m + ahead_m, float(net.link_length_m[conn.link])),
            "speed_kmh": last["speed_kmh"],
        }
        for key in ("vehicle_id", "turn"):
            if key in last:
                req[key] = last[key]
        if "timestamp" in last:
            t = last["timestamp"].timestamp() + elapsed
            req["timestamp"] = datetime.fromtimestamp(t, tz=UTC)
        return req, self.svc.clock.now()


@router.websocket("/advisory/stream")
async def stream(websocket: WebSocket):
    svc: Service = websocket.app.state.service
    await StreamHub.of(svc).serve(websocket)
