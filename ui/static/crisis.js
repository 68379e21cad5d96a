// The crisis board: open crises across the missions the viewer may see, live from
// /ws/crises, with the actions of analysts and liaison officers. The token comes from the
// URL fragment (#token=…&exercise=…), as on the dashboard.
import { el, tlpBadge, utc, ago, pretty } from "./format.js";

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
const exercise = (params.get("exercise") || "").toUpperCase();
const $ = id => document.getElementById(id);

const LEVELS = { 1: "watch", 2: "significant", 3: "large-scale", 4: "crisis" };
const ACTION_LABEL = { confirm: "Confirm", escalate: "Escalate", coordinate: "Coordinated response", downgrade: "Downgrade", close: "Close" };

let state = { crises: [], mayAct: false, at: 0 };
const openForms = new Map(); // crisis id → action whose form is open, kept across updates

function setStatus(s, text) {
  const e = $("status");
  e.dataset.state = s;
  e.textContent = text;
}

async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// allowed lists the actions the status machine allows from c (docs/crisis.md).
function allowed(c) {
  const out = [];
  if (c.proposed) out.push("confirm");
  if (c.status === "monitoring" || c.level < 4) out.push("escalate");
  if (c.status === "escalated") out.push("coordinate");
  if (c.status !== "monitoring" || c.level > 1) out.push("downgrade");
  out.push("close");
  return out;
}

function chips(list, cls = () => "") {
  const dd = el("dd");
  for (const x of list || []) dd.append(el("span", "chip " + cls(x), x));
  if (!(list || []).length) dd.append(el("span", "", "—"));
  return dd;
}

function fact(dl, name, dd) {
  dl.append(el("dt", "", name), dd);
}

// condition says in words one condition of the rule and the value that made it hold.
function condition(k) {
  switch (k.name) {
    case "score": return `score ${k.value} ≥ ${k.want}`;
    case "member_states": return `${k.value} member states (${k.detail}) ≥ ${k.want}`;
    case "critical_sector": return `critical sector ${k.detail}`;
    case "civil_military": return `corroborated by ${k.detail}`;
  }
  return `${pretty(k.name)} ${k.value} ≥ ${k.want}`;
}

function stateText(s) {
  return s ? `${pretty(s.status)} L${s.level}` : "";
}

function card(c) {
  const li = el("li", "crisis");
  li.dataset.id = c.id;
  li.dataset.level = c.level;
  li.dataset.status = c.status;
  const head = el("div", "c-head");
  const lvl = el("span", "c-level", `L${c.level} ${LEVELS[c.level] || ""}`);
  lvl.title = "crisis level (1 watch, 2 significant, 3 large-scale, 4 crisis)";
  const st = el("span", "c-status", pretty(c.status));
  st.dataset.status = c.status;
  head.append(lvl, st);
  if (c.proposed) head.append(el("span", "c-proposed", "PROPOSED"));
  head.append(tlpBadge(c.tlp));
  head.append(el("h3", "c-title", c.title || c.subject.id));
  li.append(head);

  const dl = el("dl", "c-facts");
  fact(dl, "Member states", chips(c.member_states));
  const others = (c.countries || []).filter(x => !(c.member_states || []).includes(x));
  if (others.length) fact(dl, "Other countries", chips(others));
  const crit = new Set(c.critical_sectors || []);
  fact(dl, "Sectors", chips(c.sectors, s => (crit.has(s) ? "critical" : "")));
  fact(dl, "Missions", chips(c.missions));
  const contr = c.contributors || [];
  const cd = chips(contr.map(x => x.name), n => (contr.find(x => x.name === n)?.military ? "military" : ""));
  cd.prepend(el("span", "", `${c.civil} civil · ${c.military} military:`));
  fact(dl, "Contributors", cd);
  fact(dl, "Subject", el("dd", "mono", `${c.subject.kind} ${c.subject.id} · ${c.situations.length} situation${c.situations.length === 1 ? "" : "s"} · score ${c.score}`));
  li.append(dl);

  const why = el("p", "c-why");
  why.append(el("b", "", `rule ${c.explanation.rule}`), ` (rules ${c.explanation.rules_version}, proposes L${c.explanation.level}): `);
  why.append((c.explanation.conditions || []).map(condition).join("; "));
  li.append(why);

  const tl = el("ol", "c-timeline");
  tl.setAttribute("aria-label", "timeline");
  for (const e of [...c.timeline].reverse()) {
    const row = el("li");
    row.append(el("span", "t-at", utc(e.at)));
    const what = el("span");
    what.append(el("b", "", e.actor), ` ${e.action}: ${e.from ? stateText(e.from) + " → " : ""}${stateText(e.to)}`);
    if (e.reason) what.append(el("span", "t-reason", ` — ${e.reason}`));
    row.append(what);
    tl.append(row);
  }
  li.append(tl);

  if (state.mayAct) li.append(actions(c));
  return li;
}

