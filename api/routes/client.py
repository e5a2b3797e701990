"""The web client and the API documentation, served from files shipped in the package.

``GET /`` is the client (``api/static/index.html`` and its ES modules under ``/static/``);
``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) load their scripts and styles from
``/static/vendor/`` (licences and versions in ``api/static/vendor/README.md``), so the pages
work offline and where a CDN is blocked.  Nothing here is in the OpenAPI schema.

Files are answered with an ETag and ``Cache-Control: no-cache``: a browser revalidates each file
(a 304 on the loopback costs well under a millisecond) and never runs a stale client after an
upgrade.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""``api/static`` (``greenwave/api/static`` once installed; package data in pyproject.toml)."""

SWAGGER_JS = "static/vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "static/vendor/swagger-ui/swagger-ui.css"
REDOC_JS = "static/vendor/redoc/redoc.standalone.js"
ICON = "static/icon.svg"

# mimetypes reads the system's tables, which differ between machines (and may lack these).
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE, NOTICE
}
_NO_CACHE = "no-cache"

# Content-Security-Policy: what the pages may load, and from where: only this server.  Beyond
# hardening, this keeps the "works offline" promise in the browser itself: ReDoc's sidebar
# credit is an image from cdn.redoc.ly, which the policy refuses without a request.
CSP_CLIENT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)
# Swagger UI and ReDoc: FastAPI's pages start them with an inline script, and both set inline
# styles; ReDoc runs its search in a worker made from a blob.
CSP_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)

router = APIRouter(tags=["client"], include_in_schema=False)


def _root(request: Request) -> str:
    """The path prefix the app is mounted under (behind a proxy), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _file(path: Path, request: Request) -> Response:
    """The file with an ETag; 304 when the browser already has it."""
    stat = path.stat()
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    resp = FileResponse(path, media_type=media_type, stat_result=stat)
    resp.headers["Cache-Control"] = _NO_CACHE
    etag = resp.headers.get("etag")
    if etag is not None and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": _NO_CACHE})
    return resp


@router.api_route("/", methods=["GET", "HEAD"])
def index(request: Request) -> Response:
    """The web client."""
    resp = _file(STATIC_DIR / "index.html", request)
    resp.headers["Content-Security-Policy"] = CSP_CLIENT
    return resp


@router.api_route("/static/{file_path:path}", methods=["GET", "HEAD"])
def static(file_path: str, request: Request) -> Response:
    """A file of the client or a vendored documentation asset; 404 for anything outside
    ``api/static`` (``..``, absolute paths, symbolic links leading out)."""
    path = (STATIC_DIR / file_path).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise HTTPException(404, f"no file '{file_path[:200]}' in the client's static files")
    return _file(path, request)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the service's OpenAPI schema, from local assets.  The online validator
    badge is off (it would send the schema to validator.swagger.io)."""
    root = _root(request)
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} – Swagger UI",
        swagger_js_url=f"{root}/{SWAGGER_JS}",
        swagger_css_url=f"{root}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{root}/{ICON}",
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = CSP_DOCS
    return page


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the service's OpenAPI schema, from local assets (no web fonts)."""
    root = _root(request)
    app = request.app
    page = get_redoc_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} – ReDoc",
        redoc_js_url=f"{root}/{REDOC_JS}",
        redoc_favicon_url=f"{root}/{ICON}",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = CSP_DOCS
    return page
