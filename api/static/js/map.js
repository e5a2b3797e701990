// The network on a canvas: a local equirectangular projection of lon/lat (no tiles, works
// offline), links, the chosen route, intersections, the next one's signal colour and the car.

import { localXY, roadLabels } from "./route.js";

const COLORS = {
  road: "#3b4a58",
  route: "#3d8bfd",
  node: "#8a9bab",
  label: "#c9d4de",
  car: "#ffffff",
  red: "#ef4444",
  amber: "#f59e0b",
  green: "#22c55e",
};
const FOLLOW_ABOVE_M = 6000; // on networks larger than this the view follows the car...
const FOLLOW_SPAN_M = 3000; // ...showing this much around it
const MAX_LABELS = 40;

export class MapView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.net = null;
    this.state = {};
    this.frame = 0;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setNetwork(net) {
    this.net = net;
    const b = net.bounds;
    this.lon0 = (b.minLon + b.maxLon) / 2;
    this.lat0 = (b.minLat + b.maxLat) / 2;
    const [x1, y1] = localXY(b.minLon, b.minLat, this.lon0, this.lat0);
    const [x2, y2] = localXY(b.maxLon, b.maxLat, this.lon0, this.lat0);
    this.extent = { x1, y1, x2, y2 };
    this.labels = roadLabels([...net.intersections.values()].map((n) => n.name));
    this.redraw();
  }

  /** route: {links, signals} | null; car: {lon, lat, bearing} | null; next: {id, state}. */
  update(state) {
    this.state = { ...this.state, ...state };
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
    const { canvas, ctx, net } = this;
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
    if (!net) return;

    // View: the whole network, or a window around the car on large networks.
    let { x1, y1, x2, y2 } = this.extent;
    const car = this.state.car;
    if (car && Math.max(x2 - x1, y2 - y1) > FOLLOW_ABOVE_M) {
      const [cx, cy] = localXY(car.lon, car.lat, this.lon0, this.lat0);
      [x1, y1, x2, y2] = [cx - FOLLOW_SPAN_M / 2, cy - FOLLOW_SPAN_M / 2,
        cx + FOLLOW_SPAN_M / 2, cy + FOLLOW_SPAN_M / 2];
    }
    const pad = 28;
    const scale = Math.min((w - 2 * pad) / Math.max(x2 - x1, 1), (h - 2 * pad) / Math.max(y2 - y1, 1));
    const ox = w / 2 - ((x1 + x2) / 2) * scale;
    const oy = h / 2 + ((y1 + y2) / 2) * scale;
    const px = (lon, lat) => {
      const [x, y] = localXY(lon, lat, this.lon0, this.lat0);
      return [ox + x * scale, oy - y * scale];
    };
    const line = (coords) => {
      ctx.beginPath();
      coords.forEach(([lon, lat], i) => {
        const [x, y] = px(lon, lat);
        if (i) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
      });
      ctx.stroke();
    };

    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = COLORS.road;
    for (const link of net.links.values()) {
      ctx.lineWidth = 2 + link.lanes;
      line(link.coords);
    }
    const route = this.state.route;
    if (route) {
      ctx.strokeStyle = COLORS.route;
      ctx.lineWidth = 3;
      for (const id of route.links) line(net.links.get(id).coords);
    }

    const next = this.state.next;
    const labels = net.intersections.size <= MAX_LABELS;
    ctx.font = "12px system-ui, 'Noto Sans CJK SC', sans-serif";
    ctx.textAlign = "center";
    let k = 0;
    for (const node of net.intersections.values()) {
      const [x, y] = px(node.lon, node.lat);
      const isNext = next && next.id === node.id;
      ctx.beginPath();
      ctx.arc(x, y, isNext ? 8 : 4, 0, 2 * Math.PI);
      ctx.fillStyle = isNext ? COLORS[next.state] || COLORS.node : COLORS.node;
      ctx.fill();
      if (isNext) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#0b1218";
        ctx.stroke();
      }
      if (labels || isNext) {
        // Alternate above/below so the names of close intersections do not overlap.
        ctx.fillStyle = isNext ? "#ffffff" : COLORS.label;
        // All labelled: the cross streets; only the next one: its whole name.
        ctx.fillText(labels ? this.labels.get(node.name) : node.name, x, k % 2 ? y + 22 : y - 13);
      }
      k += 1;
    }

    if (car) {
      const [x, y] = px(car.lon, car.lat);
      const a = (car.bearing * Math.PI) / 180;
      ctx.save();
      ctx.translate(x, y);
      ctx.rotate(a);
      ctx.beginPath();
      ctx.moveTo(0, -11);
      ctx.lineTo(7, 8);
      ctx.lineTo(0, 4);
      ctx.lineTo(-7, 8);
      ctx.closePath();
      ctx.fillStyle = COLORS.car;
      ctx.strokeStyle = COLORS.route;
      ctx.lineWidth = 2;
      ctx.fill();
      ctx.stroke();
      ctx.restore();
    }
  }
}
