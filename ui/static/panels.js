// The ranked list and the detail panel. Rows are focusable options: Enter or a click selects,
// arrow keys move between rows, Escape closes the detail panel.
import { el, tlpBadge, ago, utc, pretty, linkText, SEVERITY_COLOUR } from "./format.js";
import { renderNotes } from "./notes.js";

const MAX_ROWS = 300; // a commander reads the top of the list; the map shows the rest

export class SituationList {
  constructor(ol, empty, count, onSelect) {
    this.ol = ol;
    this.empty = empty;
    this.count = count;
    this.onSelect = onSelect;
    this.rows = new Map();
    this.open = new Set(); // campaigns whose situations are shown
    this.campaigns = new Map(); // campaign id -> campaign (the snapshot's, kept by the deltas)
    this.campaignOf = new Map(); // situation id -> campaign (from the last snapshot or refresh)
    this.last = { list: [], selected: "" };
    // The bounded picture (cop serve --view-top): the server sends the view's best situations
    // and counts the rest; scrolling to the end asks for more (onMore), and a campaign
    // holding situations not in the list fetches them when opened (fetchCampaign).
    this.rest = null;
    this.fetched = new Map(); // campaign id -> its situations, fetched when opened
    this.maxRows = MAX_ROWS;
    this.asking = 0;
    this.onMore = null;
    this.fetchCampaign = null;
    ol.addEventListener("keydown", e => this.key(e));
    ol.addEventListener("scroll", () => {
      if (ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 80) this.more();
    }, { passive: true });
    ol.addEventListener("click", e => {
      if (e.target.closest("li.more")) return this.more();
      const c = e.target.closest("li[data-campaign]");
      if (c) return this.toggle(c.dataset.campaign);
      const li = e.target.closest("li[data-id]");
      if (li) this.onSelect(li.dataset.id, "list");
    });
  }

  // setCampaigns takes the campaigns the server grouped (picture.GroupCampaigns): a list
  // shows each as one row, opening onto its situations.
  setCampaigns(campaigns) {
    this.campaigns = new Map((campaigns || []).map(c => [c.id, c]));
    this.indexCampaigns();
  }

  // updateCampaigns applies a delta's campaigns (those that changed) and the ids of those
  // that left the list.
  updateCampaigns(campaigns, removed) {
    for (const c of campaigns || []) this.campaigns.set(c.id, c);
    for (const id of removed || []) this.campaigns.delete(id);
    this.indexCampaigns();
  }

  indexCampaigns() {
    this.campaignOf = new Map();
    for (const c of this.campaigns.values()) for (const id of c.situations) this.campaignOf.set(id, c);
  }

  // setRest takes the counts of what the view holds beyond the situations sent (null: the
  // whole view was sent).
  setRest(rest) {
    this.rest = rest;
    this.asking = 0;
  }

  // more shows more rows, asking the server for more situations when it holds more.
  more() {
    if (this.asking && Date.now() - this.asking < 3000) return;
    const items = this.items(this.last.list).length;
    if (items > this.maxRows) {
      this.maxRows += MAX_ROWS;
      this.render(this.last.list, this.last.selected);
    }
    if (this.rest && this.rest.total > 0 && this.onMore && this.onMore()) {
      this.asking = Date.now();
      this.maxRows = Math.max(this.maxRows, items + MAX_ROWS);
    }
  }

  // fetchedSituation is a situation of an opened campaign that the list does not hold.
  fetchedSituation(id) {
    if (!id) return undefined;
    for (const sits of this.fetched.values()) for (const s of sits) if (s.id === id) return s;
    return undefined;
  }

  toggle(id) {
    if (this.open.has(id)) this.open.delete(id); else this.open.add(id);
    const c = this.campaigns.get(id);
    if (this.open.has(id) && c && c.members > c.situations.length && !this.fetched.has(id) && this.fetchCampaign) {
      this.fetched.set(id, []);
      this.fetchCampaign(id).then(r => {
        this.fetched.set(id, r.situations || []);
        this.render(this.last.list, this.last.selected);
      }).catch(() => this.fetched.delete(id));
    }
    this.render(this.last.list, this.last.selected);
    const li = this.ol.querySelector(`li[data-campaign="${CSS.escape(id)}"]`);
    if (li) li.focus({ preventScroll: true });
  }

