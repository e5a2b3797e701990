"""Intersections: list, detail, green windows, plan and SPaT writes."""

import time
from datetime import datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from greenwave.api.main import create_app
from greenwave.api.settings import Settings

AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture()
def client(tmp_path):
    with TestClient(create_app(Settings(state_dir=tmp_path, token="s3cret"))) as c:
        yield c


def ts(t):
    return datetime.fromisoformat(t).timestamp()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_list(client):
    body = client.get("/v1/intersections").json()
    assert body["count"] == 8 and len(body["intersections"]) == 8
    first = body["intersections"][0]
    assert first["id"] == "xiliu" and first["signal_groups"] == ["EW", "NS"]
    assert first["approaches"] == ["renmin_f0", "renmin_b7", "renmin_n0", "renmin_s0"]
    assert first["plan_source"] == "scenario" and first["cycle_s"] == 120.0


def test_detail_and_404(client):
    d = client.get("/v1/intersections/xisi").json()
    assert d["plan"]["cycle_s"] == 120.0 and [g["signal_group"] for g in d["groups"]] == [
        "EW",
        "NS",
    ]
    ew, ns = d["groups"]
    assert {ew["state"], ns["state"]} <= {"red", "amber", "green"}
    assert "green" not in (ew["state"], ns["state"]) or ew["state"] != ns["state"]
    assert ew["source"] == "plan" and set(ew["approaches"]) == {"renmin_f2", "renmin_b5"}
    assert client.get("/v1/intersections/nowhere").status_code == 404
    assert client.get("/v1/intersections/nowhere/windows").status_code == 404
    assert client.get("/v1/intersections/xisi", params={"at": "soon"}).status_code == 422


def test_windows(client):
    t0 = float(int(time.time()))
    r = client.get("/v1/intersections/xisi/windows", params={"start": iso(t0), "horizon_s": 600})
    body = r.json()
    assert body["intersection_id"] == "xisi" and body["horizon_s"] == 600
    for grp in body["signal_groups"]:
        wins = [(ts(w["start"]), ts(w["end"])) for w in grp["green"]]
        assert 4 <= len(wins) <= 6  # 120 s cycle, one green each
        assert all(s < e for s, e in wins)
        assert all(wins[i][1] <= wins[i + 1][0] for i in range(len(wins) - 1))
        assert wins[0][1] > t0 and wins[-1][0] < t0 + 600
    # Same windows as the core.
    svc = client.app.state.service
    g = svc.world.timing.plans.group_index("xisi", "EW")
    ws, we = svc.store.timing.green_windows(np.array([g]), np.array([t0]), 2)
    first = body["signal_groups"][0]["green"][0]
    assert ts(first["start"]) == pytest.approx(ws[0, 0], abs=1e-3)
    assert ts(first["end"]) == pytest.approx(we[0, 0], abs=1e-3)


@pytest.mark.parametrize(
    "params",
    [
        {"horizon_s": 0},
        {"horizon_s": 7200},
        {"horizon_s": "x"},
        {"horizon_s": "nan"},
        {"start": "2026-13-01T00:00:00Z"},
        {"start": "1990-01-01T00:00:00Z"},
    ],
)
def test_windows_bad_params(client, params):
    assert client.get("/v1/intersections/xisi/windows", params=params).status_code == 422


PLAN = {
    "cycle_s": 90.0,
    "offset_s": 10.0,
    "groups": [
        {
            "id": "EW",
            "greens_s": [[0.0, 45.0]],
            "amber_s": 3.0,
            "all_red_s": 2.0,
            "conflicts": ["NS"],
        },
        {"id": "NS", "greens_s": [[50.0, 85.0]], "amber_s": 3.0, "all_red_s": 2.0},
    ],
}


