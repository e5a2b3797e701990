// The advice panel: distance, the band (large), the current speed against it, signal state and
// countdown, the approach plan and the options for the next 1–3 intersections.

import { t } from "./i18n.js";
import { bandText, roundBand, roundDistance } from "./format.js";

const $ = (id) => document.getElementById(id);
const MAX_OPTIONS = 3;

/** The gauge's top speed: the speed limit plus a margin, in steps of 10 km/h. */
function gaugeMax(resp) {
  const top = Math.max(resp?.speed_limit_kmh ?? 60, resp?.band?.max_kmh ?? 0) + 10;
  return Math.ceil(top / 10) * 10;
}

function pct(x, max) {
  return `${Math.min(Math.max(x / max, 0), 1) * 100}%`;
}

function planText(plan, lang) {
  if (!plan) return "";
  const r = (x) => Math.round(x);
  return t(lang, `plan_${plan.kind}`, {
    hold: r(plan.hold_kmh),
    cross: r(plan.cross_kmh),
    resume: r(plan.resume_in_m ?? 0),
    lift: r(plan.lift_off_m ?? 0),
    arr: r(plan.arrival_in_s ?? 0),
  });
}

function renderGauge(resp, speedKmh) {
  const max = gaugeMax(resp);
  const band = resp?.band;
  const el = $("gauge-band");
  if (band) {
    el.hidden = false;
    el.style.left = pct(band.min_kmh, max);
    el.style.width = `calc(${pct(band.max_kmh, max)} - ${pct(band.min_kmh, max)})`;
  } else {
    el.hidden = true;
  }
  const needle = $("gauge-needle");
  needle.hidden = !Number.isFinite(speedKmh);
  if (Number.isFinite(speedKmh)) needle.style.left = pct(speedKmh, max);
  const ticks = $("gauge-ticks");
  const step = max > 100 ? 20 : 10;
  if (ticks.dataset.max !== String(max)) {
    // Positioned through the CSSOM: the page's Content-Security-Policy refuses style="" markup.
    ticks.replaceChildren();
    for (let v = 0; v <= max; v += step) {
      const span = document.createElement("span");
      span.style.left = pct(v, max);
      span.textContent = String(v);
      ticks.append(span);
    }
    ticks.dataset.max = String(max);
  }
}

/** Where the current speed is against the band: "in", "below", "above" or "none". */
export function speedVsBand(speedKmh, band) {
  const r = roundBand(band);
  if (!r || !Number.isFinite(speedKmh)) return "none";
  if (speedKmh < band.min_kmh) return "below";
  if (speedKmh > band.max_kmh) return "above";
  return "in";
}

/** Show `resp` (an Advisory; null: nothing yet) for a car at `speedKmh` in `lang`. */
export function render(resp, speedKmh, lang) {
  const card = $("advice");
  const status = resp?.status ?? "idle";
  document.body.dataset.status = status;
  card.dataset.status = status;

  const d = roundDistance(resp?.distance_m);
  $("dist").textContent = d === null ? "—" : String(d);
  $("xname").textContent = resp?.intersection
    ? `${t(lang, "to_next")} · ${resp.intersection.name}`
    : t(lang, "to_next");

  const band = $("band");
  const r = roundBand(resp?.band);
  band.dataset.minKmh = resp?.band ? String(resp.band.min_kmh) : "";
  band.dataset.maxKmh = resp?.band ? String(resp.band.max_kmh) : "";
  const label = $("band-label");
  if (r) {
    $("band-text").textContent = bandText(resp.band);
    band.classList.remove("none");
    label.textContent = status === "proceed" ? t(lang, "proceed") : t(lang, "band_label");
  } else {
    $("band-text").textContent = "—";
    band.classList.add("none");
    const key = {
      prepare_to_stop: "prepare_to_stop",
      off_network: "off_network",
      no_signal_ahead: resp?.intersection ? "no_band" : "no_signal",
    }[status];
    label.textContent = t(lang, key ?? "band_label");
  }

  const speedEl = $("speed");
  speedEl.textContent = Number.isFinite(speedKmh) ? String(Math.round(speedKmh)) : "—";
  speedEl.parentElement.dataset.vs = speedVsBand(speedKmh, resp?.band);
  renderGauge(resp, speedKmh);

  const sig = resp?.signal;
  const sigEl = $("signal");
  sigEl.dataset.state = sig ? sig.state : "none";
  sigEl.title = sig ? t(lang, sig.state) : "";
  $("countdown").textContent = sig ? `${Math.round(sig.time_to_change_s)}${t(lang, "s")}` : "—";
  const lo = sig ? Math.round(sig.time_to_change_min_s) : 0;
  const hi = sig ? Math.round(sig.time_to_change_max_s) : 0;
  $("countdown-range").textContent = sig && hi > lo ? ` (${lo}–${hi})` : "";

  const plan = $("plan");
  plan.hidden = !resp?.plan;
  plan.dataset.kind = resp?.plan?.kind ?? "";
  plan.textContent = planText(resp?.plan, lang);

  const items = [];
  const options = resp?.options ?? [];
  if (resp?.band || options.length) {
    for (let n = 1; n <= MAX_OPTIONS; n++) {
      const o = options.find((x) => x.intersections === n);
      const text = o ? bandText(o) : t(lang, "option_none");
      const vs = o ? speedVsBand(speedKmh, o) : "none";
      items.push(
        `<li data-n="${n}" data-vs="${vs}"><span>${t(lang, n === 1 ? "option_1" : "option", { n })}</span>` +
          `<b>${text}</b><small>${o ? "km/h" : ""}</small></li>`,
      );
    }
  }
  $("options").innerHTML = items.join("");
  $("message").textContent = resp
    ? resp.message[lang]
    : t(lang, document.body.dataset.mode === "live" ? "idle_live" : "idle_replay");
}
