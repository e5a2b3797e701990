// Replay: a simulated car drives a route of the scenario at the advised speed, on a clock that
// advances exactly 1 s per advisory request.  Each request carries that clock's time as its
// `timestamp`, so the advice is for the car's own instant however fast the replay runs; ticks
// are scheduled against the start (start + k × period), so the replay does not drift.

import { postAdvisory } from "./api.js";
import { pointAt } from "./route.js";

export const ACCEL_MS2 = 1.5; // speeding up: the simulator's IDM a (README, "Parameters")
export const DECEL_MS2 = 2.0; // comfortable slowing down, and the stopping envelope at a red
export const AMBER_STOP_MS2 = 3.0; // on amber, stop if possible at this rate (ITE rule, sim/)
export const MAX_DECEL_MS2 = 6.0; // the hardest the replayed car ever brakes
const SUBSTEPS = 10; // integration steps per 1 s tick
const STOP_GAP_M = 1.0; // where the car stops before the stop line
const NEXT_STATE = { green: "amber", amber: "red", red: "green" };

/** The signal state `tauS` seconds after the advisory's instant, conservatively: a green ends
 * at its earliest announced change, a red at its latest. */
function stateAt(signal, tauS) {
  const change = signal.state === "red" ? signal.time_to_change_max_s : signal.time_to_change_min_s;
  return tauS < change ? signal.state : NEXT_STATE[signal.state];
}

/** The car: position on its route (link index, offset along the link in m), speed (m/s). */
export class Car {
  constructor(net, route) {
    this.net = net;
    this.route = route;
    this.index = 0;
    this.offsetM = 0;
    this.speedMs = (0.7 * this.link.speedLimitKmh) / 3.6;
    this.arrived = false;
    this.committedTo = null; // intersection the car is committed to cross on amber
  }

  get link() {
    return this.net.links.get(this.route.links[this.index]);
  }

  /** Distance to the stop line at the end of the current link (Infinity: none there). */
  get toStopLineM() {
    return this.link.intersectionId ? this.link.lengthM - this.offsetM : Infinity;
  }

  get position() {
    return pointAt(this.link, this.offsetM);
  }

  /** The GPS fix a phone in this car would send at absolute time tS (s). */
  fix(tS, timestamp) {
    const p = this.position;
    return {
      lat: round(p.lat, 7),
      lon: round(p.lon, 7),
      heading_deg: round(p.bearing, 1) % 360,
      speed_kmh: round(this.speedMs * 3.6, 1),
      timestamp,
      vehicle_id: "replay",
    };
  }

  /** Drive 1 s following `advice` (null: none), given for link `linkId` at the tick's start. */
  advance(advice, linkId) {
    const dt = 1 / SUBSTEPS;
    for (let i = 0; i < SUBSTEPS && !this.arrived; i++) {
      const valid = advice && advice.link_id === linkId && this.link.id === linkId;
      const target = this.target(valid ? advice : null, i * dt);
      const v = this.speedMs;
      let next = target.speedMs > v
        ? Math.min(target.speedMs, v + ACCEL_MS2 * dt)
        : Math.max(target.speedMs, v - DECEL_MS2 * dt);
      if (target.capMs !== undefined && next > target.capMs) {
        next = Math.max(target.capMs, v - MAX_DECEL_MS2 * dt);
      }
      next = Math.max(next, 0);
      this.move(((v + next) / 2) * dt);
      this.speedMs = next;
    }
  }