def test_put_plan_changes_advice_and_windows(client):
    r = client.put("/v1/intersections/xisi/plan", json=PLAN, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["persisted"] is True
    d = client.get("/v1/intersections/xisi").json()
    assert d["plan"]["cycle_s"] == 90.0 and d["plan_source"] == "api" and d["plan_updated_at"]
    wins = client.get("/v1/intersections/xisi/windows", params={"horizon_s": 400}).json()[
        "signal_groups"
    ][0]["green"]
    assert all(ts(w["end"]) - ts(w["start"]) == pytest.approx(45.0) for w in wins[1:])
    # Back to the scenario's plan.
    assert client.delete("/v1/intersections/xisi/plan", headers=AUTH).status_code == 200
    assert client.get("/v1/intersections/xisi").json()["plan"]["cycle_s"] == 120.0


@pytest.mark.parametrize(
    "plan,loc",
    [
        ({**PLAN, "cycle_s": -5}, ["body", "cycle_s"]),
        ({**PLAN, "cycle_s": float("nan")}, ["body", "cycle_s"]),
        ({**PLAN, "groups": [PLAN["groups"][1], PLAN["groups"][0]]}, ["body", "groups"]),
        (
            {
                **PLAN,
                "groups": [{**PLAN["groups"][0], "greens_s": [[0.0, 60.0]]}, PLAN["groups"][1]],
            },
            ["body"],
        ),  # conflicting greens overlap
        ({**PLAN, "extra": 1}, ["body", "extra"]),
    ],
)
def test_put_invalid_plan(client, plan, loc):
    import json

    r = client.put(
        "/v1/intersections/xisi/plan",
        content=json.dumps(plan),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][: len(loc)] == loc
    assert client.get("/v1/intersections/xisi").json()["plan_source"] == "scenario"


def test_put_plan_unknown_intersection(client):
    assert client.put("/v1/intersections/nowhere/plan", json=PLAN, headers=AUTH).status_code == 404


def test_spat_overrides_the_plan(client):
    now = time.time()
    body = {
        "groups": [
            {
                "signal_group": "EW",
                "timestamp": iso(now),
                "events": [
                    {
                        "state": "red",
                        "min_end_in_s": 20.0,
                        "likely_end_in_s": 22.0,
                        "max_end_in_s": 25.0,
                    },
                    {"state": "green", "min_end_in_s": 60.0, "max_end_in_s": 70.0},
                ],
            }
        ]
    }
    r = client.post("/v1/intersections/xier/spat", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    d = client.get("/v1/intersections/xier", params={"at": iso(now + 1)}).json()
    ew = d["groups"][0]
    assert ew["source"] == "spat" and ew["state"] == "red"
    assert ew["time_to_change_min_s"] < ew["time_to_change_s"] < ew["time_to_change_max_s"]
    w = client.get(
        "/v1/intersections/xier/windows", params={"start": iso(now + 1), "horizon_s": 60}
    ).json()
    first = w["signal_groups"][0]["green"][0]
    t_now = datetime.fromisoformat(iso(now)).timestamp()
    # Conservative window: latest possible start, earliest possible end.
    assert ts(first["start"]) == pytest.approx(t_now + 25.0, abs=1e-3)
    assert ts(first["end"]) == pytest.approx(t_now + 60.0, abs=1e-3)


@pytest.mark.parametrize(
    "groups,loc",
    [
        (
            [
                {
                    "signal_group": "XX",
                    "events": [{"state": "red", "min_end_in_s": 5, "max_end_in_s": 6}],
                }
            ],
            ["body", "groups", 0],
        ),
        (
            [
                {
                    "signal_group": "EW",
                    "events": [{"state": "red", "min_end_in_s": 9, "max_end_in_s": 6}],
                }
            ],
            ["body", "groups", 0],
        ),
        (
            [
                {
                    "signal_group": "EW",
                    "events": [
                        {"state": "red", "min_end_in_s": 9, "max_end_in_s": 10},
                        {"state": "red", "min_end_in_s": 19, "max_end_in_s": 20},
                    ],
                }
            ],
            ["body", "groups", 0],
        ),
        (
            [
                {
                    "signal_group": "EW",
                    "events": [{"state": "blue", "min_end_in_s": 9, "max_end_in_s": 10}],
                }
            ],
            ["body", "groups", 0],
        ),
        (
            [{"signal_group": "EW", "events": [{"state": "red", "max_end_in_s": 10}]}],
            ["body", "groups", 0],
        ),
        (
            [
                {
                    "signal_group": "EW",
                    "timestamp": "2000-01-01T00:00:00Z",
                    "events": [{"state": "red", "min_end_in_s": 1, "max_end_in_s": 2}],
                }
            ],
            ["body", "groups", 0, "timestamp"],
        ),
        ([], ["body", "groups"]),
    ],
)
def test_spat_invalid(client, groups, loc):
    r = client.post("/v1/intersections/xier/spat", json={"groups": groups}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][: len(loc)] == loc
