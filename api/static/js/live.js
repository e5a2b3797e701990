// Live mode: the browser's geolocation → advice.  Fixes go over the push channel
// (/v1/advisory/stream, stream.js), which also brings new advice by itself when the timing of
// the next signal changes, so that a plan write or a SPaT update reaches the screen at once,
// without waiting for the next fix.  While the socket is down (reconnecting), fixes go by
// HTTP POST /v1/advisory.  One fix is in flight at a time (the newest waiting one wins).
// Browsers give positions only to secure pages (HTTPS, or localhost and 127.0.0.1 over plain
// HTTP).

import { ApiError, describeError, postAdvisory } from "./api.js";
import { localXY } from "./route.js";
import { AdviceStream } from "./stream.js";

const MIN_MOVE_M = 3; // below this between fixes the direction of travel is noise
const MIN_DT_S = 0.5; // shortest interval to derive a speed from two fixes
const MAX_SPEED_KMH = 250; // the service's limit; faster is a GPS jump, not a car
// A fix unanswered this long on an open socket: the connection is half-dead (a phone changing
// networks keeps a socket "open" for minutes); reconnect, and send the fix by HTTP meanwhile.
const ANSWER_TIMEOUT_MS = 4000;

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

/** The request a pushed advisory answers: the last fix's, dated by the server (the push is for
 * the vehicle dead-reckoned to the server's now, whose time is the answer's `timestamp`). */
function pushedRequest(last) {
  const request = { ...last };
  delete request.timestamp;
  return request;
}

/** Watches the position and asks for advice.  Callbacks: onAdvice({request, response, cause,
 * via}) with cause "fix" (the answer to a fix) or "timing" (pushed: the timing of the next
 * signal changed) and via "ws" or "http"; onStatus(key, vars); onError(error) (ApiError or
 * GeolocationPositionError); onLink(state): "open" (fixes and pushes over the socket),
 * "connecting" or "closed" (fixes over HTTP until the socket is back).  `stream: false` uses
 * HTTP only. */
export class Live {
  constructor({ fields, serverTime, onAdvice, onStatus, onError, onLink, stream = true }) {
    this.builder = new FixBuilder(fields, serverTime);
    this.onAdvice = onAdvice;
    this.onStatus = onStatus;
    this.onError = onError;
    this.onLink = onLink ?? (() => {});
    this.useStream = stream;
    this.stream = null;
    this.watchId = null;
    this.busy = false;
    this.pending = null;
    this.inflight = null; // {seq, request}: the fix sent on the socket, not answered yet
    this.answerTimer = null;
    this.last = null; // the last fix answered
    this.lastSeq = null; // its number on the socket, null when HTTP answered it
    this.sent = { ws: 0, http: 0 }; // fixes sent each way
  }

  get running() {
    return this.watchId !== null;
  }

  start() {
    if (!window.isSecureContext) return this.onStatus("live_insecure");
    if (!("geolocation" in navigator)) return this.onStatus("live_unsupported");
    this.onStatus("live_waiting");
    if (this.useStream && "WebSocket" in window) {
      this.stream = new AdviceStream({
        onFrame: (frame) => this.frame(frame),
        onState: (state) => this.linkState(state),
      });
      this.stream.open();
    } else {
      this.onLink("closed");
    }
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
    this.inflight = null;
    clearTimeout(this.answerTimer);
    this.stream?.close();
    this.stream = null;
  }

  position(pos) {
    const out = this.builder.fix(pos);
    if (out.reason === "heading") return this.onStatus("live_heading");
    if (out.reason === "jump") return this.onStatus("gps_jump");
    this.pending = out.body;
    this.send();
  }

  send() {
    if (this.busy || !this.pending || !this.running) return;
    const request = this.pending;
    this.pending = null;
    this.busy = true;
    const seq = this.stream ? this.stream.send(request) : null;
    if (seq === null) {
      this.post(request);
      return;
    }
    this.sent.ws += 1;
    this.inflight = { seq, request };
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => this.stream?.restart(), ANSWER_TIMEOUT_MS);
  }

  async post(request) {
    this.sent.http += 1;
    try {
      const response = await postAdvisory(request);
      if (this.running) {
        this.last = request;
        this.lastSeq = null;
        this.onAdvice({ request, response, cause: "fix", via: "http" });
      }
    } catch (err) {
      if (this.running) this.onError(err);
    } finally {
      this.busy = false;
    }
    this.send();
  }

  /** A frame of the stream: the answer to the fix in flight, or a push. */
  frame(frame) {
    if (!this.running) return;
    if (frame.type === "advisory" && frame.cause === "timing") {
      // Pushed for the server's last fix of this connection: shown when that is the last fix
      // answered (not one answered by HTTP since, nor an older one overtaken meanwhile).
      if (this.last && frame.seq === this.lastSeq) {
        const request = pushedRequest(this.last);
        this.onAdvice({ request, response: frame.advisory, cause: "timing", via: "ws" });
      }
      return;
    }
    const inflight = this.inflight;
    if (!inflight || frame.seq !== inflight.seq) return; // answers a fix of a dropped socket
    clearTimeout(this.answerTimer);
    this.inflight = null;
    this.busy = false;
    if (frame.type === "advisory") {
      this.last = inflight.request;
      this.lastSeq = inflight.seq;
      this.onAdvice({ request: inflight.request, response: frame.advisory, cause: "fix", via: "ws" });
    } else if (frame.type === "error") {
      this.onError(new ApiError(frame.status, describeError(frame, `error ${frame.status}`)));
    }
    this.send();
  }

  linkState(state) {
    if (state !== "open") this.lastSeq = null; // a new connection numbers its fixes afresh
    if (state !== "open" && this.inflight) {
      // The socket went away with a fix unanswered: that fix goes by HTTP (unless a newer one
      // is already waiting).
      const { request } = this.inflight;
      this.inflight = null;
      clearTimeout(this.answerTimer);
      this.busy = false;
      this.pending = this.pending ?? request;
      this.send();
    }
    this.onLink(state);
  }
}
