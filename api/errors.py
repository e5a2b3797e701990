"""Error bodies and request-body parsing.

Every client error is JSON: ``{"detail": "text"}`` (401, 403, 404, 405, 413, 415) or, for
invalid input, 422 ``{"detail": [{"loc": ["body", "vehicles", 3, "lat"], "msg": "...",
"type": "..."}]}``; an unknown field's message lists the fields allowed there.
The offending input is not echoed: it may be huge (a batch) or not representable in JSON at all
(``NaN`` and ``Infinity``, which some JSON parsers let through), and rendering it must never turn
a 422 into a 500.

Bodies are read and validated here rather than by FastAPI's body parameters so that (a) a write
checks the token before it looks at the body, (b) the body size is capped before it is read, and
(c) the hot endpoints validate the raw bytes in one pass (``model_validate_json``) with the network
as validation context, and (d) a body that is not declared JSON is refused with 415 (see
:func:`check_json_content_type`).  Request models are still documented in the OpenAPI schema
(see :func:`body_doc` and :func:`api.main.create_app`).

A 405 lists in ``Allow`` every method of every route of the path (Starlette names only the
first route's; ``HEAD`` wherever ``GET`` is, see :mod:`api.head`), and ``OPTIONS`` on any
route is answered 204 with that ``Allow`` (CORS preflights are answered before, by
:mod:`api.cors`, when origins are configured).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Mount

from .responses import JSONBytes
from .schemas import ErrorResponse, ValidationErrorResponse

log = logging.getLogger("greenwave.api")

M = TypeVar("M", bound=BaseModel)

# OpenAPI documentation of the error responses, for ``responses=`` of the routes.
R401: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token"}
}
R403: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "Writes are disabled: no token configured"}
}
R404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown intersection"}
}
R413: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body or batch too large"}
}
R415: dict[int | str, dict[str, Any]] = {
    415: {
        "model": ErrorResponse,
        "description": "The body is not declared JSON: send Content-Type: application/json",
    }
}
R422: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "Invalid input: field path and reason"}
}

REF = "#/components/schemas/{model}"

# Schemas of the request bodies by component name (merged into the OpenAPI document by
# api.main.create_app).
BODY_SCHEMAS: dict[str, dict] = {}


def body_doc(
    source: type[BaseModel] | TypeAdapter,
    description: str = "",
    examples: dict[str, dict] | None = None,
) -> dict:
    """``openapi_extra`` documenting ``source`` (a model or a TypeAdapter) as the JSON request
    body of a route that reads its body itself (see :func:`parse`); ``examples`` are OpenAPI
    example objects (``{name: {"summary": ..., "value": ...}}``) of the media type."""
    if isinstance(source, TypeAdapter):
        js = source.json_schema(ref_template=REF)
    else:
        js = source.model_json_schema(ref_template=REF)
    BODY_SCHEMAS.update(js.pop("$defs", {}))
    if set(js) == {"$ref"}:
        ref = js["$ref"]
    else:
        name = js.get("title", "Body")
        BODY_SCHEMAS[name] = js
        ref = REF.format(model=name)
    media: dict[str, Any] = {"schema": {"$ref": ref}}
    if examples:
        media["examples"] = examples
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": media},
        }
    }


def clean_errors(errors, prefix: tuple = (), source=None) -> list[dict[str, Any]]:
    """pydantic errors → JSON-safe ``{loc, msg, type}`` items, ``loc`` prefixed.

    With ``source`` (the model or TypeAdapter that validated), the message of an unknown field
    names the fields allowed there."""
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        raw = tuple(e.get("loc", ()))
        loc = [p if isinstance(p, (str, int)) else str(p) for p in (*prefix, *raw)]
        field = (e.get("ctx") or {}).get("field")
        if isinstance(field, str):  # checks of one field made where the whole object is seen
            loc.append(field)
        kind = str(e.get("type", "value_error"))
        if kind == "extra_forbidden" and source is not None:
            allowed = allowed_fields(source, raw[:-1])
            if allowed:
                msg = f"unknown field '{str(raw[-1])[:64]}'; allowed: {', '.join(allowed)}"
        out.append({"loc": loc, "msg": msg, "type": kind})
    return out


_SCHEMAS: dict[int, dict] = {}


def allowed_fields(source, path: tuple) -> list[str]:
    """Names of the fields of the object at ``path`` (keys and list indices, as in a pydantic
    error's ``loc``) of what ``source`` (a model or TypeAdapter) validates, from its JSON
    Schema; [] when the path leads to no object."""
    root = _SCHEMAS.get(id(source))
    if root is None:
        if isinstance(source, TypeAdapter):
            root = source.json_schema()
        else:
            root = source.model_json_schema()
        _SCHEMAS[id(source)] = root
    defs = root.get("$defs", {})

    def resolve(js):
        while isinstance(js, dict) and "$ref" in js:
            js = defs.get(js["$ref"].rsplit("/", 1)[-1], {})
        return js if isinstance(js, dict) else {}

    def step(js, key):
        js = resolve(js)
        for branch in js.get("anyOf", []) + js.get("oneOf", []):
            found = step(branch, key)
            if found:
                return found
        if isinstance(key, int):
            return resolve(js.get("items", {}))
        return resolve(js.get("properties", {}).get(key, {}))

    js = resolve(root)
    for key in path:
        js = step(js, key)
    names: list[str] = []
    for branch in [js, *(resolve(b) for b in js.get("anyOf", []))]:
        names += [k for k in branch.get("properties", {}) if k not in names]
    return names


def validation_error(loc: list, msg: str, type_: str = "value_error") -> RequestValidationError:
    """A 422 for one field, raised like pydantic's."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": type_}])


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, any parameters (charset)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json") and "/" not in media[12:]
    )


