"""Cross-origin access from web pages (CORS), from ``Settings.cors_origins``.

By default no origin is allowed: no CORS headers, so a browser lets only pages served by the
service itself (same origin) read its answers.  With ``GREENWAVE_CORS_ORIGINS`` (a comma-separated
list of origins, or ``*``) Starlette's ``CORSMiddleware`` answers preflights and adds the headers
to every answer for those origins.  No credentials mode: the API uses no cookies, and writes take
a bearer token in ``Authorization``, which the preflight allows.

WebSocket handshakes are not covered by CORS; :func:`origin_allowed` applies the same rule to
them (:mod:`api.routes.stream`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware

from .settings import Settings

METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
HEADERS = ["Authorization", "Content-Type", "If-None-Match"]
EXPOSED = ["ETag"]  # GET /v1/network answers with one, for If-None-Match
MAX_AGE_S = 600  # browsers may cache a preflight this long


def install(app, settings: Settings) -> None:
    """Add the CORS middleware when origins are configured (call before outer middleware)."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=METHODS,
        allow_headers=HEADERS,
        expose_headers=EXPOSED,
        allow_credentials=False,
        max_age=MAX_AGE_S,
    )


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """May a client that sent ``Origin: origin`` to ``Host: host`` use the service?

    Yes without an Origin (not a browser), for a page of the service's own origin (same host and
    port) and for the configured origins."""
    if origin is None:
        return True
    allowed = settings.cors_origins
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(host) and netloc.lower() == (host or "").lower()