  /** Target speed and the stopping cap (m/s) at `tauS` after the advisory's instant. */
  target(advice, tauS) {
    const limitMs = this.link.speedLimitKmh / 3.6;
    const v = this.speedMs;
    if (!advice) return { speedMs: this.link.intersectionId ? Math.min(v, limitMs) : limitMs };
    const d = this.toStopLineM;
    const plan = advice.plan;
    let speedMs = limitMs;
    let capMs;
    if (plan) {
      const hold = plan.hold_kmh / 3.6;
      if (plan.kind === "slow_down") {
        speedMs = d > plan.resume_in_m ? hold : plan.cross_kmh / 3.6;
      } else if (plan.kind === "eco_stop") {
        speedMs = hold;
        if (d <= plan.lift_off_m) {
          // Coast down at the plan's own rate from hold_kmh to rest at stop_at_m.
          const rest = Math.max(plan.stop_at_m, STOP_GAP_M);
          const rate = (hold * hold) / (2 * Math.max(plan.lift_off_m - rest, 1));
          capMs = Math.sqrt(2 * rate * Math.max(d - rest, 0));
        }
      } else {
        speedMs = hold;
      }
    } else if (advice.band) {
      speedMs = Math.min(Math.max(v, advice.band.min_kmh / 3.6), advice.band.max_kmh / 3.6);
    }
    // Never into the junction on red: keep a speed the car can stop from before the line.
    const sig = advice.signal;
    const iid = advice.intersection?.id;
    if (sig && Number.isFinite(d)) {
      const state = stateAt(sig, tauS);
      const room = Math.max(d - STOP_GAP_M, 0);
      if (state === "amber" && this.committedTo !== iid) {
        if (v * v > 2 * AMBER_STOP_MS2 * room) this.committedTo = iid;
        else capMs = Math.min(capMs ?? Infinity, Math.sqrt(2 * AMBER_STOP_MS2 * room));
      } else if (state === "red" && this.committedTo !== iid) {
        capMs = Math.min(capMs ?? Infinity, Math.sqrt(2 * DECEL_MS2 * room));
      }
    }
    return { speedMs: Math.min(speedMs, limitMs * 1.2), capMs };
  }

  move(distM) {
    this.offsetM += distM;
    while (this.offsetM > this.link.lengthM) {
      if (this.index + 1 >= this.route.links.length) {
        this.offsetM = this.link.lengthM;
        this.arrived = true;
        return;
      }
      this.offsetM -= this.link.lengthM;
      this.index += 1;
      this.committedTo = null;
    }
  }
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The replay's clock and loop.  Callbacks: onTick({request, response, tS, car, dueMs, ranMs})
 * (dueMs: when the tick was due, ranMs: when it ran, both performance.now() ms), onError(error,
 * request) → true to stop, onEnd(car).
 *
 * Tick k is due at start + k × period on the page's monotonic clock, whatever the requests
 * before it took: a late tick makes the next one wait less (or not at all), so lateness never
 * accumulates as it would with a chain of setTimeout(period) after each answer. */
export class Replay {
  constructor({ net, route, startS, rate, onTick, onError, onEnd, iso }) {
    this.car = new Car(net, route);
    this.tS = startS;
    this.periodMs = 1000 / rate;
    this.onTick = onTick;
    this.onError = onError;
    this.onEnd = onEnd;
    this.iso = iso;
    this.running = false;
    this.ticks = 0;
    this.timer = null;
  }

  start() {
    this.running = true;
    this.startedAt = performance.now();
    this.tick();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  async tick() {
    if (!this.running) return;
    const ranMs = performance.now();
    const dueMs = this.startedAt + this.ticks * this.periodMs;
    const car = this.car;
    const request = car.fix(this.tS, this.iso(this.tS));
    const linkId = car.link.id;
    let response = null;
    try {
      response = await postAdvisory(request);
    } catch (err) {
      if (this.onError(err, request)) {
        this.stop();
        return;
      }
    }
    if (!this.running) return;
    if (response) this.onTick({ request, response, tS: this.tS, car, dueMs, ranMs });
    car.advance(response, linkId);
    this.tS += 1;
    this.ticks += 1;
    if (car.arrived) {
      this.stop();
      this.onEnd(car);
      return;
    }
    const due = this.startedAt + this.ticks * this.periodMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - performance.now()));
  }
}
