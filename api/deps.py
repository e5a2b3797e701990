"""The per-worker service object and the dependencies routes use."""

from __future__ import annotations

import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from greenwave.network import World

from .advisor import Advisor, MicroBatcher
from .clock import Clock
from .metrics import Metrics
from .settings import Settings
from .state import TimingStore


@dataclass
class Service:
    """Everything built once at start-up (see :func:`api.main.lifespan`)."""

    settings: Settings
    world: World
    store: TimingStore
    advisor: Advisor
    batcher: MicroBatcher
    metrics: Metrics
    network_json: bytes = b""
    network_etag: str = ""
    started_at: float = field(default_factory=time.time)
    approaches: dict[str, list[str]] = field(default_factory=dict)  # iid → link ids
    # Batch requests are computed one at a time, in this thread: concurrent batches in several
    # threads only take turns on the GIL, each holding its memory for longer.
    batch_executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
    )
    streams: Any = None  # api.routes.stream.StreamHub, made by the first stream
    clock: Clock = field(init=False)
    context: dict = field(init=False)

    def __post_init__(self) -> None:
        self.clock = Clock.for_scenario(self.settings.clock, self.world.scenario)
        self.store.now = self.clock.now  # live SPaT expires on the service's clock
        self.advisor.set_max_radius(self.settings.max_match_radius_m)
        # Validation context of request bodies: network checks of link ids and offsets, and
        # the clock that decides which times are accepted.
        self.context = {"network": self.world.network, "clock": self.clock}

    @property
    def token(self) -> bytes | None:
        tok = self.settings.token
        return None if tok is None else tok.get_secret_value().encode()


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="The server's write token (GREENWAVE_TOKEN): plan and SPaT writes only; reads "
    "need none",
)


def require_token(
    request: Request, _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> None:
    """Bearer-token check of every write, before the body is read.

    No token configured → 403 (writes disabled); missing or wrong token → 401.  The comparison
    takes the same time wherever the tokens differ (``hmac.compare_digest``).  (``BEARER``
    documents the scheme in the OpenAPI document; the header is read here.)
    """
    expected = get_service(request).token
    if expected is None:
        raise HTTPException(
            403,
            "writes are disabled: the server has no token configured "
            "(set GREENWAVE_TOKEN or --token)",
        )
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)
    if not ok:
        raise HTTPException(
            401,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="greenwave"'},
        )


WriteAuth = Depends(require_token)