function actions(c) {
  const wrap = el("div", "c-actions");
  for (const a of allowed(c)) {
    const b = el("button", a === "escalate" ? "primary" : "", ACTION_LABEL[a]);
    b.type = "button";
    b.dataset.action = a;
    b.addEventListener("click", () => {
      openForms.set(c.id, a);
      render();
      document.querySelector(`.crisis[data-id="${CSS.escape(c.id)}"] input[name="reason"]`)?.focus();
    });
    wrap.append(b);
  }
  const a = openForms.get(c.id);
  if (a) wrap.append(form(c, a));
  return wrap;
}

function form(c, action) {
  const f = el("form", "c-form");
  f.dataset.action = action;
  const lv = el("select");
  lv.name = "level";
  lv.append(new Option("level: default", "0"));
  for (let i = 1; i <= 4; i++) lv.append(new Option(`L${i} ${LEVELS[i]}`, String(i)));
  const reason = el("input");
  reason.name = "reason";
  reason.placeholder = action === "close" || action === "downgrade" ? "reason (required)" : "reason";
  reason.maxLength = 2000;
  const ok = el("button", "primary", ACTION_LABEL[action]);
  ok.type = "submit";
  const cancel = el("button", "", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", () => { openForms.delete(c.id); render(); });
  const err = el("span", "c-error");
  err.setAttribute("role", "alert");
  if (action !== "close") f.append(lv);
  f.append(reason, ok, cancel, err);
  f.addEventListener("submit", async ev => {
    ev.preventDefault();
    ok.disabled = true;
    try {
      const q = exercise ? `?exercise=${encodeURIComponent(exercise)}` : "";
      await api(`/api/v1/crises/${encodeURIComponent(c.id)}/actions${q}`, {
        method: "POST", body: JSON.stringify({ action, level: Number(lv.value), reason: reason.value }),
      });
      openForms.delete(c.id);
      render(); // the board's websocket brings the change, maybe before this answer

    } catch (e) {
      err.textContent = e.message;
      ok.disabled = false;
    }
  });
  return f;
}

function render() {
  // A form being typed in survives a live update: keep its values.
  const typing = {};
  for (const f of document.querySelectorAll(".c-form")) {
    const id = f.closest(".crisis").dataset.id;
    typing[id] = { reason: f.reason.value, level: f.level?.value };
  }
  const list = $("crises");
  list.replaceChildren(...state.crises.map(card));
  for (const [id, v] of Object.entries(typing)) {
    const f = document.querySelector(`.crisis[data-id="${CSS.escape(id)}"] .c-form`);
    if (f) { f.reason.value = v.reason; if (f.level && v.level) f.level.value = v.level; }
  }
  $("empty").hidden = state.crises.length > 0;
  const counts = $("counts");
  counts.replaceChildren();
  for (let l = 4; l >= 1; l--) {
    const n = state.crises.filter(c => c.level === l).length;
    if (n) counts.append(el("span", `count l${l}`, `L${l} ${n}`));
  }
  $("updated").textContent = state.at ? `updated ${ago(new Date(state.at).toISOString())}` : "";
}

let backoff = 500;
function connect() {
  const q = new URLSearchParams({ access_token: token });
  if (exercise) q.set("exercise", exercise);
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/crises?${q}`);
  ws.onopen = () => { backoff = 500; };
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.type !== "crises") return;
    state = { crises: m.crises || [], mayAct: m.may_act, at: Date.now() };
    $("rules").textContent = `Escalation rules ${m.rules_version}. ${state.mayAct ? "You may act on these crises." : "Read only: your role may not act on crises."}`;
    setStatus("live", "live");
    render();
  };
  ws.onclose = () => {
    setStatus("down", "reconnecting…");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  };
}

async function main() {
  if (!token) {
    setStatus("denied", "no token: open this page as …/crisis.html#token=YOUR_TOKEN");
    return;
  }
  $("to-dashboard").href = `index.html#token=${encodeURIComponent(token)}${exercise ? "&exercise=" + encodeURIComponent(exercise) : ""}`;
  if (exercise) {
    $("banner").hidden = false;
    $("banner-name").textContent = exercise;
    document.body.classList.add("exercise");
  }
  try {
    const me = await api("/api/v1/whoami");
    $("who").textContent = `${me.name} · ${me.role}${me.missions ? " · " + me.missions.join(", ") : ""} · up to TLP:${me.tlp_max}`;
  } catch (e) {
    setStatus("denied", e.message);
    return;
  }
  connect();
  setInterval(() => { // keep "updated … ago" true without redrawing a form being typed in
    if (state.at) $("updated").textContent = `updated ${ago(new Date(state.at).toISOString())}`;
  }, 10_000);
}

main();
