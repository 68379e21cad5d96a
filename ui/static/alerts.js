// Alerts on the dashboard (docs/alerts.md): a banner for each alert raised to this
// identity — the websocket's "alert" messages (app.js passes them on as "cop-alert"
// events) and, on load, those not yet acknowledged (GET /api/v1/alerts) — a sound when
// switched on (off by default), a browser notification where permission is granted, and
// an Acknowledge button (POST /api/v1/alerts/{id}/ack). "Show" opens the subject.
import { el, tlpBadge } from "./format.js";

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
const MAX_SHOWN = 4;     // banners on screen; the rest are counted
const MAX_TIMES = 1000;  // receipt times kept for the latency measurement
const SOUND_KEY = "cop.alertSound";

const pending = new Map(); // id → alert, newest last
// Every alert received live: its id, when the server raised it (at), when its subject last
// changed (updated) and when this page received it (received), all Unix ms on the same
// clock as the server's when they share a machine. cop's latency test reads it.
window.copAlertTimes = [];

const $ = id => document.getElementById(id);

async function call(method, path) {
  const r = await fetch(path, { method, headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

function soundOn() { return localStorage.getItem(SOUND_KEY) === "1"; }

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.15, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.4);
  } catch { /* no audio: the banner is enough */ }
}

function notify(a) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(`COP alert: ${a.subject.title}`, { body: a.reason, tag: a.id });
    n.onclick = () => { window.focus(); show(a.id); };
  } catch { /* some browsers allow notifications from a service worker only */ }
}

function show(id) {
  const a = pending.get(id);
  if (a) window.dispatchEvent(new CustomEvent("cop-select", { detail: a.subject.id }));
}

async function ack(id, btn) {
  btn.disabled = true;
  try {
    await call("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`);
    pending.delete(id);
    render();
  } catch (err) {
    btn.disabled = false;
    btn.title = String(err.message || err);
  }
}

function render() {
  const box = $("alerts");
  const list = [...pending.values()].reverse(); // newest first
  box.hidden = list.length === 0;
  // Over the map, below the filters however many rows they wrap to.
  box.style.top = `${Math.round(($("map")?.getBoundingClientRect().top ?? 86) + 10)}px`;
  const items = list.slice(0, MAX_SHOWN).map(a => {
    const sev = a.subject.severity || "info";
    const li = el("div", `alert-item sev-${sev}`);
    li.dataset.id = a.id;
    li.dataset.kind = a.kind;
    li.setAttribute("role", "alert");
    const head = el("div", "alert-head");
    head.append(el("strong", "alert-tag", a.kind === "crisis" ? `CRISIS${a.level ? " L" + a.level : ""}` : "ALERT"),
      el("span", "alert-title", a.subject.title),
      el("span", "alert-score mono", `score ${Math.round(a.subject.score)}`),
      tlpBadge(a.subject.tlp),
      el("time", "alert-time", new Date(a.at).toLocaleTimeString([], { hour12: false })));
    const why = el("div", "alert-reason", a.reason);
    const btns = el("div", "alert-btns");
    const sh = el("button", "alert-show", "Show");
    sh.type = "button";
    sh.addEventListener("click", () => show(a.id));
    const ok = el("button", "alert-ack", "Acknowledge");
    ok.type = "button";
    ok.addEventListener("click", () => ack(a.id, ok));
    btns.append(sh, ok);
    li.append(head, why, btns);
    return li;
  });
  if (list.length > MAX_SHOWN) items.push(el("div", "alert-more", `+${list.length - MAX_SHOWN} more unacknowledged`));
  box.replaceChildren(...items);
  document.title = document.title.replace(/^\(\d+\) /, "");
  if (list.length) document.title = `(${list.length}) ` + document.title;
}

function add(a) {
  if (pending.has(a.id)) return false;
  pending.set(a.id, a);
  while (pending.size > 200) pending.delete(pending.keys().next().value);
  return true;
}

function controls() {
  const wrap = el("div", "alert-ctl");
  const snd = el("button", "alert-sound", "");
  snd.type = "button";
  snd.id = "alert-sound";
  const label = () => {
    snd.textContent = soundOn() ? "alert sound on" : "alert sound off";
    snd.setAttribute("aria-pressed", soundOn() ? "true" : "false");
  };
  snd.addEventListener("click", () => {
    localStorage.setItem(SOUND_KEY, soundOn() ? "0" : "1");
    label();
    if (soundOn()) beep();
  });
  label();
  wrap.append(snd);
  if ("Notification" in window && Notification.permission === "default") {
    const nb = el("button", "alert-notif", "enable notifications");
    nb.type = "button";
    nb.addEventListener("click", async () => {
      await Notification.requestPermission();
      nb.remove();
    });
    wrap.append(nb);
  }
  document.querySelector(".top .conn")?.before(wrap);
}

window.addEventListener("cop-alert", e => {
  const { alert: a, received } = e.detail;
  const t = window.copAlertTimes;
  t.push({ id: a.id, at: Date.parse(a.at), updated: Date.parse(a.subject.updated_at), received });
  if (t.length > MAX_TIMES) t.shift();
  if (!add(a)) return;
  render();
  if (soundOn()) beep();
  notify(a);
});

async function load() {
  if (!token) return;
  controls();
  try {
    const r = await call("GET", "/api/v1/alerts");
    for (const a of (r.alerts || []).reverse()) add(a);
    render();
  } catch { /* a role without alerts, or the server down: the websocket brings new ones */ }
}

load();
