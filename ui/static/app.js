// The commander's dashboard: live picture over /ws/picture, a map and a ranked list kept in
// sync, a detail panel explaining each score. The token comes from the URL fragment
// (#token=...), which browsers never send, so it stays out of server and proxy logs.
import { PictureMap } from "./map.js";
import { SituationList, renderDetail } from "./panels.js";
import { AreaFocus } from "./zoom.js";
import { SECTORS, SEVERITIES, SEVERITY_COLOUR, el, pretty } from "./format.js";

const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
// The token stays in this tab's session storage too, for the history and contributor pages
// (same origin, never sent but as a header) and for coming back to the dashboard from them.
const token = params.get("token") || sessionStorage.getItem("cop.token") || "";
if (token) sessionStorage.setItem("cop.token", token);

const state = {
  me: null,
  missions: [],
  situations: new Map(),
  view: { mission: "", min_score: 0, sectors: [], exercise: "" },
  windowHours: 0,
  selected: "",
  ws: null,
  backoff: 0,
  retryTimer: 0,
  // The picture held: its epoch and sequence, and the view it is of (as sent). A reconnect
  // with the same view resumes from there instead of reloading everything.
  held: { epoch: "", seq: 0, view: "" },
  sentView: "",
  bounded: false, // the server sends the view's best situations and counts of the rest
};

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.json().catch(() => ({}))).error || r.statusText}`);
  return r.json();
}

function setStatus(kind, text) {
  const s = $("status");
  s.dataset.state = kind;
  s.textContent = text;
  document.body.classList.toggle("stale", kind === "down");
}

function touchUpdated() {
  const t = new Date();
  $("updated").textContent = "updated " + t.toLocaleTimeString([], { hour12: false });
  $("updated").dataset.at = t.toISOString();
}

// --- view and filters -----------------------------------------------------------------

function visibleList() {
  const cut = state.windowHours ? Date.now() - state.windowHours * 3600e3 : 0;
  const out = [];
  for (const s of state.situations.values()) {
    if (cut && Date.parse(s.last_seen || s.updated_at) < cut) continue;
    out.push(s);
  }
  // A commander's mission view carries each situation's rank (score weighed by relevance).
  return out.sort((a, b) => (b.rank || b.score) - (a.rank || a.score) || a.id.localeCompare(b.id));
}

let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; render(); });
}

let mapTask = 0;
function render() {
  const list = visibleList();
  // The map in a task of its own after the list: one long task of a demo-sized picture
  // becomes two shorter ones (ui/test/longtask.test.mjs).
  clearTimeout(mapTask);
  mapTask = setTimeout(() => mapView.setSituations(list), 0);
  listView.render(list, state.selected);
  areaFocus.render(list, listView.rest, state.bounded);
  const bySev = {};
  for (const s of list) bySev[s.severity] = (bySev[s.severity] || 0) + 1;
  const counts = $("counts");
  counts.replaceChildren(...SEVERITIES.slice().reverse().filter(k => bySev[k]).map(k => {
    const c = el("span", "count sev-" + k, `${bySev[k]} ${k}`);
    return c;
  }));
  const s = state.situations.get(state.selected) || listView.fetchedSituation(state.selected);
  if (s) showDetail(s);
  else if (state.selected || !$("detail").hidden) closeDetail(); // it left the view
}

// showDetail fills the detail panel with s, says whether it scrolls, and where s's
// position lies outside the countries it names.
function showDetail(s) {
  const d = $("detail");
  const keep = d.dataset.id === s.id ? d.scrollTop : 0;
  renderDetail(d, s, c => mapView.countryName(c), closeDetail, { outside: mapView.outsideOf(s), exercise: state.view.exercise });
  d.scrollTop = keep;
  scrollHint(d);
}

// scrollHint marks the panel while more of it lies below what is shown.
function scrollHint(d) {
  d.classList.toggle("more-below", d.scrollHeight - d.scrollTop - d.clientHeight > 4);
}

function select(id, from) {
  const s = state.situations.get(id) || listView.fetchedSituation(id);
  if (!s) return;
  state.selected = id;
  mapView.select(s, from === "list");
  listView.render(visibleList(), id);
  listView.reveal(id);
  showDetail(s);
  // The panel opens over the map's right side: a marker clicked there moves out from under it.
  if (from === "map") mapView.keepClear(s, $("detail"));
}

function closeDetail() {
  const d = $("detail");
  d.hidden = true;
  const prev = state.selected;
  state.selected = "";
  mapView.select(null, false);
  listView.render(visibleList(), "");
  if (prev) {
    const li = document.querySelector(`#list li[data-id="${CSS.escape(prev)}"]`);
    if (li) li.focus();
  }
}

