"""JSON responses encoded with orjson (NaN and ±inf become ``null``: never invalid JSON)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class JSONBytes(JSONResponse):
    """``application/json`` from a Python object, or from bytes already encoded (a
    JSONResponse, so that OpenAPI documents the route's response model)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)
