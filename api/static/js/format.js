// Numbers as the driver sees them, rounded as the service's spoken messages round them
// (greenwave/messages.py): bands inwards to whole km/h, so every speed shown is inside the band;
// distances to 5 m below 100 m, 10 m below 1 km, 50 m beyond.

const ROUND_TOL_KMH = 1e-9; // float noise of a m/s → km/h round trip (messages.py)

/** numpy's round-half-to-even, as messages.py rounds distances. */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A band {min_kmh, max_kmh} rounded inwards → [lo, hi], or null when no whole km/h is in it. */
export function roundBand(band) {
  if (!band || !Number.isFinite(band.min_kmh) || !Number.isFinite(band.max_kmh)) return null;
  const lo = Math.ceil(band.min_kmh - ROUND_TOL_KMH);
  const hi = Math.floor(band.max_kmh + ROUND_TOL_KMH);
  return lo <= hi ? [lo, hi] : null;
}

export function bandText(band) {
  const r = roundBand(band);
  return r ? `${r[0]}–${r[1]}` : "—";
}

export function roundDistance(distM) {
  if (!Number.isFinite(distM)) return null;
  const step = distM < 100 ? 5 : distM < 1000 ? 10 : 50;
  return step * roundHalfEven(distM / step);
}

/** ISO 8601 UTC with milliseconds, the service's own format. */
export function iso(tS) {
  return new Date(Math.round(tS * 1000)).toISOString();
}

/** Seconds since the epoch of an ISO 8601 text with a UTC offset, or NaN. */
export function parseIso(text) {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/.test(text)) {
    return NaN;
  }
  return Date.parse(text.replace(" ", "T")) / 1000;
}

/** hh:mm:ss of an absolute time tS (s) in the local time of a place `offsetS` seconds east of
 * UTC (the scenario's, from /healthz `clock.utc_offset_s`); without an offset, in the browser's
 * time zone. */
export function clockText(tS, offsetS = null) {
  if (!Number.isFinite(offsetS)) {
    return new Date(tS * 1000).toLocaleTimeString("en-GB", { hour12: false });
  }
  return new Date(Math.floor(tS + offsetS) * 1000).toISOString().slice(11, 19);
}

/** An offset from UTC (s) as a label: "UTC+8", "UTC+5:30", "UTC−3", "UTC". */
export function offsetText(offsetS) {
  if (!Number.isFinite(offsetS) || offsetS === 0) return "UTC";
  const m = Math.round(Math.abs(offsetS) / 60);
  const hm = m % 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}` : `${m / 60}`;
  return `UTC${offsetS > 0 ? "+" : "\u2212"}${hm}`;
}
