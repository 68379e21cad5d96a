// The analyst's history of one situation: its events, its observables and their sightings
// over time, from the history API (GET /api/v1/situations/{id}, and for analysts GET
// /api/v1/observables/{value}), filtered by the server for the caller like every read
// path. The token comes from this tab's session storage (the dashboard put it there) or the
// fragment; it is only ever sent in the Authorization header. The fragment names the
// situation: history.html#id=…&exercise=….
import { el, tlpBadge, utc, ago, pretty, SEVERITY_COLOUR } from "./format.js";

const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || sessionStorage.getItem("cop.token") || "";
if (params.get("token")) {
  sessionStorage.setItem("cop.token", token);
  params.delete("token");
  history.replaceState(null, "", `#${params}`); // keep the token out of the address bar
}
const sid = params.get("id") || "";
const exercise = (params.get("exercise") || "").toUpperCase();

// Sightings of at most this many observables are looked up (one request each).
const MAX_LOOKUPS = 40;

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    const err = new Error(`${r.status} ${e.error || r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

function status(kind, text) {
  const s = $("status");
  s.dataset.state = kind;
  s.textContent = text;
}

function withExercise(q = new URLSearchParams()) {
  if (exercise) q.set("exercise", exercise);
  return q;
}

// situationWithEvents reads the situation and every page of its member events.
async function situationWithEvents() {
  const path = `/api/v1/situations/${encodeURIComponent(sid)}`;
  const first = await api(`${path}?${withExercise()}`);
  const events = [...(first.events || [])];
  let next = first.next;
  for (let i = 0; next && i < 20; i++) {
    const page = await api(`${path}?${withExercise(new URLSearchParams({ cursor: next }))}`);
    events.push(...(page.events || []));
    next = page.next;
  }
  return { s: first.situation, events, truncated: !!next };
}

function summary(s, n) {
  const box = $("summary");
  const head = el("div", "sum-head");
  const score = el("div", "d-score", Math.round(s.score));
  score.style.borderColor = SEVERITY_COLOUR[s.severity] || "#888";
  const t = el("div");
  t.append(el("h1", "", s.title || "(untitled)"));
  const badges = el("div", "d-badges");
  badges.append(el("span", "sev-badge sev-" + s.severity, s.severity), tlpBadge(s.tlp),
    el("span", "d-kind", [s.kind, s.category].filter(Boolean).join(" · ")), el("span", "mono muted", `${s.id} v${s.version}`));
  t.append(badges);
  head.append(score, t);
  const facts = el("div", "sum-facts");
  const fact = (k, v) => { if (!v || (Array.isArray(v) && !v.length)) return; const d = el("div"); d.append(el("b", "", k), el("span", "", Array.isArray(v) ? v.join(", ") : v)); facts.append(d); };
  fact("Events", `${s.event_count} (${n} listed)`);
  fact("Contributors", (s.contributors || []).map(c => c.name));
  fact("Countries", s.countries);
  fact("Sectors", (s.sectors || []).map(pretty));
  fact("Techniques", s.techniques);
  fact("First seen", utc(s.first_seen));
  fact("Last seen", `${utc(s.last_seen)} (${ago(s.last_seen)})`);
  fact("Releasable to", s.releasable_to);
  fact("Exercise", s.exercise);
  box.replaceChildren(head, facts);
  document.title = `COP — history of ${s.title || s.id}`;
}

function eventsTable(events) {
  const tb = $("events");
  const head = el("tr");
  for (const h of ["observed", "received", "contributor", "kind", "severity", "TLP", "title", "observables"]) head.append(el("th", "", h));
  const rows = [head];
  for (const e of events) {
    const tr = el("tr");
    tr.dataset.id = e.id;
    const obs = (e.observables || []).map(o => `${o.type}:${o.value}`).join(" ");
    tr.append(el("td", "mono", utc(e.observed_at)), el("td", "mono", utc(e.received_at)), el("td", "", e.contributor),
      el("td", "", e.kind), el("td", "", e.severity));
    const tlp = el("td");
    tlp.append(tlpBadge(e.tlp));
    tr.append(tlp, el("td", "", e.title || ""), el("td", "mono", obs));
    rows.push(tr);
  }
  tb.replaceChildren(...rows);
  $("events-count").textContent = `(${events.length})`;
}

// observables gathers each observable of the events with the times it was reported here.
function observables(events) {
  const m = new Map();
  for (const e of events) for (const o of e.observables || []) {
    const k = `${o.type}\u0000${o.value}`;
    if (!m.has(k)) m.set(k, { type: o.type, value: o.value, here: [], all: null });
    m.get(k).here.push({ at: e.observed_at, contributor: e.contributor, event: e.id });
  }
  return [...m.values()].sort((a, b) => Date.parse(a.here[0].at) - Date.parse(b.here[0].at) || a.value.localeCompare(b.value));
}

function observablesTable(list, canLookUp) {
  const tb = $("observables");
  const head = el("tr");
  for (const h of ["type", "value", "first seen here", "last seen here", "sightings here", "contributors", "all sightings", "other situations"]) head.append(el("th", "", h));
  const rows = [head];
  for (const o of list) {
    const tr = el("tr");
    tr.dataset.value = o.value;
    const who = [...new Set(o.here.map(h => h.contributor))];
    const times = o.here.map(h => Date.parse(h.at));
    tr.append(el("td", "", o.type), el("td", "mono", o.value), el("td", "mono", utc(new Date(Math.min(...times)).toISOString())),
      el("td", "mono", utc(new Date(Math.max(...times)).toISOString())), el("td", "num", o.here.length), el("td", "", who.join(", ")));
    if (o.all) {
      const others = (o.all.situations || []).filter(x => x !== sid);
      tr.append(el("td", "num", o.all.sightings.length + (o.all.truncated ? "+" : "")), el("td", "mono", others.join(" ") || "—"));
    } else {
      tr.append(el("td", "muted", canLookUp ? "…" : "—"), el("td", "muted", canLookUp ? "" : "—"));
    }
    rows.push(tr);
  }
  tb.replaceChildren(...rows);
  $("obs-count").textContent = `(${list.length})`;
}

// timeline draws one track per observable (and one for the events) on a common time axis:
// filled dots are reports in this situation, rings are sightings elsewhere (analysts).
function timeline(s, events, list) {
  const times = events.map(e => Date.parse(e.observed_at));
  for (const o of list) for (const x of (o.all && o.all.sightings) || []) times.push(Date.parse(x.observed_at));
  const valid = times.filter(Number.isFinite);
  const box = $("timeline");
  if (!valid.length) { box.replaceChildren(el("p", "muted", "No event in this view.")); return; }
  let t0 = Math.min(...valid), t1 = Math.max(...valid);
  if (t1 - t0 < 60e3) { t0 -= 30e3; t1 += 30e3; }
  const pos = t => `${((t - t0) / (t1 - t0)) * 100}%`;
  const track = (label, dots) => {
    const row = el("div", "tl-row");
    const l = el("div", "tl-label", label);
    l.title = label;
    const tr = el("div", "tl-track");
    for (const d of dots) {
      const dot = el("span", "tl-dot" + (d.other ? " other" : ""));
      dot.style.left = pos(d.t);
      dot.style.background = SEVERITY_COLOUR[d.sev] || "#8d99ae";
      dot.title = d.title;
      tr.append(dot);
    }
    row.append(l, tr);
    return row;
  };
  const rows = [track(`all events (${events.length})`, events.map(e => ({ t: Date.parse(e.observed_at), sev: e.severity, title: `${utc(e.observed_at)} ${e.contributor}: ${e.title || e.kind}` })))];
  for (const o of list.slice(0, 60)) {
    const here = new Set(o.here.map(h => h.event));
    const dots = o.here.map(h => ({ t: Date.parse(h.at), sev: s.severity, title: `${utc(h.at)} ${h.contributor} (this situation)` }));
    for (const x of (o.all && o.all.sightings) || []) {
      if (!here.has(x.event_id)) dots.push({ t: Date.parse(x.observed_at), other: true, title: `${utc(x.observed_at)} ${x.contributor} (situation ${x.situation_id || "none"})` });
    }
    rows.push(track(`${o.type} ${o.value}`, dots));
  }
  const axis = el("div", "tl-axis");
  axis.append(el("span", "", utc(new Date(t0).toISOString())), el("span", "", utc(new Date(t1).toISOString())));
  box.replaceChildren(...rows, axis);
}

function notes() {
  // NOTES: the notes helper (branch notes) provides renderNotes from ui/static/notes.js.
  const box = $("notes");
  if (typeof window.renderNotes === "function") {
    box.hidden = false;
    window.renderNotes(box, "situation", sid, token);
  }
}

async function start() {
  if (exercise) {
    $("banner").hidden = false;
    $("banner-name").textContent = exercise;
    document.body.classList.add("exercise");
  }
  $("back").href = "./" + (exercise ? `#exercise=${encodeURIComponent(exercise)}` : "");
  if (!token) { status("denied", "no token: open this page from the dashboard's detail panel"); return; }
  if (!sid) { status("denied", "no situation: the address names none (history.html#id=…)"); return; }
  let me;
  try {
    me = await api("/api/v1/whoami");
    $("who").textContent = `${me.name} · ${me.role} · up to TLP:${me.tlp_max}`;
  } catch (err) {
    status("denied", String(err.message || err));
    return;
  }
  let got;
  try {
    got = await situationWithEvents();
  } catch (err) {
    status("denied", err.status === 404 ? `no situation ${sid} in this identity's view` : String(err.message || err));
    return;
  }
  const { s, events, truncated } = got;
  events.sort((a, b) => Date.parse(a.observed_at) - Date.parse(b.observed_at) || a.id.localeCompare(b.id));
  summary(s, events.length);
  eventsTable(events);
  const list = observables(events);
  const canLookUp = me.role === "analyst" || me.role === "admin";
  $("timeline-hint").textContent = canLookUp
    ? "Filled dots: reports in this situation; rings: sightings of the same observable elsewhere."
    : "Reports in this situation (sightings elsewhere are for analysts)." + (truncated ? " Only the first events are listed." : "");
  observablesTable(list, canLookUp);
  timeline(s, events, list);
  notes();
  status("live", "loaded");
  if (!canLookUp) return;
  await Promise.all(list.slice(0, MAX_LOOKUPS).map(async o => {
    try {
      o.all = await api(`/api/v1/observables/${encodeURIComponent(o.value)}?${withExercise(new URLSearchParams({ type: o.type }))}`);
    } catch { /* shown as not looked up */ }
  }));
  observablesTable(list, canLookUp);
  timeline(s, events, list);
}

start();
