// The green wave as a time–space diagram of the road ahead: distance along the route across,
// time up (from 30 s ago to 150 s ahead).  Each stop line is a red column with its green windows
// (GET /v1/intersections/{id}/windows, the conservative windows the advice uses); from the car,
// the band is the wedge of speeds held from now that reach the next stop line inside green, and
// the longest multi-intersection option continues it.  Lines are constant speeds: the advice
// also allows for the change of speed, so the wedge is a picture, not the computation.

import { getWindows } from "./api.js";
import { roadLabels } from "./route.js";

const PAST_S = 30;
const AHEAD_S = 150;
const FETCH_S = 300; // horizon of one windows request
const REFETCH_S = 60; // ask again after this much of the car's time (live SPaT changes plans)
const WHOLE_ROUTE_M = 5000; // longer routes show this much around the car
const COLORS = {
  red: "#5b1f24",
  green: "#22c55e",
  band: "rgba(34, 197, 94, 0.28)",
  option: "rgba(61, 139, 253, 0.22)",
  car: "#ffffff",
  grid: "#22303d",
  text: "#93a4b5",
};

/** Stop lines of a chain of links: [{id, name, group, distM}] at each link's end. */
function stopLines(net, linkIds) {
  const out = [];
  let dist = 0;
  for (const id of linkIds) {
    const link = net.links.get(id);
    dist += link.lengthM;
    if (link.intersectionId) {
      const node = net.intersections.get(link.intersectionId);
      out.push({ id: link.intersectionId, name: node?.name ?? link.intersectionId,
        group: link.signalGroup, distM: dist });
    }
  }
  return out;
}

export class TimeSpace {
  constructor(canvas, iso) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.iso = iso;
    this.key = null;
    this.lines = [];
    this.windows = new Map(); // intersection id → [[startS, endS], ...]
    this.known = [0, 0]; // the span the windows were asked for (s)
    this.earliestS = -Infinity; // earliest time the server accepts (its clock's window)
    this.fetchedAt = -Infinity;
    this.trace = []; // [tS, distM] of the car
    this.state = null;
    this.frame = 0;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Use the chain of links `linkIds` (from the route start, or from the matched link). */
  setRoute(net, linkIds) {
    const key = linkIds.join(",");
    if (key === this.key) return;
    this.key = key;
    this.net = net;
    this.lines = stopLines(net, linkIds);
    this.labels = roadLabels(this.lines.map((l) => l.name));
    this.routeM = linkIds.reduce((s, id) => s + net.links.get(id).lengthM, 0);
    this.windows = new Map();
    this.fetchedAt = -Infinity;
    this.trace = [];
    this.state = null;
    this.redraw();
  }

  clear() {
    this.key = null;
    this.lines = [];
    this.state = null;
    this.trace = [];
    this.redraw();
  }

  /** The car at `distM` along the chain at time `tS`, with the advice `response`. */
  update(tS, distM, response, speedKmh) {
    if (this.trace.length && tS < this.trace[this.trace.length - 1][0]) this.trace = [];
    this.trace.push([tS, distM]);
    while (this.trace.length && this.trace[0][0] < tS - PAST_S) this.trace.shift();
    this.state = { tS, distM, response, speedKmh };
    if (tS - this.fetchedAt >= REFETCH_S || tS < this.fetchedAt) this.fetch(tS);
    this.redraw();
  }

  async fetch(tS) {
    this.fetchedAt = tS;
    const key = this.key;
    const from = Math.max(tS - PAST_S, this.earliestS);
    // The stop lines that can come into view before the next request (long routes).
    const dist = this.state?.distM ?? 0;
    const near = this.lines.filter((l) => l.distM > dist - 500 && l.distM < dist + 2 * WHOLE_ROUTE_M);
    const got = await Promise.all(
      near.map((l) => getWindows(l.id, this.iso(from), FETCH_S).then(
        (w) => [l, w],
        () => [l, null], // no windows: the column stays red-less (unknown), the advice holds
      )),
    );
    if (key !== this.key) return;
    this.known = [from, from + FETCH_S];
    for (const [line, w] of got) {
      const group = w?.signal_groups.find((g) => g.signal_group === line.group);
      if (group) {
        this.windows.set(line.id, group.green.map((g) => [Date.parse(g.start) / 1000,
          Date.parse(g.end) / 1000]));
      }
    }
    this.redraw();
  }

