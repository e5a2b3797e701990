// The road network from GET /v1/network (GeoJSON) as links with metric geometry, and the
// routes a replayed car can drive: chains of next_link_id from each entry link.

const EARTH_R_M = 6371008.8; // mean Earth radius (IUGG), as greenwave/geo.py
const DEG = Math.PI / 180;

/** Metres east/north of (lon0, lat0) on a local equirectangular plane (good to < 0.1 % over
 * a city). */
export function localXY(lon, lat, lon0, lat0) {
  return [(lon - lon0) * DEG * EARTH_R_M * Math.cos(lat0 * DEG), (lat - lat0) * DEG * EARTH_R_M];
}

function bearingDeg(dx, dy) {
  return ((Math.atan2(dx, dy) / DEG) % 360 + 360) % 360;
}

const COMPASS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

export function compass(bearing) {
  return COMPASS[Math.round(bearing / 45) % 8];
}

/** Link: id, coords [[lon, lat]...], lengthM (the service's length), speedLimitKmh,
 * intersectionId, next (id or null), and per vertex the distance along the link scaled to
 * lengthM (the service measures offsets along its own length). */
function makeLink(feature) {
  const p = feature.properties;
  const coords = feature.geometry.coordinates;
  const [lon0, lat0] = coords[0];
  const cum = [0];
  for (let i = 1; i < coords.length; i++) {
    const [x1, y1] = localXY(coords[i - 1][0], coords[i - 1][1], lon0, lat0);
    const [x2, y2] = localXY(coords[i][0], coords[i][1], lon0, lat0);
    cum.push(cum[i - 1] + Math.hypot(x2 - x1, y2 - y1));
  }
  const geomM = cum[cum.length - 1] || 1;
  const lengthM = Number.isFinite(p.length_m) && p.length_m > 0 ? p.length_m : geomM;
  return {
    id: p.id,
    coords,
    cum: cum.map((c) => (c * lengthM) / geomM),
    lengthM,
    speedLimitKmh: p.speed_limit_kmh,
    intersectionId: p.intersection_id,
    signalGroup: p.signal_group,
    next: p.next_link_id,
    lanes: p.lanes || 1,
  };
}

/** The position `offsetM` along `link`: {lon, lat, bearing}. */
export function pointAt(link, offsetM) {
  const { coords, cum } = link;
  const s = Math.min(Math.max(offsetM, 0), link.lengthM);
  let i = 1;
  while (i < cum.length - 1 && cum[i] < s) i++;
  const [lonA, latA] = coords[i - 1];
  const [lonB, latB] = coords[i];
  const seg = cum[i] - cum[i - 1] || 1;
  const f = (s - cum[i - 1]) / seg;
  const [dx, dy] = localXY(lonB, latB, lonA, latA);
  return { lon: lonA + f * (lonB - lonA), lat: latA + f * (latB - latA), bearing: bearingDeg(dx, dy) };
}

/** Short labels for intersections along one road: the part of "A/B" names that is not the
 * road they share (the most frequent part); names without "/" stay whole.  Map name → label. */
export function roadLabels(names) {
  const count = new Map();
  for (const n of names) {
    for (const part of new Set(String(n).split("/"))) count.set(part, (count.get(part) ?? 0) + 1);
  }
  let road = null;
  for (const [part, c] of count) if (c > 1 && (road === null || c > count.get(road))) road = part;
  const out = new Map();
  for (const n of names) {
    const rest = String(n).split("/").filter((p) => p !== road);
    out.set(n, rest.length ? rest.join("/") : String(n));
  }
  return out;
}

/** Network model: links (Map id → link), intersections (Map id → {id, name, lon, lat}),
 * bounds, and the routes (longest first). */
export function buildNetwork(geojson) {
  const links = new Map();
  const intersections = new Map();
  let minLon = Infinity;
  let maxLon = -Infinity;
  let minLat = Infinity;
  let maxLat = -Infinity;
  const grow = ([lon, lat]) => {
    minLon = Math.min(minLon, lon);
    maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat);
    maxLat = Math.max(maxLat, lat);
  };
  for (const f of geojson.features) {
    if (f.properties.kind === "link") {
      const link = makeLink(f);
      links.set(link.id, link);
      link.coords.forEach(grow);
    } else if (f.properties.kind === "intersection") {
      const [lon, lat] = f.geometry.coordinates;
      intersections.set(f.properties.id, { id: f.properties.id, name: f.properties.name, lon, lat });
      grow([lon, lat]);
    }
  }
  const net = {
    name: geojson.name || "",
    links,
    intersections,
    bounds: { minLon, maxLon, minLat, maxLat },
  };
  net.routes = buildRoutes(net);
  return net;
}

function buildRoutes(net) {
  const hasPredecessor = new Set();
  for (const link of net.links.values()) if (link.next) hasPredecessor.add(link.next);
  const routes = [];
  for (const link of net.links.values()) {
    if (hasPredecessor.has(link.id)) continue;
    const ids = [];
    const seen = new Set();
    for (let l = link; l && !seen.has(l.id); l = net.links.get(l.next)) {
      seen.add(l.id);
      ids.push(l.id);
    }
    const chain = ids.map((id) => net.links.get(id));
    const signals = chain.filter((l) => l.intersectionId).map((l) => l.intersectionId);
    if (!signals.length) continue;
    const first = chain[0].coords[0];
    const lastLink = chain[chain.length - 1];
    const last = lastLink.coords[lastLink.coords.length - 1];
    const [dx, dy] = localXY(last[0], last[1], first[0], first[1]);
    routes.push({
      id: link.id,
      links: ids,
      signals,
      lengthM: chain.reduce((sum, l) => sum + l.lengthM, 0),
      dir: compass(bearingDeg(dx, dy)),
      first: net.intersections.get(signals[0])?.name ?? signals[0],
      last: net.intersections.get(signals[signals.length - 1])?.name ?? signals[signals.length - 1],
    });
  }
  routes.sort((a, b) => b.signals.length - a.signals.length || a.id.localeCompare(b.id));
  return routes;
}
