"""``GET /v1/network``: the network as GeoJSON, built once and served with an ETag."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from starlette.responses import Response

from greenwave.network import Network
from greenwave.spat import SignalTiming

from ..deps import ServiceDep
from ..responses import JSONBytes, dumps
from ..schemas import FeatureCollection

router = APIRouter(prefix="/v1", tags=["network"])


def network_geojson(net: Network, timing: SignalTiming, name: str) -> tuple[bytes, str]:
    """FeatureCollection of links (LineString) and intersections (Point) and its ETag."""
    keys = timing.plans.group_keys
    feats = []
    for k, lid in enumerate(net.link_ids):
        inter = int(net.link_intersection[k])
        grp = int(net.link_group[k])
        nxt = int(net.link_next[k])
        feats.append(
            {
                "type": "Feature",
                "id": lid,
                "geometry": {"type": "LineString", "coordinates": net.link_lonlat[k].tolist()},
                "properties": {
                    "kind": "link",
                    "id": lid,
                    "speed_limit_kmh": round(float(net.link_speed_limit_ms[k]) * 3.6, 6),
                    "intersection_id": net.intersection_ids[inter] if inter >= 0 else None,
                    "signal_group": keys[grp][1] if grp >= 0 else None,
                    "next_link_id": net.link_ids[nxt] if nxt >= 0 else None,
                    "length_m": float(net.link_length_m[k]),
                    "lanes": int(net.link_lanes[k]),
                },
            }
        )
    for i, iid in enumerate(net.intersection_ids):
        feats.append(
            {
                "type": "Feature",
                "id": iid,
                "geometry": {"type": "Point", "coordinates": net.intersection_lonlat[i].tolist()},
                "properties": {
                    "kind": "intersection",
                    "id": iid,
                    "name": net.intersection_names[i],
                },
            }
        )
    body = dumps({"type": "FeatureCollection", "name": name, "features": feats})
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get(
    "/network",
    response_model=FeatureCollection,
    summary="The road network as GeoJSON",
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
)
def network(svc: ServiceDep, request: Request):
    """Links as LineStrings (``id``, ``speed_limit_kmh``, ``intersection_id``,
    ``signal_group``, ``next_link_id``, ``length_m``, ``lanes``) and intersections as Points
    (``id``, ``name``); coordinates are ``[lon, lat]`` (WGS84)."""
    headers = {"ETag": svc.network_etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == svc.network_etag:
        return Response(status_code=304, headers=headers)
    return JSONBytes(svc.network_json, headers=headers)
