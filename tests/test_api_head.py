"""HEAD is answered like GET without a body wherever GET is allowed; elsewhere 405 with an
``Allow`` that names HEAD exactly where GET is."""

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

# Headers a HEAD answer must share with the GET answer (volatile ones, such as a Date, aside).
SAME = ("content-type", "content-length", "etag", "cache-control", "content-security-policy")
VOLATILE = {"/healthz", "/metrics", "/v1/intersections/xisi"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(state_dir=tmp_path_factory.mktemp("state"), token="tok")
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/static/app.css",
        "/static/js/main.js",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/v1/network",
        "/v1/intersections",
        "/v1/intersections/xisi",
        "/v1/ping",
        "/healthz",
        "/metrics",
    ],
)
def test_head_is_get_without_the_body(client, path):
    get = client.get(path)
    head = client.head(path)
    assert get.status_code == head.status_code == 200
    assert get.content and head.content == b""
    for name in SAME:
        if name in get.headers and name != "content-length":
            assert head.headers.get(name) == get.headers[name], name
    if path in VOLATILE:  # state and times: the body changes from one call to the next
        assert int(head.headers["content-length"]) > 0
    else:
        assert head.headers["content-length"] == str(len(get.content))


def test_head_keeps_query_validation_and_conditional_answers(client):
    r = client.head("/v1/intersections/xisi/windows", params={"horizon_s": 300})
    assert r.status_code == 200 and r.content == b""
    bad = client.head("/v1/intersections/xisi/windows", params={"horizon_s": "nan"})
    assert bad.status_code == 422 and bad.content == b""
    assert client.head("/v1/intersections/nowhere").status_code == 404
    assert client.head("/nowhere").status_code == 404
    etag = client.get("/v1/network").headers["etag"]
    r = client.head("/v1/network", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["etag"] == etag
    # The WebSocket endpoint's plain-HTTP answer, as for GET.
    assert client.head("/v1/advisory/stream").status_code == 426


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("HEAD", "/v1/advisory", "OPTIONS, POST"),
        ("HEAD", "/v1/intersections/xisi/plan", "DELETE, OPTIONS, PUT"),
        ("HEAD", "/v1/intersections/xisi/spat", "OPTIONS, POST"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
        ("PUT", "/v1/network", "GET, HEAD, OPTIONS"),
        ("DELETE", "/", "GET, HEAD, OPTIONS"),
        ("POST", "/docs", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_allow_names_head_where_get_is(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert client.options(path).headers["allow"] == allow


def test_metrics_count_head_as_head(client):
    client.head("/v1/ping")
    text = client.get("/metrics").text
    lines = [ln for ln in text.splitlines() if ln.startswith("greenwave_http_requests_total{")]
    assert any('method="HEAD"' in ln and 'route="/v1/ping"' in ln for ln in lines), lines