function applyExerciseLook() {
  const ex = state.view.exercise;
  document.body.classList.toggle("exercise", !!ex);
  $("banner").hidden = !ex;
  $("banner-name").textContent = ex;
  document.title = (ex ? `[EXERCISE ${ex}] ` : "") + "COP — common operational cyber picture";
}

function sendView() {
  applyExerciseLook();
  mapView.setMissions(state.missions, state.view.mission);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.sentView = JSON.stringify(state.view);
    state.ws.send(JSON.stringify({ type: "view", ...state.view }));
  } else {
    reconnectNow();
  }
}

function fillFilters() {
  const me = state.me;
  const ms = $("f-mission");
  const opts = [];
  if (me.role !== "commander") opts.push(new Option("All areas", ""));
  for (const m of state.missions) opts.push(new Option(m.title || m.name, m.name));
  ms.replaceChildren(...opts);
  if (me.role === "commander") state.view.mission = state.view.mission || (me.missions || [])[0] || "";
  ms.value = state.view.mission;
  ms.addEventListener("change", () => { state.view.mission = ms.value; sendView(); });

  const sc = $("f-score");
  let t = 0;
  sc.value = state.view.min_score;
  $("f-score-out").textContent = sc.value;
  sc.addEventListener("input", () => {
    $("f-score-out").textContent = sc.value;
    clearTimeout(t);
    t = setTimeout(() => { state.view.min_score = Number(sc.value); sendView(); }, 250);
  });

  $("f-window").addEventListener("change", e => {
    state.windowHours = Number(e.target.value);
    areaFocus.setWindow(state.windowHours); // the server sends the window's best beyond the bound
    scheduleRender();
  });

  const fs = $("f-sectors");
  for (const sec of SECTORS) {
    const b = el("button", "sector", pretty(sec));
    b.type = "button";
    b.dataset.sector = sec;
    b.setAttribute("aria-pressed", state.view.sectors.includes(sec) ? "true" : "false");
    b.addEventListener("click", () => {
      const on = b.getAttribute("aria-pressed") !== "true";
      b.setAttribute("aria-pressed", on ? "true" : "false");
      state.view.sectors = on ? [...state.view.sectors, sec] : state.view.sectors.filter(x => x !== sec);
      sendView();
    });
    fs.appendChild(b);
  }

  // Exercise: real picture, or one this identity may view; admins may name any.
  const xs = $("f-exercise");
  const exercises = me.exercises || [];
  const xopts = [new Option("Real picture", "")];
  for (const x of exercises) xopts.push(new Option(`EXERCISE ${x}`, x));
  if (me.role === "admin") xopts.push(new Option("Other exercise…", "*"));
  xs.replaceChildren(...xopts);
  if (xopts.length === 1) $("f-exercise-wrap").hidden = true;
  const free = $("f-exercise-free");
  $("f-exercise-list").replaceChildren(...exercises.map(x => new Option(x, x)));
  xs.value = exercises.includes(state.view.exercise) || !state.view.exercise ? state.view.exercise : "*";
  free.hidden = xs.value !== "*";
  if (xs.value === "*") free.value = state.view.exercise;
  xs.addEventListener("change", () => {
    free.hidden = xs.value !== "*";
    if (xs.value === "*") { free.focus(); return; }
    state.view.exercise = xs.value;
    sendView();
  });
  free.addEventListener("change", () => {
    state.view.exercise = free.value.trim().toUpperCase();
    sendView();
  });
  $("filters").addEventListener("submit", e => e.preventDefault());
}

