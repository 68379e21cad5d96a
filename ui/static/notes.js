// Assessments (issue 20): the notes analysts, liaison officers and admins attach to a
// situation, a campaign or a crisis, as the caller may see them, and for those roles a form
// to add one. renderNotes is the one entry point: the detail panel (panels.js) and the
// history view call it with a container of their own. The server decides what is shown
// (the note's markings and the subject's visibility); this only renders its answer.
import { el, tlpBadge, utc } from "./format.js";

export const NOTE_ACTIONS = ["none", "monitor", "investigate", "mitigate", "escalate", "share"];
// Agreement with COP's correlation and score of the subject (exported as a STIX opinion).
export const NOTE_AGREEMENTS = ["confirms", "supports", "neutral", "doubts", "refutes"];
const WRITERS = ["analyst", "liaison", "admin"];
const TLPS = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];

// tokenFromHash is the dashboard's token, from the URL fragment (#token=…).
export function tokenFromHash() {
  return new URLSearchParams(location.hash.slice(1)).get("token") || "";
}

const whoami = new Map(); // token → promise of the identity (null when unknown)
function me(token) {
  if (!whoami.has(token)) {
    whoami.set(token, fetch("/api/v1/whoami", { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" })
      .then(r => (r.ok ? r.json() : null)).catch(() => null));
  }
  return whoami.get(token);
}

async function call(method, path, token, body) {
  const r = await fetch(path, {
    method, cache: "no-store", body: body ? JSON.stringify(body) : undefined,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error || r.statusText), { status: r.status });
  return data;
}

function noteItem(n) {
  const li = el("li", "n-item" + (n.superseded_by ? " superseded" : ""));
  li.dataset.id = n.id;
  li.dataset.tlp = n.tlp;
  const meta = el("div", "n-meta");
  meta.append(tlpBadge(n.tlp), el("span", "n-conf", `confidence ${n.confidence}%`));
  if (n.action && n.action !== "none") meta.append(el("span", "n-action", n.action));
  if (n.agreement) meta.append(el("span", "n-agree", "opinion: " + n.agreement));
  if (n.superseded_by) meta.append(el("span", "n-super", "superseded"));
  li.append(meta, el("p", "n-text", n.text));
  if (n.action_text) li.append(el("p", "n-action-text", "→ " + n.action_text));
  const by = [n.author, n.author_role, utc(n.created_at)];
  if (n.releasable_to?.length) by.push("releasable to " + n.releasable_to.join(", "));
  li.append(el("div", "n-by", by.join(" · ")));
  return li;
}

function labelled(text, input) {
  const l = el("label", "n-field");
  l.append(el("span", "", text), input);
  return l;
}

function select(name, values, first) {
  const s = el("select");
  s.name = name;
  if (first !== undefined) s.append(new Option(first, ""));
  for (const v of values) s.append(new Option(v, v));
  return s;
}

// noteForm returns the form that posts a note on kind/id and calls done after each.
function noteForm(kind, id, token, opts, done) {
  const form = el("form", "n-form");
  form.noValidate = true; // the server says which field is wrong and what it expects
  const text = el("textarea");
  text.name = "text";
  text.maxLength = 4000;
  text.rows = 3;
  text.placeholder = "Assessment";
  text.required = true;
  const conf = el("input");
  conf.name = "confidence";
  conf.type = "number";
  conf.min = "0";
  conf.max = "100";
  conf.value = "50";
  const action = select("action", NOTE_ACTIONS);
  const actionText = el("input");
  actionText.name = "action_text";
  actionText.maxLength = 500;
  actionText.placeholder = "what to do (optional)";
  const agree = select("agreement", NOTE_AGREEMENTS, "no opinion");
  const tlp = select("tlp", TLPS, `as the ${kind}`);
  const rel = el("input");
  rel.name = "releasable_to";
  rel.placeholder = `as the ${kind} (or names, comma-separated)`;
  const send = el("button", "n-send", "Add assessment");
  send.type = "submit";
  const msg = el("p", "n-msg");
  msg.setAttribute("role", "status");
  const row = el("div", "n-row");
  row.append(labelled("Confidence", conf), labelled("Action", action), labelled("Opinion", agree), labelled("TLP", tlp));
  form.append(text, row, labelled("Action detail", actionText), labelled("Releasable to", rel), send, msg);
  form.addEventListener("submit", async e => {
    e.preventDefault();
    const body = { subject_kind: kind, subject_id: id, text: text.value, confidence: Number(conf.value), action: action.value };
    if (opts.exercise) body.exercise = opts.exercise;
    if (opts.mission) body.mission = opts.mission;
    if (actionText.value.trim()) body.action_text = actionText.value;
    if (agree.value) body.agreement = agree.value;
    if (tlp.value) body.tlp = tlp.value;
    const names = rel.value.split(",").map(s => s.trim()).filter(Boolean);
    if (names.length) body.releasable_to = names;
    send.disabled = true;
    msg.className = "n-msg";
    msg.textContent = "saving…";
    try {
      await call("POST", "/api/v1/notes", token, body);
      text.value = "";
      actionText.value = "";
      msg.textContent = "saved";
      await done();
    } catch (err) {
      msg.className = "n-msg n-error";
      msg.textContent = err.message;
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

// renderNotes fills container with the notes on kind ("situation", "campaign", "crisis")
// id that the identity of token may see, oldest first, and for analysts, liaison officers
// and admins a form to add one. opts.exercise (and opts.mission, for a campaign) name the
// view the subject is in. It resolves once the list is shown; container.refresh() reloads it.
export async function renderNotes(container, kind, id, token = tokenFromHash(), opts = {}) {
  container.classList.add("notes");
  container.dataset.subject = `${kind}:${id}`;
  const list = el("ol", "n-list");
  const status = el("p", "n-status", "loading assessments…");
  container.replaceChildren(el("h4", "", "Assessments"), status, list);
  const load = async () => {
    const q = new URLSearchParams({ subject_kind: kind, subject_id: id });
    if (opts.exercise) q.set("exercise", opts.exercise);
    if (opts.mission) q.set("mission", opts.mission);
    try {
      const data = await call("GET", `/api/v1/notes?${q}`, token);
      list.replaceChildren(...data.notes.map(noteItem));
      status.textContent = data.notes.length ? "" : "No assessment in this identity's view.";
    } catch (err) {
      list.replaceChildren();
      status.textContent = err.status === 404 ? `No assessments: this ${kind} is not in the history store (yet).`
        : `Assessments unavailable: ${err.message}`;
    }
    container.dataset.count = String(list.children.length);
  };
  container.refresh = load;
  const [who] = await Promise.all([me(token), load()]);
  // Unknown role (whoami refused): show the form and let the server decide.
  if (!who || WRITERS.includes(who.role)) container.append(noteForm(kind, id, token, opts, load));
}
