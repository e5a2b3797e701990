// The page: loads the network, wires the controls, and runs the live or the replay mode.
//
// URL parameters (all optional): lang=zh|en, mode=live|replay, route=<first link id>,
// rate=0.1…100 (the menu has 1, 2, 5, 10), start=<ISO 8601 with offset> (the replay clock's
// start; default from the server's clock), autostart=1, mute=1, stream=0 (live mode over HTTP
// only, without the push channel).
// State for tests and debugging is on window.greenwave: ready, loadMs, last {request, response,
// cause} (the advice on screen; cause "timing" when it was pushed), requests (timestamps of the
// advice shown), drive (one record per replay tick: the car's link, speed and the advice's
// status, distance and signal; ticks: when each replay tick ran, ms since navigation), spoken
// (the speech log), errors, utcOffsetS (the scenario's UTC offset, from /healthz), and in live
// mode link (the push channel's state), fixes {ws, http} (fixes sent each way) and pushes
// (advice pushed on timing changes).

import { ApiError, advisoryFields, getHealth, getNetwork } from "./api.js";
import { applyStatic, LANGS, SPEECH_LANG, t } from "./i18n.js";
import { clockText, iso, offsetText, parseIso } from "./format.js";
import { Live } from "./live.js";
import { MapView } from "./map.js";
import { Replay } from "./replay.js";
import { buildNetwork, roadLabels } from "./route.js";
import { Speaker } from "./speech.js";
import { chainFrom, TimeSpace } from "./timespace.js";
import { render } from "./view.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const stored = (key) => {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: settings just do not persist
  }
};
const store = (key, value) => {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* see stored() */
  }
};

const speaker = new Speaker();
const app = {
  ready: false,
  loadMs: null,
  last: null,
  requests: [],
  drive: [],
  errors: [],
  spoken: speaker.log,
  ticks: [],
  utcOffsetS: null,
  link: null,
  fixes: null,
  pushes: 0,
};
window.greenwave = app;

const ui = {
  lang: pickLang(),
  mode: params.get("mode") === "live" ? "live" : "replay",
  net: null,
  map: new MapView($("map")),
  ts: new TimeSpace($("ts"), iso),
  runner: null,
  response: null,
  speedKmh: NaN,
  status: null, // live-mode status key
  link: null, // live-mode push channel state
};

