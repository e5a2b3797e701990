"""The FastAPI app: ``create_app(settings)``; state is built once in the lifespan.

Run it with ``greenwave serve`` (:mod:`api.serve`), or
``uvicorn --factory greenwave.api.main:app_from_env`` with settings from ``GREENWAVE_*``
environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

from greenwave.network import World
from greenwave.scenario import load_scenario

from . import cors, errors
from .advisor import Advisor, MicroBatcher
from .deps import Service
from .head import HeadAsGet
from .metrics import Metrics, MetricsMiddleware
from .responses import JSONBytes
from .routes import advisory, client, health, intersections, network, stream
from .routes.network import network_geojson
from .settings import VERSION, Settings
from .state import TimingStore

log = logging.getLogger("greenwave.api")

DESCRIPTION = """\
Green-light optimal speed advisory (GLOSA) for vehicles on a scenario's road network.

* `POST /v1/advisory`: a vehicle's position (GPS fix with heading, or link + offset) and speed →
  the band of speeds that arrives at the next stop line on green, as the 智行淄博 app says it
  (“距离前方路口480米,绿波速度区间35—50公里”).
* `POST /v1/advisories/batch`: the same for up to `max_batch` vehicles in one core call.
* `GET /v1/advisory/stream` (WebSocket): advice for each fix sent, pushed again when the timing
  of the next signal changes.
* `GET /v1/network`, `/v1/intersections…`: the network (GeoJSON), plans, states, green windows.
* `PUT …/plan`, `POST …/spat`: operator writes, `Authorization: Bearer <token>`.

Speeds in km/h, distances in metres, times ISO 8601 with offset (accepted within 24 h of server
time, or anywhere in the scenario's time with `greenwave serve --clock scenario`). Bodies are
JSON (`Content-Type: application/json`; other types: 415). Invalid input: 422 with the field
path; unknown intersection: 404.
"""


def build_service(settings: Settings) -> Service:
    """Load the scenario and build everything a worker needs (raises ScenarioError)."""
    scenario = load_scenario(settings.scenario)
    world = World.build(scenario)
    store = TimingStore(world, settings.state_dir)
    adv = scenario.advisory
    advisor = Advisor(
        world,
        store,
        settings.match_radius_m,
        settings.heading_tolerance_deg,
        settings.advisory_range_m or adv.range_m,
        settings.valid_for_s or adv.update_interval_s,
        settings.max_batch,
    )
    metrics = Metrics()

    def compute(items):
        metrics.group_size.observe(len(items))
        result = advisor.from_requests([it[0] for it in items], [it[1] for it in items])
        metrics.count_statuses("single", result.status_counts())
        return advisor.items(result)

    batcher = MicroBatcher(compute, settings.batch_window_ms / 1000.0, settings.max_microbatch)
    body, etag = network_geojson(world.network, world.timing, scenario.name)
    net = world.network
    approaches: dict[str, list[str]] = {}
    for k, lid in enumerate(net.link_ids):
        i = int(net.link_intersection[k])
        if i >= 0:
            approaches.setdefault(net.intersection_ids[i], []).append(lid)
    svc = Service(
        settings=settings,
        world=world,
        store=store,
        advisor=advisor,
        batcher=batcher,
        metrics=metrics,
        network_json=body,
        network_etag=etag,
        approaches=approaches,
    )
    if store.error:
        log.error("%s", store.error)
    log.info(
        "scenario '%s': %d intersections, %d links; state file %s; writes %s",
        scenario.name,
        len(net.intersection_ids),
        net.n_links,
        store.path,
        "enabled" if settings.token else "disabled (no token)",
    )
    return svc


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    svc = build_service(settings)
    app.state.service = svc
    app.state.metrics_sink.target = svc.metrics
    # Objects built so far live as long as the process: keep them out of the garbage
    # collector's generations so that collections during large batches stay cheap.
    gc.collect()
    gc.freeze()
    poll = asyncio.create_task(_poll_state(svc))
    try:
        yield
    finally:
        poll.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poll
        svc.batcher.close()
        svc.batch_executor.shutdown(wait=False, cancel_futures=True)


async def _poll_state(svc: Service) -> None:
    """Pick up plans written by other worker processes."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(svc.settings.state_poll_s)
        try:
            if await loop.run_in_executor(None, svc.store.refresh):
                log.info("reloaded timing state from %s", svc.store.path)
        except Exception:  # never let the poller die
            log.exception("state refresh failed")


class _MetricsSink:
    """Forwards to the Metrics built in the lifespan (the middleware exists before it)."""

    target: Metrics | None = None

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if self.target is not None:
            self.target.observe(method, route, status, seconds)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; the scenario is loaded when the lifespan starts."""
    settings = settings or Settings()
    app = FastAPI(
        title="greenwave advisory service",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONBytes,
        docs_url=None,  # /docs and /redoc: api.routes.client, from local assets (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    sink = _MetricsSink()
    app.state.metrics_sink = sink
    app.add_middleware(HeadAsGet)  # innermost: the routes see a GET
    app.add_middleware(advisory.AdvisoryFastPath)  # inside the metrics middleware
    cors.install(app, settings)  # CORS headers on every answer, the fast path's too
    app.add_middleware(MetricsMiddleware, metrics=sink)
    errors.install(app)

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception):  # pragma: no cover - bug guard
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONBytes({"detail": "internal error"}, status_code=500)

    for r in (
        advisory.router,
        stream.router,
        intersections.router,
        network.router,
        health.router,
        client.router,
    ):
        app.include_router(r)

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, js in errors.BODY_SCHEMAS.items():
                comps.setdefault(name, js)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from ``GREENWAVE_*`` environment variables."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(Settings())