def check_json_content_type(content_type: str | None, body: bytes) -> None:
    """415 unless the body is declared JSON.

    A missing Content-Type is accepted when the body parses as JSON (``curl -d`` users and
    small scripts often leave it out), anything else is refused: ``text/plain`` and form
    encoding (what ``curl -d`` sends by default) included, so that a form post from a web page
    of another origin cannot reach the writes without a CORS preflight.
    """
    if content_type is None or not content_type.strip():
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HTTPException(
                415, "the body is not JSON: send JSON with Content-Type: application/json"
            ) from None
        return
    if not is_json_media_type(content_type):
        raise HTTPException(
            415,
            f"Content-Type {content_type[:100]!r} is not JSON: send the body as application/json",
        )


async def read_body(request: Request, limit: int, json: bool = True) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413 before reading them and,
    when ``json``, a body not declared JSON with 415 (:func:`check_json_content_type`)."""
    ctype = request.headers.get("content-type")
    if json and ctype is not None and ctype.strip() and not is_json_media_type(ctype):
        check_json_content_type(ctype, b"")  # refuse before reading
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
        if size > limit:
            raise HTTPException(
                413, f"request body of {size} bytes exceeds the limit of {limit} bytes"
            )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if json:
        check_json_content_type(ctype, body)
    return body


def parse(model: type[M] | TypeAdapter, body: bytes, context: dict | None = None):
    """Validate a JSON body; invalid → 422 with ``loc`` starting at ``"body"``."""
    if not body.strip():
        raise validation_error(["body"], "a JSON body is required", "missing")
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_json(body, context=context)
        return model.model_validate_json(body, context=context)
    except ValidationError as exc:
        raise RequestValidationError(
            clean_errors(exc.errors(include_url=False, include_input=False), ("body",), model)
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. nesting too deep for the parser
        raise validation_error(["body"], f"invalid JSON: {exc}", "json_invalid") from None


async def on_validation_error(request: Request, exc: RequestValidationError):
    return JSONBytes(status_code=422, content={"detail": clean_errors(exc.errors())})


async def on_http_error(request: Request, exc: StarletteHTTPException):
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.scope)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        if request.method == "OPTIONS":  # what the resource supports (RFC 9110, 9.3.7)
            return Response(status_code=204, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONBytes(status_code=exc.status_code, content={"detail": detail}, headers=headers)


def allowed_methods(app, scope) -> list[str]:
    """Every method some HTTP route of the app answers at ``scope``'s path, plus OPTIONS
    (answered for every route, see :func:`on_http_error`) and HEAD where GET is (answered by
    :class:`api.head.HeadAsGet`), sorted."""
    methods: set[str] = set()
    _collect_methods(app.router.routes, {**scope, "type": "http"}, methods)
    if methods:
        methods.add("OPTIONS")
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _collect_methods(routes, probe: dict, methods: set[str]) -> None:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included-router wrapper
        if inner is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            path = probe["path"]
            if path.startswith(prefix):
                _collect_methods(inner.routes, {**probe, "path": path[len(prefix) :]}, methods)
            continue
        match, _ = route.matches(probe)
        if match == Match.NONE:
            continue
        route_methods = getattr(route, "methods", None)
        if route_methods:
            methods |= set(route_methods)
        elif isinstance(route, Mount):  # static files
            methods |= {"GET", "HEAD"}


def install(app) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