  /** Draw at the next frame, once however many updates come before it (fast replays). */
  redraw() {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.draw();
      });
    }
  }

  draw() {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const st = this.state;
    if (!st || !this.lines.length) return;

    // Scales: x metres along the chain, y seconds from now (up).
    let x0 = 0;
    let x1 = this.routeM;
    if (x1 > WHOLE_ROUTE_M) {
      x0 = Math.max(st.distM - 300, 0);
      x1 = x0 + WHOLE_ROUTE_M;
    }
    const left = 44;
    const right = 12;
    const top = 26;
    const bottom = 18;
    const X = (m) => left + ((m - x0) / (x1 - x0)) * (w - left - right);
    const Y = (s) => top + ((AHEAD_S - s) / (AHEAD_S + PAST_S)) * (h - top - bottom);

    ctx.font = "11px system-ui, 'Noto Sans CJK SC', sans-serif";
    ctx.fillStyle = COLORS.text;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    for (let s = -30; s <= AHEAD_S; s += 30) {
      ctx.beginPath();
      ctx.moveTo(left, Y(s));
      ctx.lineTo(w - right, Y(s));
      ctx.stroke();
      ctx.fillText(s === 0 ? "0" : `${s > 0 ? "+" : ""}${s}s`, left - 4, Y(s) + 4);
    }

    // Stop lines: red, with the green windows.
    ctx.textAlign = "center";
    const colW = 7;
    for (const [k, line] of this.lines.entries()) {
      if (line.distM < x0 || line.distM > x1) continue;
      const x = X(line.distM);
      const wins = this.windows.get(line.id);
      // Grey where the timing is not known (not asked for, or no answer), red between greens.
      const span = (a, b, color) => {
        const ya = Y(Math.min(Math.max(b - st.tS, -PAST_S), AHEAD_S));
        const yb = Y(Math.min(Math.max(a - st.tS, -PAST_S), AHEAD_S));
        ctx.fillStyle = color;
        if (yb > ya) ctx.fillRect(x - colW / 2, ya, colW, yb - ya);
      };
      span(st.tS - PAST_S, st.tS + AHEAD_S, COLORS.grid);
      if (wins) {
        span(this.known[0], this.known[1], COLORS.red);
        for (const [a, b] of wins) span(a, b, COLORS.green);
      }
      ctx.fillStyle = COLORS.text;
      ctx.fillText(this.labels.get(line.name), x, k % 2 ? 11 : 22);
    }

    // From the car: the band's wedge to the next stop line, the longest option's beyond it.
    const resp = st.response;
    const ahead = this.lines.filter((l) => l.distM > st.distM + 0.5);
    const wedge = (band, toM, color) => {
      const vLo = band.min_kmh / 3.6;
      const vHi = band.max_kmh / 3.6;
      if (!(vLo > 0 && vHi >= vLo)) return;
      const d = toM - st.distM;
      ctx.beginPath();
      ctx.moveTo(X(st.distM), Y(0));
      ctx.lineTo(X(toM), Y(d / vHi));
      ctx.lineTo(X(toM), Y(d / vLo));
      ctx.closePath();
      ctx.fillStyle = color;
      ctx.fill();
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, w - left - right, h - top - bottom);
    ctx.clip();
    const options = (resp?.options ?? []).filter((o) => o.intersections > 1);
    const longest = options[options.length - 1];
    if (longest && ahead[longest.intersections - 1]) {
      wedge(longest, ahead[longest.intersections - 1].distM, COLORS.option);
    }
    if (resp?.band && ahead[0]) wedge(resp.band, ahead[0].distM, COLORS.band);

    // The car's own trace (the last 30 s) and where its current speed takes it.
    ctx.strokeStyle = COLORS.car;
    ctx.lineWidth = 2;
    ctx.beginPath();
    this.trace.forEach(([t, m], i) => {
      if (i) ctx.lineTo(X(m), Y(t - st.tS));
      else ctx.moveTo(X(m), Y(t - st.tS));
    });
    ctx.stroke();
    const v = st.speedKmh / 3.6;
    if (v > 0.5 && ahead[0]) {
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(X(st.distM), Y(0));
      ctx.lineTo(X(ahead[0].distM), Y((ahead[0].distM - st.distM) / v));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    ctx.fillStyle = COLORS.car;
    ctx.beginPath();
    ctx.arc(X(st.distM), Y(0), 5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** The chain of links from `linkId` on (next_link_id), for the diagram in live mode. */
export function chainFrom(net, linkId, maxLinks = 12) {
  const ids = [];
  for (let l = net.links.get(linkId); l && ids.length < maxLinks && !ids.includes(l.id);
    l = net.links.get(l.next)) {
    ids.push(l.id);
  }
  return ids;
}
