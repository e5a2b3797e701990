"""CORS from settings; OPTIONS and 405 name every method of the resource."""

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

FIX = {"link_id": "renmin_f2", "offset_m": 120.0, "speed_kmh": 38.0}
PAGE = "https://maps.example.com"


def app(tmp_path, **kw):
    return create_app(Settings(state_dir=tmp_path, token="tok", **kw))


def preflight(c, path, method="POST", origin=PAGE, headers="content-type"):
    return c.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_no_cors_headers_by_default(tmp_path):
    """Same origin only: no Access-Control-* headers, whatever the Origin."""
    with TestClient(app(tmp_path)) as c:
        r = c.post("/v1/advisory", json=FIX, headers={"Origin": PAGE})
        assert r.status_code == 200
        assert not any(k.lower().startswith("access-control-") for k in r.headers)
        r = preflight(c, "/v1/advisory")
        assert r.status_code == 204  # OPTIONS is answered, but allows no other origin
        assert r.headers["allow"] == "OPTIONS, POST"
        assert "access-control-allow-origin" not in r.headers


def test_configured_origins_get_preflights_and_headers(tmp_path):
    with TestClient(app(tmp_path, cors_origins=[PAGE, "http://localhost:5173"])) as c:
        r = preflight(c, "/v1/advisory")
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == PAGE
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "content-type" in r.headers["access-control-allow-headers"].lower()
        assert int(r.headers["access-control-max-age"]) > 0
        # The fast path's answers carry the headers too, as do errors.
        r = c.post("/v1/advisory", json=FIX, headers={"Origin": PAGE})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PAGE
        r = c.post("/v1/advisory", json={"speed_kmh": 1}, headers={"Origin": PAGE})
        assert r.status_code == 422 and r.headers["access-control-allow-origin"] == PAGE
        # A write's preflight allows the bearer token.
        r = preflight(c, "/v1/intersections/xisi/plan", "PUT", headers="authorization,content-type")
        assert (
            r.status_code == 200
            and "authorization" in r.headers["access-control-allow-headers"].lower()
        )
        # The network's ETag is readable by the page (for If-None-Match).
        r = c.get("/v1/network", headers={"Origin": PAGE})
        assert "etag" in r.headers["access-control-expose-headers"].lower()
        # Another origin gets no permission.
        r = preflight(c, "/v1/advisory", origin="https://evil.example")
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        r = c.post("/v1/advisory", json=FIX, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_any_origin(tmp_path):
    with TestClient(app(tmp_path, cors_origins=["*"])) as c:
        r = preflight(c, "/v1/advisories/batch", origin="https://anywhere.example")
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


def test_origins_from_the_environment(monkeypatch):
    monkeypatch.setenv("GREENWAVE_CORS_ORIGINS", f"{PAGE}/, http://127.0.0.1:8000")
    assert Settings().cors_origins == [PAGE, "http://127.0.0.1:8000"]
    monkeypatch.setenv("GREENWAVE_CORS_ORIGINS", "")
    assert Settings().cors_origins == []
    monkeypatch.setenv("GREENWAVE_CORS_ORIGINS", "maps.example.com")
    with pytest.raises(ValueError, match="not an origin"):
        Settings()


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("PATCH", "/v1/intersections/xisi/plan", "DELETE, OPTIONS, PUT"),
        ("GET", "/v1/intersections/xisi/plan", "DELETE, OPTIONS, PUT"),
        ("GET", "/v1/advisory", "OPTIONS, POST"),
        ("DELETE", "/v1/advisories/batch", "OPTIONS, POST"),
        ("PUT", "/v1/intersections/xisi/spat", "OPTIONS, POST"),
        ("POST", "/v1/intersections", "GET, HEAD, OPTIONS"),
        ("POST", "/v1/advisory/stream", "GET, HEAD, OPTIONS"),
        ("TRACE", "/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_and_options_list_every_method(tmp_path, method, path, allow):
    with TestClient(app(tmp_path)) as c:
        r = c.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == allow
        assert r.json()["detail"]
        r = c.options(path)
        assert r.status_code == 204 and r.headers["allow"] == allow and r.content == b""


def test_options_on_an_unknown_path_is_404(tmp_path):
    with TestClient(app(tmp_path)) as c:
        assert c.options("/v1/nowhere").status_code == 404