  // items groups list (best first) into rows: a situation alone, or a campaign of two or
  // more of the listed situations, placed where its best one ranks.
  items(list) {
    const members = new Map();
    for (const s of list) {
      const c = this.campaignOf.get(s.id);
      if (!c) continue;
      if (!members.has(c.id)) members.set(c.id, []);
      members.get(c.id).push(s);
    }
    const out = [], done = new Set();
    for (const s of list) {
      const c = this.campaignOf.get(s.id);
      if (!c || Math.max(members.get(c.id).length, c.members || 0) < 2) { out.push({ s }); continue; }
      if (done.has(c.id)) continue;
      done.add(c.id);
      out.push({ c, sits: members.get(c.id) });
    }
    return out;
  }

  key(e) {
    const li = e.target.closest("li[data-id], li[data-campaign]");
    if (!li) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (li.dataset.campaign) this.toggle(li.dataset.campaign); else this.onSelect(li.dataset.id, "list");
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = e.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
      if (next) next.focus();
    }
  }

  render(list, selected) {
    this.last = { list, selected };
    const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : "";
    const now = Date.now();
    const items = this.items(list);
    const rows = [];
    for (const it of items.slice(0, this.maxRows)) {
      if (it.s) { rows.push(this.row(it.s, it.s.id === selected, now)); continue; }
      const open = this.open.has(it.c.id) || it.sits.some(s => s.id === selected);
      rows.push(this.campaignRow(it.c, it.sits, open));
      if (!open) continue;
      for (const s of it.sits) rows.push(this.row(s, s.id === selected, now, true));
      // Members the list does not hold, as they were when the campaign was opened.
      const listed = new Set(it.sits.map(s => s.id));
      for (const s of this.fetched.get(it.c.id) || []) {
        if (listed.has(s.id)) continue;
        const li = this.row(s, false, now, true);
        li.classList.add("fetched");
        li.dataset.fetched = "true";
        li.title = "not in the live list: as it was when the campaign was opened";
        rows.push(li);
      }
    }
    const rest = this.rest ? this.rest.total : 0;
    if (rest > 0 || items.length > this.maxRows) rows.push(this.moreRow(rest, Math.max(0, items.length - this.maxRows)));
    this.ol.replaceChildren(...rows);
    this.empty.hidden = list.length > 0;
    const n = items.length;
    const what = n === list.length ? String(n) : `${n} items · ${list.length} situations`;
    this.count.textContent = (n > this.maxRows ? `top ${this.maxRows} of ${what}` : what) + (rest ? ` · ${rest} more` : "");
    if (focusedId) {
      const li = this.ol.querySelector(`li[data-id="${CSS.escape(focusedId)}"]`);
      if (li) li.focus({ preventScroll: true });
    }
  }

  // moreRow ends a list that holds less than the view: how many more, where (the counts
  // the server keeps of the rest), and that scrolling here loads them.
  moreRow(rest, hidden) {
    const li = el("li", "row more");
    li.tabIndex = 0;
    const top = (m, k) => Object.entries(m || {}).sort((a, b) => b[1] - a[1]).slice(0, k);
    const where = this.rest ? top(this.rest.countries, 4).map(([c, n]) => `${c} ${n}`).join(" · ") : "";
    const main = el("div", "row-main");
    main.append(el("div", "row-title", `${(rest + hidden).toLocaleString()} more in this view — scroll to load`));
    if (where) main.append(el("div", "row-meta", where));
    li.append(main);
    return li;
  }

  // campaignRow is one campaign: its best situation's score and title, how many of the
  // listed situations it holds, and the links that grouped them.
  campaignRow(c, sits, open) {
    const best = sits[0];
    const li = el("li", "row campaign sev-" + best.severity);
    li.dataset.campaign = c.id;
    li.tabIndex = 0;
    li.setAttribute("role", "option");
    li.setAttribute("aria-expanded", open ? "true" : "false");
    const score = el("span", "score", Math.round(best.score));
    score.title = `best score ${best.score.toFixed(1)} — ${best.severity}`;
    const main = el("div", "row-main");
    const title = el("div", "row-title", (open ? "▾ " : "▸ ") + (best.title || "(untitled)"));
    title.title = best.title || "";
    const meta = el("div", "row-meta");
    const total = Math.max(c.members || 0, sits.length);
    meta.appendChild(el("span", "chip campaign-chip", `campaign · ${total} situations` + (total > sits.length ? ` (${sits.length} listed)` : "")));
    const links = c.links || [];
    if (links.length) {
      const why = el("span", "who", links.slice(0, 2).map(linkText).join("; "));
      why.title = links.map(l => `${l.kind} ${l.key} (${l.situations} situations)`).join("\n");
      meta.appendChild(why);
    }
    main.append(title, meta);
    const right = el("div", "row-right");
    right.append(tlpBadge(best.tlp), el("span", "ev", `${sits.reduce((n, s) => n + (s.event_count || 0), 0)} ev`));
    li.append(score, main, right);
    return li;
  }

  row(s, isSel, now, member) {
    const li = el("li", "row sev-" + s.severity + (member ? " member" : ""));
    li.dataset.id = s.id;
    li.dataset.events = String(s.event_count || 0);
    li.tabIndex = 0;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", isSel ? "true" : "false");
    if (isSel) li.classList.add("selected");
    const score = el("span", "score", Math.round(s.score));
    score.title = `score ${s.score.toFixed(1)} — ${s.severity}`;
    const main = el("div", "row-main");
    const title = el("div", "row-title", s.title || "(untitled)");
    title.title = s.title || "";
    const meta = el("div", "row-meta");
    for (const sec of (s.sectors || []).slice(0, 3)) meta.appendChild(el("span", "chip", pretty(sec)));
    const who = (s.contributors || []).map(c => c.name);
    meta.appendChild(el("span", "who", who.slice(0, 3).join(", ") + (who.length > 3 ? ` +${who.length - 3}` : "")));
    main.append(title, meta);
    const right = el("div", "row-right");
    right.append(tlpBadge(s.tlp), el("span", "ev", `${s.event_count} ev`), el("span", "when", ago(s.last_seen || s.updated_at, now)));
    li.append(score, main, right);
    return li;
  }

  reveal(id) {
    const li = this.ol.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (li) li.scrollIntoView({ block: "nearest" });
  }
}

