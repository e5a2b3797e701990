"""Error bodies and request-body parsing.

Every client error is JSON: ``{"detail": "text"}`` (401, 403, 404, 413) or, for invalid input,
422 ``{"detail": [{"loc": ["body", "vehicles", 3, "lat"], "msg": "...", "type": "..."}]}``.
The offending input is not echoed: it may be huge (a batch) or not representable in JSON at all
(``NaN`` and ``Infinity``, which some JSON parsers let through), and rendering it must never turn
a 422 into a 500.

Bodies are read and validated here rather than by FastAPI's body parameters so that (a) a write
checks the token before it looks at the body, (b) the body size is capped before it is read, and
(c) the hot endpoints validate the raw bytes in one pass (``model_validate_json``) with the network
as validation context.  Request models are still documented in the OpenAPI schema (see
:func:`body_doc` and :func:`api.main.create_app`).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
R422: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "Invalid input: field path and reason"}
}

REF = "#/components/schemas/{model}"

# Schemas of the request bodies by component name (merged into the OpenAPI document by
# api.main.create_app).
BODY_SCHEMAS: dict[str, dict] = {}


def body_doc(source: type[BaseModel] | TypeAdapter, description: str = "") -> dict:
    """``openapi_extra`` documenting ``source`` (a model or a TypeAdapter) as the JSON request
    body of a route that reads its body itself (see :func:`parse`)."""
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
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": ref}}},
        }
    }


def clean_errors(errors, prefix: tuple = ()) -> list[dict[str, Any]]:
    """pydantic errors → JSON-safe ``{loc, msg, type}`` items, ``loc`` prefixed."""
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        loc = [p if isinstance(p, (str, int)) else str(p) for p in (*prefix, *e.get("loc", ()))]
        field = (e.get("ctx") or {}).get("field")
        if isinstance(field, str):  # checks of one field made where the whole object is seen
            loc.append(field)
        out.append({"loc": loc, "msg": msg, "type": str(e.get("type", "value_error"))})
    return out


def validation_error(loc: list, msg: str, type_: str = "value_error") -> RequestValidationError:
    """A 422 for one field, raised like pydantic's."""
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": type_}])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413 before reading them."""
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
    return b"".join(chunks)


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
            clean_errors(exc.errors(include_url=False, include_input=False), ("body",))
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. nesting too deep for the parser
        raise validation_error(["body"], f"invalid JSON: {exc}", "json_invalid") from None


async def on_validation_error(request: Request, exc: RequestValidationError):
    return JSONBytes(status_code=422, content={"detail": clean_errors(exc.errors())})


async def on_http_error(request: Request, exc: StarletteHTTPException):
    headers = getattr(exc, "headers", None)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONBytes(status_code=exc.status_code, content={"detail": detail}, headers=headers)


def install(app) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
