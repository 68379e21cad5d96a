// A contributor's page: what it pushed, accepted and rejected, with the reasons, from
// GET /api/v1/contributions (its own only; the server decides). A contributor may not see
// the picture, so the dashboard sends its token here. Refreshed every 10 s.
import { el, tlpBadge, utc, ago } from "./format.js";

const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || sessionStorage.getItem("cop.token") || "";
if (params.get("token")) {
  sessionStorage.setItem("cop.token", token);
  history.replaceState(null, "", location.pathname);
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.json().catch(() => ({}))).error || r.statusText}`);
  return r.json();
}

function status(kind, text) {
  const s = $("status");
  s.dataset.state = kind;
  s.textContent = text;
}

function table(id, headers, rows) {
  const head = el("tr");
  for (const h of headers) head.append(el("th", "", h));
  $(id).replaceChildren(head, ...rows);
}

function render(c) {
  const dl = c.dead_letters.map(l => {
    const tr = el("tr", "bad");
    tr.dataset.id = l.id;
    const reasons = el("ul", "reasons");
    for (const r of (l.reasons && l.reasons.length ? l.reasons : [l.reason])) reasons.append(el("li", "", r));
    if (l.rejected > (l.reasons || []).length && (l.reasons || []).length) reasons.append(el("li", "muted", `… ${l.rejected - l.reasons.length} more`));
    const td = el("td");
    td.append(reasons);
    tr.append(el("td", "mono", utc(l.received_at)), el("td", "", ago(l.received_at)), el("td", "mono", l.source), el("td", "", l.format),
      el("td", "num", l.rejected), td);
    return tr;
  });
  table("deadletters", ["received", "", "where", "format", "rejected", "reasons"], dl);
  $("dl-count").textContent = `(${c.dead_letters.length}${c.dead_letters.length >= 100 ? ", latest" : ""})`;
  if (!dl.length) {
    const tr = el("tr");
    tr.append(el("td", "muted", "Nothing rejected."));
    $("deadletters").append(tr);
  }

  table("received", ["minute", "", "picture", "events accepted", "of which duplicates"], c.received.map(r => {
    const tr = el("tr");
    tr.append(el("td", "mono", utc(r.minute)), el("td", "", ago(r.minute)), el("td", "", r.exercise ? `exercise ${r.exercise}` : "real"),
      el("td", "num", r.events), el("td", "num", r.duplicates));
    return tr;
  }));
  $("rx-count").textContent = `(${c.received.length})`;

  table("events", ["received", "observed", "your id", "kind", "severity", "TLP", "title", "picture", "duplicate"], c.events.map(e => {
    const tr = el("tr");
    tr.dataset.id = e.id;
    const tlp = el("td");
    tlp.append(tlpBadge(e.tlp));
    tr.append(el("td", "mono", utc(e.received_at)), el("td", "mono", utc(e.observed_at)), el("td", "mono", e.source_id), el("td", "", e.kind),
      el("td", "", e.severity), tlp, el("td", "", e.title), el("td", "", e.exercise || "real"), el("td", "", e.duplicate ? "yes (already had it)" : ""));
    return tr;
  }));
  $("ev-count").textContent = `(${c.events.length})`;
}

async function refresh() {
  try {
    render(await api("/api/v1/contributions"));
    status("live", "live");
    $("updated").textContent = "updated " + new Date().toLocaleTimeString([], { hour12: false });
  } catch (err) {
    status("down", String(err.message || err));
  }
}

async function start() {
  if (!token) { status("denied", "no token: open this page as …/contributor.html#token=YOUR_TOKEN"); return; }
  let me;
  try {
    me = await api("/api/v1/whoami");
  } catch (err) {
    status("denied", String(err.message || err));
    return;
  }
  $("who").textContent = `${me.name} · ${me.role}`;
  if (me.role !== "contributor" && me.role !== "admin") { location.replace("./"); return; }
  const howto = $("howto");
  howto.append("Send files with ", el("code", "", `COP_URL=${location.origin} COP_TOKEN=… cop push FILE.json`),
    " (native JSON, STIX 2.1 or MISP), or ", el("code", "", `POST ${location.origin}/api/v1/feeds`),
    " with your token, or write to the Kafka topic ", el("code", "", `cop.feed.${me.name}`),
    ". Your name is the one the token carries, never the payload's.");
  if (me.role === "admin") { status("denied", "admins: GET /api/v1/contributions?contributor=NAME"); return; }
  await refresh();
  setInterval(refresh, 10000);
}

start();