function factor(name, value, hint) {
  const row = el("div", "factor");
  row.append(el("span", "f-name", name));
  const bar = el("span", "f-bar");
  const fill = el("span", "f-fill");
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, value)) * 100)}%`;
  bar.appendChild(fill);
  row.append(bar, el("span", "f-val", value.toFixed(2)));
  if (hint) row.title = hint;
  return row;
}

function field(dl, name, value) {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
  dl.append(el("dt", "", name));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value); else dd.textContent = Array.isArray(value) ? value.join(", ") : String(value);
  dl.append(dd);
}

// renderDetail fills panel with everything a commander needs about s, first of all why it
// scores what it scores.
export function renderDetail(panel, s, countryName, onClose, extra = {}) {
  const head = el("div", "d-head");
  const close = el("button", "d-close", "×");
  close.type = "button";
  close.title = "Close (Escape)";
  close.setAttribute("aria-label", "Close detail");
  close.addEventListener("click", onClose);
  const score = el("div", "d-score", Math.round(s.score));
  score.style.borderColor = SEVERITY_COLOUR[s.severity] || "#888";
  const ht = el("div", "d-htext");
  ht.append(el("h3", "d-title", s.title || "(untitled)"));
  const badges = el("div", "d-badges");
  const sev = el("span", "sev-badge sev-" + s.severity, s.severity);
  badges.append(sev, tlpBadge(s.tlp), el("span", "d-kind", [s.kind, s.category].filter(Boolean).join(" · ")));
  ht.append(badges);
  head.append(score, ht, close);

  const ex = s.explanation || {};
  const why = el("section", "d-why");
  why.append(el("h4", "", "Why this score"));
  why.append(el("p", "d-formula", `score = 100 × severity × corroboration × criticality × decay × recency = ${s.score.toFixed(1)}`));
  why.append(
    factor("Severity", ex.severity || 0, `${s.severity}`),
    factor("Corroboration", ex.corroboration || 0, `evidence ${(ex.evidence || 0).toFixed(2)} from ${ex.corroborations || 0} independent contributor(s); confidence ${Math.round(s.confidence)}% is shown, not scored`),
    factor("Criticality", ex.criticality || 0, "of the sectors hit"),
    factor("Decay", ex.decay || 0, `age ${(ex.age_hours || 0).toFixed(1)} h`),
    factor("Recency", ex.recency || 0, "the fresher of equal situations ranks higher"),
  );
  if (s.rank) {
    why.append(el("p", "d-formula", `order in this mission's view = score × (0.5 + 0.5 × relevance) = ${s.rank.toFixed(1)}`));
    why.append(factor("Relevance", ex.relevance || 0, "to this mission's area and sectors of interest"));
  }
  const facts = el("p", "d-facts");
  facts.textContent = `${ex.corroborations || 0} corroboration(s) · age ${(ex.age_hours || 0).toFixed(1)} h · confidence ${Math.round(s.confidence)}%`;
  why.append(facts);
  if (ex.text) why.append(el("p", "d-text", ex.text));

  const dl = el("dl", "d-fields");
  field(dl, "Events", `${s.event_count}`);
  field(dl, "Contributors", (s.contributors || []).map(c => c.name));
  field(dl, "Countries", (s.countries || []).map(c => `${countryName(c)} (${c})`));
  field(dl, "Sectors", (s.sectors || []).map(pretty));
  field(dl, "Techniques", s.techniques);
  if (s.geo) {
    const pos = el("span", "", `${s.geo.lat.toFixed(3)}, ${s.geo.lon.toFixed(3)}`);
    const out = extra.outside || [];
    if (out.length) {
      // Drawn dashed on the map: the reported position contradicts the countries reported.
      const w = el("span", "d-outside", ` ⚠ position outside ${out.map(c => `${countryName(c)} (${c})`).join(", ")}`);
      w.title = "The reported position lies in none of the countries the situation names; check the source.";
      pos.append(w);
    }
    field(dl, "Position", pos);
  }
  field(dl, "Releasable to", s.releasable_to);
  field(dl, "First seen", utc(s.first_seen));
  field(dl, "Last seen", `${utc(s.last_seen)} (${ago(s.last_seen)})`);
  field(dl, "Exercise", s.exercise);
  // The history page, in this tab: it takes the token from this tab's session storage, so
  // the link carries only the situation (and exercise) in its fragment.
  const hist = el("a", "d-hist", "history →");
  const hq = new URLSearchParams({ id: s.id });
  if (s.exercise || extra.exercise) hq.set("exercise", s.exercise || extra.exercise);
  hist.href = `history.html#${hq}`;
  hist.title = "Events, observables and their sightings over time";
  const idLine = el("span", "mono", s.id + " v" + s.version + " ");
  idLine.append(hist);
  field(dl, "Situation", idLine);

  const obs = el("section", "d-obs");
  obs.append(el("h4", "", `Observables (${(s.observables || []).length})`));
  const ul = el("ul", "obs");
  for (const o of s.observables || []) {
    const li = el("li");
    li.append(el("span", "o-type", o.type), el("span", "o-val mono", o.value));
    ul.append(li);
  }
  obs.append(ul);

  // The assessments stay as they are while the same situation is re-rendered (a delta, the
  // clock): a note being typed keeps its text and focus.
  let notes = panel.querySelector(":scope > .notes");
  if (!notes || panel.dataset.id !== s.id || notes.dataset.exercise !== (s.exercise || "")) {
    notes = el("section", "notes");
    notes.dataset.exercise = s.exercise || "";
    renderNotes(notes, "situation", s.id, undefined, { exercise: s.exercise || "" });
    panel.replaceChildren(notes);
  }
  for (const c of [...panel.children]) if (c !== notes) c.remove();
  notes.before(head, why, dl);
  notes.after(obs);
  panel.dataset.id = s.id;
  panel.hidden = false;
}
