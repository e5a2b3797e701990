"""What a phone sends besides the fix: accuracy_m (map matching), altitude_m,
bearing_accuracy_deg, vehicle_id; anything else is a 422 naming the allowed fields."""

import math

import pytest

from greenwave.api.advisor import ROAD_MARGIN_M

ALLOWED = (
    "lat, lon, heading_deg, link_id, offset_m, speed_kmh, timestamp, vehicle_id, turn, "
    "accuracy_m, altitude_m, bearing_accuracy_deg"
)


def fix_beside(svc, link_id, offset_m, lateral_m, **extra):
    """A GPS fix ``lateral_m`` to the left of the link (heading along it)."""
    net = svc.world.network
    lon, lat, brg = net.point_at(net.link_index[link_id], offset_m)
    left = math.radians(brg - 90.0)
    lon2, lat2 = net.projection.offset_lonlat(
        lon, lat, lateral_m * math.sin(left), lateral_m * math.cos(left)
    )
    return {
        "lat": float(lat2),
        "lon": float(lon2),
        "heading_deg": brg % 360.0,
        "speed_kmh": 40.0,
        **extra,
    }


def test_phone_fields_are_accepted(client, svc):
    body = fix_beside(
        svc,
        "renmin_f2",
        200.0,
        3.0,
        accuracy_m=8.5,
        altitude_m=61.0,
        bearing_accuracy_deg=12.0,
        vehicle_id="phone-3",
    )
    r = client.post("/v1/advisory", json=body)
    assert r.status_code == 200
    a = r.json()
    assert a["link_id"] == "renmin_f2" and a["vehicle_id"] == "phone-3"
    # null means unknown, as the W3C Geolocation API reports a missing altitude.
    r = client.post(
        "/v1/advisory",
        json={**body, "altitude_m": None, "accuracy_m": None, "bearing_accuracy_deg": None},
    )
    assert r.status_code == 200 and r.json()["link_id"] == "renmin_f2"


@pytest.mark.parametrize(
    "field,value",
    [
        ("accuracy_m", -1.0),
        ("accuracy_m", 10_001.0),
        ("accuracy_m", "5"),
        ("altitude_m", 20_000.0),
        ("altitude_m", True),
        ("bearing_accuracy_deg", 181.0),
        ("bearing_accuracy_deg", -0.5),
    ],
)
def test_phone_fields_are_validated(client, svc, field, value):
    body = fix_beside(svc, "renmin_f2", 200.0, 0.0, **{field: value})
    r = client.post("/v1/advisory", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", field]


@pytest.mark.parametrize("extra", ["colour", "accuracy", "speed", "altitudeAccuracy"])
def test_unknown_fields_name_the_allowed_ones(client, svc, extra):
    body = fix_beside(svc, "renmin_f2", 200.0, 0.0, **{extra: 1})
    r = client.post("/v1/advisory", json=body)
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"] == ["body", extra] and d["type"] == "extra_forbidden"
    assert d["msg"] == f"unknown field '{extra}'; allowed: {ALLOWED}"
    # The same in a batch, at the vehicle's path.
    r = client.post("/v1/advisories/batch", json={"vehicles": [body]})
    d = r.json()["detail"][0]
    assert d["loc"] == ["body", "vehicles", 0, extra] and ALLOWED in d["msg"]


def test_unknown_fields_of_writes_name_the_allowed_ones(client):
    spat = {
        "groups": [
            {
                "signal_group": "EW",
                "events": [{"state": "red", "min_end_in_s": 5, "max_end_in_s": 8, "colour": 1}],
            }
        ]
    }
    r = client.post(
        "/v1/intersections/xisi/spat", json=spat, headers={"Authorization": "Bearer t0ken"}
    )
    d = r.json()["detail"][0]
    assert d["loc"] == ["body", "groups", 0, "events", 0, "colour"]
    assert d["msg"] == (
        "unknown field 'colour'; allowed: state, min_end, likely_end, max_end, min_end_in_s, "
        "likely_end_in_s, max_end_in_s"
    )


@pytest.mark.parametrize(
    "lateral_m,accuracy_m,matched,radius_m",
    [
        (30.0, None, True, 40),  # within the match radius: accuracy not needed
        (55.0, None, False, 40),
        (55.0, 20.0, False, 40),  # 20 + 10 m is less than the match radius
        (55.0, 50.0, True, 60),  # the radius grows with the reported accuracy ...
        (95.0, 5000.0, True, 100),
        (110.0, 5000.0, False, 100),  # ... up to max_match_radius_m
    ],
)
def test_accuracy_widens_the_search_radius_within_bounds(
    client, svc, lateral_m, accuracy_m, matched, radius_m
):
    assert svc.advisor.max_radius_m == svc.settings.max_match_radius_m == 100.0
    body = fix_beside(svc, "renmin_f3", 250.0, lateral_m)
    if accuracy_m is not None:
        body["accuracy_m"] = accuracy_m
        assert min(max(accuracy_m + ROAD_MARGIN_M, 40), 100) == radius_m
    a = client.post("/v1/advisory", json=body).json()
    if matched:
        assert a["link_id"] == "renmin_f3" and a["status"] != "off_network"
        assert a["lateral_m"] == pytest.approx(lateral_m, abs=0.5)
    else:
        assert a["status"] == "off_network" and a["link_id"] is None
        assert a["reason"] == f"no road within {radius_m} m of the position"
    # The batch matches the same way.
    b = client.post("/v1/advisories/batch", json={"vehicles": [body, body]}).json()
    assert [x["link_id"] for x in b["advisories"]] == [a["link_id"]] * 2


def test_accuracy_does_not_change_the_direction_rule(client, svc):
    body = fix_beside(svc, "renmin_f3", 250.0, 50.0, accuracy_m=60.0)
    body["heading_deg"] = (body["heading_deg"] + 180.0) % 360.0  # westbound: renmin_b* links
    a = client.post("/v1/advisory", json=body).json()
    assert a["link_id"].startswith("renmin_b")  # never the eastbound link it is beside
