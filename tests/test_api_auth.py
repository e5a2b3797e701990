"""Writes need the bearer token: 401 without or with a wrong one whatever the body, 403 when the
server has no token; nothing changes."""

import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

PLAN = {
    "cycle_s": 90.0,
    "groups": [
        {"id": "EW", "greens_s": [[0.0, 40.0]], "conflicts": ["NS"]},
        {"id": "NS", "greens_s": [[45.0, 85.0]]},
    ],
}
SPAT = {
    "groups": [
        {
            "signal_group": "EW",
            "events": [{"state": "red", "min_end_in_s": 5.0, "max_end_in_s": 8.0}],
        }
    ]
}
BODIES = [PLAN, {}, b"{not json", b"", b"x" * 100_000, SPAT]
WRITES = [
    ("put", "/v1/intersections/xisi/plan"),
    ("post", "/v1/intersections/xisi/spat"),
    ("delete", "/v1/intersections/xisi/plan"),
    ("put", "/v1/intersections/nowhere/plan"),
]


def send(c, method, path, body, headers):
    kw = {"headers": headers}
    if method != "delete":
        kw["content"] = body if isinstance(body, bytes) else None
        kw["json"] = None if isinstance(body, bytes) else body
    return (
        getattr(c, method)(path, **kw)
        if method == "delete"
        else c.request(method.upper(), path, **kw)
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(Settings(state_dir=tmp_path_factory.mktemp("s"), token="right-token"))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "right-token"},
        {"Authorization": "Basic right-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer right-token2"},
    ],
)
@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
@pytest.mark.parametrize("method,path", WRITES)
def test_unauthorised_writes_are_401_and_change_nothing(client, method, path, body, headers):
    before = client.get("/v1/intersections/xisi").json()
    r = send(client, method, path, body, headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    after = client.get("/v1/intersections/xisi").json()
    before.pop("at"), after.pop("at")
    assert [g.pop("time_to_change_s") for g in before["groups"]]  # time moves on
    for g in before["groups"] + after["groups"]:
        for k in ("time_to_change_s", "time_to_change_min_s", "time_to_change_max_s", "state"):
            g.pop(k, None)
    assert before == after


def test_right_token_writes(client):
    r = client.put(
        "/v1/intersections/xisi/plan", json=PLAN, headers={"Authorization": "bearer right-token"}
    )
    assert r.status_code == 200
    assert client.get("/v1/intersections/xisi").json()["plan"]["cycle_s"] == 90.0


def test_no_token_configured_refuses_writes(tmp_path):
    with TestClient(create_app(Settings(state_dir=tmp_path, token=None))) as c:
        for method, path in WRITES[:3]:
            r = send(c, method, path, PLAN, {"Authorization": "Bearer anything"})
            assert r.status_code == 403 and "no token" in r.json()["detail"]
        assert c.get("/healthz").json()["writes_enabled"] is False


def test_token_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENWAVE_TOKEN", "env-token")
    with TestClient(create_app(Settings(state_dir=tmp_path))) as c:
        r = c.put(
            "/v1/intersections/xisi/plan", json=PLAN, headers={"Authorization": "Bearer env-token"}
        )
        assert r.status_code == 200