function pickLang() {
  const wanted = params.get("lang") || stored("gw.lang");
  if (LANGS.includes(wanted)) return wanted;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

// ------------------------------------------------------------------ banner
function showError(err) {
  let text;
  if (err instanceof ApiError) text = t(ui.lang, "err_http", { status: err.status, detail: err.detail });
  else if (window.GeolocationPositionError && err instanceof GeolocationPositionError) {
    text = err.code === err.PERMISSION_DENIED
      ? t(ui.lang, "live_denied")
      : t(ui.lang, "live_error", { msg: err.message });
  } else if (err?.key) text = t(ui.lang, err.key, err.vars);
  else text = t(ui.lang, "err_network", { detail: err?.message ?? String(err) });
  app.errors.push({ status: err?.status ?? null, text });
  const banner = $("banner");
  banner.textContent = text;
  banner.dataset.status = err?.status ?? "";
  banner.hidden = false;
}

function clearError() {
  $("banner").hidden = true;
}

// ------------------------------------------------------------------ language, mute, mode
function setLang(lang) {
  ui.lang = lang;
  document.documentElement.lang = SPEECH_LANG[lang];
  applyStatic(document, lang);
  $("lang").textContent = lang === "zh" ? "EN" : "中文";
  $("mute").title = t(lang, speaker.muted ? "unmute" : "mute");
  $("go").textContent = t(lang, ui.runner ? "stop" : "start");
  fillRoutes();
  if (ui.status) $("live-status").textContent = t(lang, ui.status);
  showLink(ui.link);
  render(ui.response, ui.speedKmh, lang);
  store("gw.lang", lang);
}

function setMuted(muted) {
  speaker.setMuted(muted);
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").title = t(ui.lang, muted ? "unmute" : "mute");
  store("gw.mute", muted ? "1" : "0");
}

function setMode(mode) {
  stop();
  ui.mode = mode;
  document.body.dataset.mode = mode;
  for (const b of document.querySelectorAll(".seg button")) {
    b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  }
  $("replay-controls").hidden = mode !== "replay";
  $("live-controls").hidden = mode !== "live";
  ui.response = null;
  ui.speedKmh = NaN;
  clearDiagram();
  render(null, NaN, ui.lang);
  ui.map.update({ car: null, next: null, route: mode === "replay" && ui.net ? chosenRoute() : null });
}

// ------------------------------------------------------------------ routes
function fillRoutes() {
  const select = $("route");
  if (!ui.net) return;
  const chosen = select.value || params.get("route");
  select.innerHTML = "";
  for (const r of ui.net.routes) {
    const opt = document.createElement("option");
    const label = roadLabels([r.first, r.last]);
    opt.value = r.id;
    opt.textContent = t(ui.lang, "route_name", {
      dir: t(ui.lang, `dir_${r.dir}`),
      first: label.get(r.first),
      last: label.get(r.last),
      n: r.signals.length,
      km: (r.lengthM / 1000).toFixed(1),
    });
    select.append(opt);
  }
  if (chosen && ui.net.routes.some((r) => r.id === chosen)) select.value = chosen;
}

function chosenRoute() {
  return ui.net.routes.find((r) => r.id === $("route").value) ?? ui.net.routes[0];
}

function clearDiagram() {
  ui.ts.clear();
  $("tsbox").hidden = true;
}

/** The earliest time the server accepts (its scenario clock's start), for the diagram. */
function setEarliest(clock) {
  const t = clock?.kind === "scenario" ? parseIso(String(clock.accepts_from)) : NaN;
  ui.ts.earliestS = Number.isFinite(t) ? t : -Infinity;
}

function showRoute() {
  if (ui.net?.routes.length) ui.map.update({ route: chosenRoute() });
}

// ------------------------------------------------------------------ clock, link
/** The server's clock (/healthz `clock`): times are shown in the scenario's local time. */
function setClock(clock) {
  const offset = Number(clock?.utc_offset_s);
  ui.utcOffsetS = clock && Number.isFinite(offset) ? offset : null;
  app.utcOffsetS = ui.utcOffsetS;
}

/** The time on the map: hh:mm:ss in the scenario's local time, its UTC offset, the replay rate. */
function showClock(tS) {
  let text = clockText(tS, ui.utcOffsetS);
  if (ui.utcOffsetS !== null) text += ` ${offsetText(ui.utcOffsetS)}`;
  if (ui.runner instanceof Replay) text += ` ×${$("rate").value}`;
  $("clock").textContent = text;
}

/** The live mode's connection, discreetly beside the clock (null: hidden). */
function showLink(state) {
  ui.link = state;
  app.link = state;
  const el = $("link");
  el.hidden = state === null;
  if (state === null) return;
  el.dataset.state = state;
  el.textContent = t(ui.lang, `link_${state}`);
  el.title = t(ui.lang, `link_${state}_title`);
}

// ------------------------------------------------------------------ advice
function onAdvice(request, response, car, cause = "fix") {
  // Live fixes on a scenario-clock server carry no time, nor do pushed answers: the answer
  // says which it used.
  const at = request.timestamp ?? response.timestamp;
  app.last = { request, response, cause };
  app.requests.push(at);
  if (app.requests.length > 2000) app.requests.shift();
  clearError();
  ui.response = response;
  ui.speedKmh = request.speed_kmh;
  render(response, request.speed_kmh, ui.lang);
  const pos = car ?? {
    lon: response.snapped?.lon ?? request.lon,
    lat: response.snapped?.lat ?? request.lat,
    bearing: request.heading_deg,
  };
  const next = response.intersection
    ? { id: response.intersection.id, state: response.signal?.state }
    : null;
  ui.map.update({ car: pos, next });
  showClock(Date.parse(at) / 1000);
  speaker.update(response, ui.lang);
}

// ------------------------------------------------------------------ run
// A phone's screen stays on while a drive runs (Screen Wake Lock API, where there is one).
let wakeLock = null;

async function keepAwake(on) {
  try {
    if (on && !wakeLock && navigator.wakeLock) wakeLock = await navigator.wakeLock.request("screen");
    if (!on && wakeLock) {
      await wakeLock.release();
      wakeLock = null;
    }
  } catch {
    wakeLock = null; // refused (battery saver, hidden page): the drive goes on regardless
  }
}

async function start() {
  $("go").disabled = true;
  try {
    if (ui.mode === "replay") await startReplay();
    else await startLive();
  } finally {
    $("go").disabled = false;
  }
  if (ui.runner) {
    $("go").textContent = t(ui.lang, "stop");
    $("go").classList.add("running");
    document.body.dataset.running = "1";
    keepAwake(true);
  }
}

function stop() {
  ui.runner?.stop();
  ui.runner = null;
  showLink(null);
  $("go").textContent = t(ui.lang, "start");
  $("go").classList.remove("running");
  delete document.body.dataset.running;
  keepAwake(false);
}

/** The replay's start (s): the time typed in, else from the server's clock (/healthz
 * `clock`): the scenario's start when it runs the scenario clock (a replay then sees the same
 * signals every time), its now with the wall clock; the browser's now for servers without one. */
async function replayStart() {
  const text = $("start").value.trim();
  if (text && text !== "now") {
    const t = parseIso(text);
    if (!Number.isFinite(t)) throw { key: "err_start", vars: { value: text } };
    return t;
  }
  let clock = null;
  try {
    clock = (await getHealth())?.clock;
  } catch {
    clock = null; // no /healthz answer: the advisory requests will say what is wrong
  }
  setEarliest(clock);
  if (clock) setClock(clock);
  const t = parseIso(String(clock?.kind === "scenario" ? clock.accepts_from : clock?.now));
  return Math.floor(Number.isFinite(t) ? t : Date.now() / 1000);
}

async function startReplay() {
  let startS;
  try {
    startS = await replayStart();
  } catch (err) {
    return showError(err);
  }
  const route = chosenRoute();
  app.drive = [];
  app.ticks = [];
  app.requests = [];
  speaker.reset();
  clearError();
  ui.runner = new Replay({
    net: ui.net,
    route,
    startS,
    rate: Number($("rate").value) || 1,
    iso,
    onTick: ({ request, response, tS, car, dueMs, ranMs }) => {
      app.ticks.push({ due_ms: dueMs, ran_ms: ranMs });
      if (app.ticks.length > 20000) app.ticks.shift();
      app.drive.push({
        t: request.timestamp,
        link: car.link.id,
        offset_m: car.offsetM,
        speed_kmh: request.speed_kmh,
        matched: response.link_id,
        status: response.status,
        intersection: response.intersection?.id ?? null,
        distance_m: response.distance_m,
        signal: response.signal,
      });
      if (app.drive.length > 20000) app.drive.shift();
      onAdvice(request, response, car.position);
      const before = route.links.slice(0, car.index);
      const distM = before.reduce((sum, id) => sum + ui.net.links.get(id).lengthM, 0);
      ui.ts.update(tS, distM + car.offsetM, response, request.speed_kmh);
      $("tsbox").hidden = false;
    },
    onError: (err) => {
      showError(err);
      // A refused request (422: e.g. a timestamp the server's clock does not accept) will be
      // refused again at the next tick: stop and say why.  Network trouble may pass.
      const fatal = err instanceof ApiError && err.status >= 400 && err.status < 500;
      if (fatal) stop();
      return fatal;
    },
    onEnd: () => {
      stop();
      app.arrived = true;
      $("message").textContent = t(ui.lang, "arrived");
    },
  });
  ui.map.update({ route, car: ui.runner.car.position, next: null });
  ui.ts.setRoute(ui.net, route.links);
  ui.runner.start();
}

async function startLive() {
  const setStatus = (key) => {
    ui.status = key;
    $("live-status").textContent = t(ui.lang, key);
  };
  clearError();
  speaker.reset();
  const [fields, health] = await Promise.all([advisoryFields(), getHealth().catch(() => null)]);
  setEarliest(health?.clock);
  if (health?.clock) setClock(health.clock);
  app.pushes = 0;
  const live = new Live({
    fields,
    // A server on the scenario clock lives in the scenario's time, not the phone's: let it
    // date the fixes itself.
    serverTime: health?.clock?.kind === "scenario",
    onAdvice: ({ request, response, cause }) => {
      setStatus("live_hint");
      if (cause === "timing") app.pushes += 1;
      onAdvice(request, response, null, cause);
      if (response.link_id && Number.isFinite(response.offset_m)) {
        // The road ahead of the matched link, as far as next_link_id goes.
        ui.ts.setRoute(ui.net, chainFrom(ui.net, response.link_id));
        $("tsbox").hidden = false;
        const tS = Date.parse(request.timestamp ?? response.timestamp) / 1000;
        ui.ts.update(tS, response.offset_m, response, request.speed_kmh);
      }
    },
    onStatus: setStatus,
    onError: showError,
    onLink: (state) => showLink(state),
    stream: params.get("stream") !== "0",
  });
  app.fixes = live.sent;
  ui.runner = live;
  live.start();
}

// ------------------------------------------------------------------ start-up
async function init() {
  $("lang").addEventListener("click", () => setLang(ui.lang === "zh" ? "en" : "zh"));
  $("mute").addEventListener("click", () => setMuted(!speaker.muted));
  for (const b of document.querySelectorAll(".seg button")) {
    b.addEventListener("click", () => setMode(b.dataset.mode));
  }
  $("go").addEventListener("click", () => (ui.runner ? stop() : start()));
  $("route").addEventListener("change", () => {
    stop();
    clearDiagram();
    showRoute();
  });
  const rate = Number(params.get("rate"));
  if (rate >= 0.1 && rate <= 100) {
    // Any rate from the URL (e.g. 50 for a quick test drive), not only the menu's.
    if (![...$("rate").options].some((o) => Number(o.value) === rate)) {
      $("rate").append(new Option(`${rate}×`, String(rate)));
    }
    $("rate").value = String(rate);
  }
  if (params.has("start")) $("start").value = params.get("start");
  setMuted(params.get("mute") === "1" || stored("gw.mute") === "1");
  setMode(ui.mode);
  setLang(ui.lang);
  // The clock's UTC offset, in parallel with the network (nothing waits for it).
  getHealth()
    .then((h) => h?.clock && setClock(h.clock))
    .catch(() => {});
  try {
    ui.net = buildNetwork(await getNetwork());
  } catch (err) {
    showError(err);
    return;
  }
  $("net-name").textContent = ui.net.name;
  ui.map.setNetwork(ui.net);
  fillRoutes();
  showRoute();
  app.network = { links: ui.net.links.size, intersections: ui.net.intersections.size };
  app.loadMs = performance.now();
  app.ready = true;
  document.body.dataset.ready = "1";
  if (params.get("autostart") === "1") start();
}

init();
