// Live mode: the browser's geolocation → POST /v1/advisory, one request in flight at a time
// (the newest fix wins).  Browsers give positions only to secure pages (HTTPS, or localhost and
// 127.0.0.1 over plain HTTP).

import { postAdvisory } from "./api.js";
import { localXY } from "./route.js";

const MIN_MOVE_M = 3; // below this between fixes the direction of travel is noise
const MIN_DT_S = 0.5; // shortest interval to derive a speed from two fixes
const MAX_SPEED_KMH = 250; // the service's limit; faster is a GPS jump, not a car

function bearing(from, to) {
  const [dx, dy] = localXY(to.lon, to.lat, from.lon, from.lat);
  return { distM: Math.hypot(dx, dy), deg: ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360 };
}

/** Whether a schema property exists and allows `value` (a field the server would refuse is left
 * out rather than turning every fix into a 422). */
function accepts(prop, value) {
  if (!prop || !Number.isFinite(value)) return false;
  if (prop.minimum !== undefined && value < prop.minimum) return false;
  if (prop.maximum !== undefined && value > prop.maximum) return false;
  if (prop.exclusiveMinimum !== undefined && value <= prop.exclusiveMinimum) return false;
  return !(prop.exclusiveMaximum !== undefined && value >= prop.exclusiveMaximum);
}

/** Turns positions into advisory requests.  fix() returns a request body, or a reason
 * ("heading" | "jump") why this position cannot be sent yet. */
export class FixBuilder {
  constructor(fields, serverTime = false) {
    this.serverTime = serverTime; // true: no timestamp (the server dates the fix)
    this.fields = fields; // AdvisoryRequest's schema properties: optional ones are sent only then
    this.prev = null;
    this.headingDeg = null;
    this.speedKmh = null;
  }

  fix(pos) {
    const c = pos.coords;
    const here = { lat: c.latitude, lon: c.longitude, tS: pos.timestamp / 1000 };
    const gpsSpeed = Number.isFinite(c.speed) && c.speed >= 0 ? c.speed * 3.6 : null;
    // A phone reports a heading only while moving; standing still it is NaN or stale.
    const gpsHeading = Number.isFinite(c.heading) && (gpsSpeed ?? 0) > 2 ? c.heading % 360 : null;
    let speedKmh = gpsSpeed;
    if (this.prev) {
      const b = bearing(this.prev, here);
      const dt = here.tS - this.prev.tS;
      if (speedKmh === null && dt >= MIN_DT_S) speedKmh = (b.distM / dt) * 3.6;
      if (speedKmh !== null && speedKmh > MAX_SPEED_KMH) return { reason: "jump" };
      if (b.distM >= MIN_MOVE_M) {
        if (gpsHeading === null) this.headingDeg = b.deg;
        this.prev = here;
      }
    } else {
      this.prev = here;
    }
    if (gpsHeading !== null) this.headingDeg = gpsHeading;
    if (this.headingDeg === null) return { reason: "heading" };
    speedKmh = speedKmh ?? this.speedKmh ?? 0;
    this.speedKmh = speedKmh;
    const body = {
      lat: here.lat,
      lon: here.lon,
      heading_deg: Math.round(this.headingDeg * 10) / 10 % 360,
      speed_kmh: Math.round(speedKmh * 10) / 10,
      timestamp: new Date(pos.timestamp).toISOString(),
      vehicle_id: "live",
    };
    if (this.serverTime) delete body.timestamp;
    // Optional fields newer servers accept (GPS accuracy feeds their map matching).
    for (const [name, value] of [
      ["accuracy_m", c.accuracy],
      ["altitude_m", c.altitude],
    ]) {
      if (accepts(this.fields[name], value)) body[name] = value;
    }
    return { body };
  }
}

/** Watches the position and asks for advice.  Callbacks: onAdvice({request, response}),
 * onStatus(key, vars), onError(error) (ApiError or GeolocationPositionError). */
export class Live {
  constructor({ fields, serverTime, onAdvice, onStatus, onError }) {
    this.builder = new FixBuilder(fields, serverTime);
    this.onAdvice = onAdvice;
    this.onStatus = onStatus;
    this.onError = onError;
    this.watchId = null;
    this.busy = false;
    this.pending = null;
  }

  start() {
    if (!window.isSecureContext) return this.onStatus("live_insecure");
    if (!("geolocation" in navigator)) return this.onStatus("live_unsupported");
    this.onStatus("live_waiting");
    this.watchId = navigator.geolocation.watchPosition(
      (pos) => this.position(pos),
      (err) => this.onError(err),
      { enableHighAccuracy: true, maximumAge: 0, timeout: 15000 },
    );
  }

  stop() {
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
    this.pending = null;
  }

  position(pos) {
    const out = this.builder.fix(pos);
    if (out.reason === "heading") return this.onStatus("live_heading");
    if (out.reason === "jump") return this.onStatus("gps_jump");
    this.pending = out.body;
    this.send();
  }

  async send() {
    if (this.busy || !this.pending) return;
    const request = this.pending;
    this.pending = null;
    this.busy = true;
    try {
      const response = await postAdvisory(request);
      if (this.watchId !== null) this.onAdvice({ request, response });
    } catch (err) {
      this.onError(err);
    } finally {
      this.busy = false;
    }
    if (this.watchId !== null) this.send();
  }
}