function fillLegend() {
  const lg = $("legend");
  for (const k of SEVERITIES.slice().reverse()) {
    const dot = el("span", "dot");
    dot.style.background = SEVERITY_COLOUR[k];
    const item = el("span", "lg-item");
    item.append(dot, el("span", "", k));
    lg.append(item);
  }
  const area = el("span", "lg-item");
  area.append(el("span", "lg-area"), el("span", "", "mission area"));
  const shade = el("span", "lg-item");
  shade.append(el("span", "lg-shade"), el("span", "", "country hit, no position"));
  lg.append(area, shade);
  // A number means two things on the map: say which is which.
  const cluster = el("span", "lg-item lg-numbers");
  cluster.append(el("span", "lg-num cluster", "5"), el("span", "", "on a ring: how many situations (click to zoom)"));
  const single = el("span", "lg-item lg-numbers");
  single.append(el("span", "lg-num", "57"), el("span", "", "on a dot: the situation's score"));
  const outside = el("span", "lg-item");
  outside.append(el("span", "lg-num outside", ""), el("span", "", "dashed: position outside the country it names"));
  lg.append(cluster, single, outside);
}

// --- live connection ----------------------------------------------------------------

function wsURL() {
  // resume=1: the server waits for our view message, which may resume the picture we hold.
  const q = new URLSearchParams({ access_token: token, resume: "1" });
  q.set("alerts", "1"); // alerts.js shows them; #alert_score=N sets this view's threshold
  if (params.get("alert_score")) q.set("alert_score", params.get("alert_score"));
  if (state.view.exercise) q.set("exercise", state.view.exercise);
  if (state.view.mission) q.set("mission", state.view.mission);
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/picture?${q}`;
}

function reconnectNow() {
  clearTimeout(state.retryTimer);
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close();
    state.ws = null;
  }
  connect();
}

function connect() {
  setStatus("connecting", "connecting…");
  const ws = new WebSocket(wsURL());
  state.ws = ws;
  ws.onopen = () => {
    state.backoff = 0;
    const view = JSON.stringify(state.view);
    const msg = { type: "view", ...state.view };
    // A focus (the map zoomed, a window) goes first, so that the snapshot brings it; a
    // resume would not rebuild what it brought.
    areaFocus.resend();
    if (state.held.epoch && state.held.view === view && !areaFocus.active()) {
      msg.epoch = state.held.epoch;
      msg.seq = state.held.seq;
      msg.limit = state.situations.size; // the bounded picture: how many it holds
    }
    state.sentView = view;
    ws.send(JSON.stringify(msg));
  };
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.type === "alert") { // alerts.js shows it; it leaves the picture as it was
      window.dispatchEvent(new CustomEvent("cop-alert", { detail: { alert: m.alert, received: Date.now() } }));
      return;
    }
    if (m.type === "snapshot") {
      state.situations.clear();
      state.held.view = state.sentView;
    }
    if (m.type === "snapshot" || m.resume) setStatus("live", "live");
    state.held.epoch = m.epoch;
    state.held.seq = m.seq;
    for (const s of m.situations || []) state.situations.set(s.id, s);
    if (m.type === "snapshot" || m.campaigns_all) listView.setCampaigns(m.campaigns);
    else if (m.campaigns || m.campaigns_removed) listView.updateCampaigns(m.campaigns, m.campaigns_removed);
    if (m.type === "snapshot") state.bounded = !!m.rest;
    if (m.type === "snapshot" || m.focus) areaFocus.setState(m.focus || null);
    if (m.type === "snapshot" || m.rest) listView.setRest(m.rest || null);
    for (const r of m.removed || []) {
      state.situations.delete(r.id);
      // Follow a selected situation into the one it merged with.
      if (r.id === state.selected) state.selected = r.merged_into && state.situations.has(r.merged_into) ? r.merged_into : "";
    }
    document.body.dataset.seq = String(m.seq);
    touchUpdated();
    scheduleRender();
  };
  ws.onclose = ev => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (ev.code === 1008) {
      // Policy violation: this view is not allowed; retrying the same view cannot help.
      setStatus("denied", `view refused: ${ev.reason || "not allowed"}`);
      return;
    }
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 15 s.
    const wait = Math.min(15000, 500 * 2 ** state.backoff) * (0.8 + Math.random() * 0.4);
    state.backoff = Math.min(state.backoff + 1, 6);
    const until = Date.now() + wait;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setStatus("down", `disconnected — retrying in ${left} s`);
    };
    tick();
    const iv = setInterval(tick, 1000);
    state.retryTimer = setTimeout(() => { clearInterval(iv); connect(); }, wait);
  };
}

// viewQuery is the current view as the REST paths take it.
function viewQuery() {
  const q = new URLSearchParams();
  if (state.view.mission) q.set("mission", state.view.mission);
  if (state.view.exercise) q.set("exercise", state.view.exercise);
  if (state.view.min_score) q.set("min_score", String(state.view.min_score));
  for (const s of state.view.sectors) q.append("sector", s);
  return q;
}

// refreshCampaigns asks the server for the campaigns of the current view (deltas carry
// none); a failure keeps the last ones.
async function refreshCampaigns() {
  if (state.bounded) return; // its deltas keep the campaigns current
  const q = new URLSearchParams();
  try {
    const r = await api("/api/v1/campaigns?" + viewQuery());
    listView.setCampaigns(r.campaigns);
    scheduleRender();
  } catch { /* the next refresh or snapshot brings them */ }
}

// --- start --------------------------------------------------------------------------

const mapView = new PictureMap($("map"), select);
const listView = new SituationList($("list"), $("empty"), $("list-count"), select);
listView.onMore = () => {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify({ type: "more", limit: state.situations.size + 300 }));
  return true;
};
const areaFocus = new AreaFocus(mapView, msg => {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(msg));
  return true;
});
listView.fetchCampaign = id => api(`/api/v1/campaigns/${encodeURIComponent(id)}?${viewQuery()}`);

window.addEventListener("cop-select", e => select(e.detail)); // an alert's "Show"

$("detail").addEventListener("scroll", e => scrollHint(e.currentTarget), { passive: true });
document.addEventListener("keydown", e => {
  if (e.key === "Escape" && !$("detail").hidden) { e.preventDefault(); closeDetail(); }
});

async function start() {
  fillLegend();
  if (!token) {
    setStatus("denied", "no token: open this page as …/#token=YOUR_TOKEN");
    return;
  }
  // The base map draws a few countries per task while the live picture arrives: the
  // picture does not wait for it (ui/test/longtask.test.mjs).
  const base = mapView.loadBase().then(() => null, err => err);
  try {
    // A contributor's token has a page of its own: its pushes, accepted and rejected.
    const who = await api("/api/v1/whoami");
    if (who.role === "contributor") { location.replace("contributor.html"); return; }
    const [me, missions] = await Promise.all([who, api("/api/v1/missions")]);
    state.me = me;
    state.missions = missions.sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    setStatus("denied", String(err.message || err));
    return;
  }
  const w = $("who");
  w.textContent = `${state.me.name} · ${state.me.role} · up to TLP:${state.me.tlp_max}`;
  // A link may preselect a view: #token=…&exercise=CYDEF-X&mission=EUFOR-ALTHEA.
  // ?exercise= (the REST API's form) works too.
  state.view.exercise = (params.get("exercise") || new URLSearchParams(location.search).get("exercise") || "").toUpperCase();
  state.view.mission = (params.get("mission") || "").toUpperCase();
  fillFilters();
  applyExerciseLook();
  connect();
  const failed = await base;
  if (failed) {
    setStatus("denied", String(failed.message || failed));
    return;
  }
  mapView.setMissions(state.missions, state.view.mission);
  areaFocus.start(); // zooming or panning the map now asks for the area's best
  scheduleRender(); // shade the countries now drawn
  setInterval(scheduleRender, 30000); // keep "n min ago" and the time window current
  setInterval(refreshCampaigns, 15000); // deltas do not regroup: the campaigns are refreshed
}

start();
