// The map's area and the list's time window as the focus of the bounded picture
// (docs/websocket.md, "Zooming and filtering"): the server sends a client its view's best
// N situations; zoomed into an area, or with a window set, the page asks it for the best
// of the view there too, and says how many of them it shows: "N of M in this area".
/* global L */
import { el } from "./format.js";

// The server takes at most this many countries; a map showing more shows the view itself.
const MAX_COUNTRIES = 64;
// A map being panned settles before it asks (the server applies a focus at most every
// 500 ms anyway, the latest one).
const SETTLE_MS = 300;
// A window is a fixed instant to the server: moved this often.
const WINDOW_EVERY_MS = 60_000;
const NONE = JSON.stringify({ type: "focus" }); // a connection starts with no focus
const NUM = new Intl.NumberFormat("en");

export class AreaFocus {
  // map is the PictureMap, send(msg) sends msg on the live connection (false when closed).
  constructor(map, send) {
    this.map = map;
    this.send = send;
    this.parts = null;      // [{iso, s, w, n, e}] per polygon of the base map
    this.countries = null;  // the area's countries, sorted; null: the map shows the view
    this.windowHours = 0;
    this.since = "";
    this.limit = 0;         // how many of the area to hold (0: the server's bound)
    this.sent = NONE;       // the focus last sent, as JSON
    this.state = null;      // the focus the server applied ({countries, since, limit, total})
    this.timer = 0;
    this.note = el("div", "area-note");
    this.note.id = "area-note";
    this.note.hidden = true;
    this.note.setAttribute("role", "status");
    this.note.addEventListener("click", e => { if (e.target.closest("button.area-more")) this.more(); });
    map.map.getContainer().parentElement.appendChild(this.note);
    setInterval(() => { if (this.windowHours) this.update(true); }, WINDOW_EVERY_MS);
  }

  // start indexes the base map's polygons (after loadBase) and follows the map.
  start() {
    this.parts = [];
    for (const f of this.map.features || []) {
      const iso = f.properties.iso;
      const g = f.geometry;
      if (!iso || !g) continue;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      for (const p of polys) {
        let s = 90, w = 540, n = -90, e = -540;
        for (const [lon, lat] of p[0] || []) {
          if (lat < s) s = lat; if (lat > n) n = lat;
          if (lon < w) w = lon; if (lon > e) e = lon;
        }
        if (n >= s) this.parts.push({ iso, s, w, n, e });
      }
    }
    this.map.map.on("moveend", () => this.schedule());
    this.schedule();
  }

  // areaCountries are the countries of the map's area, or null when the map shows the
  // whole of the view (its home extent, or more countries than a focus takes). A
  // country counts when one of its polygons' boxes meets the map's bounds: an overseas
  // part does not pull France into every view.
  areaCountries() {
    if (!this.parts) return null;
    const b = this.map.map.getBounds();
    if (b.contains(this.map.homeBounds())) return null;
    const s = b.getSouth(), n = b.getNorth(), w = b.getWest(), e = b.getEast();
    const set = new Set();
    for (const p of this.parts) if (p.n >= s && p.s <= n && p.e >= w && p.w <= e) set.add(p.iso);
    if (!set.size || set.size > MAX_COUNTRIES) return null;
    return [...set].sort();
  }

  // setWindow narrows the focus to what was seen in the last hours (0: any time).
  setWindow(hours) {
    this.windowHours = hours;
    this.update(true);
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.update(false), SETTLE_MS);
  }

  // focus is the focus message of the map's area and the window ({type:"focus"} alone: none).
  focus() {
    const f = { type: "focus" };
    if (this.countries) f.countries = this.countries;
    if (this.since) f.since = this.since;
    if (this.limit && (f.countries || f.since)) f.limit = this.limit;
    return f;
  }

  active() { return !!(this.countries || this.since); }

  // update sends the focus when it changed (moveWindow: the window's instant moves to now).
  update(moveWindow) {
    const countries = this.areaCountries();
    if (JSON.stringify(countries) !== JSON.stringify(this.countries)) this.limit = 0; // another area: its best N first
    this.countries = countries;
    if (moveWindow) this.since = this.windowHours ? new Date(Date.now() - this.windowHours * 3600e3).toISOString().replace(/\.\d+Z$/, "Z") : "";
    const msg = JSON.stringify(this.focus());
    if (msg === this.sent) return;
    if (this.send(this.focus())) this.sent = msg;
    if (this.last) this.render(...this.last); // the note alone: the picture changes when the answer comes
  }

  // more asks for as many again of the area (the server holds at most 20 times its bound).
  more() {
    const st = this.state;
    if (!st) return;
    this.limit = st.limit + (this.step || (this.step = st.limit));
    const msg = JSON.stringify(this.focus());
    if (this.send(this.focus())) this.sent = msg;
  }

  // resend sends the focus on a new connection (before its view, so that its snapshot
  // brings the focus too); nothing when there is none.
  resend() {
    this.sent = NONE;
    if (this.active() && this.send(this.focus())) this.sent = JSON.stringify(this.focus());
  }

  // setState takes the focus the server says it applied (a snapshot without one: none).
  setState(fs) { this.state = fs && (fs.countries.length || fs.since) ? fs : null; }

  // render says how many of the view's situations in the area (and window) the page
  // shows: N counted in list (the situations held, window applied), M the server's count
  // of the focus when it answered the one asked, else the background counts of the
  // countries (rest) added to N, which counts a situation of two of them twice.
  render(list, rest, bounded) {
    this.last = [list, rest, bounded];
    const on = this.active() && bounded;
    this.note.hidden = !on;
    if (!on) return;
    const area = this.countries ? new Set(this.countries) : null;
    let n = 0;
    for (const s of list) if (!area || (s.countries || []).some(c => area.has(c))) n++;
    const st = this.state;
    const answered = st && JSON.stringify(st.countries) === JSON.stringify(this.countries || []) && (st.since || "") === this.since;
    let m, exact = true;
    if (answered) m = Math.max(st.total, n);
    else if (area && rest) {
      m = n;
      for (const c of area) m += (rest.countries || {})[c] || 0;
      exact = false;
    }
    const where = area ? "in this area" : "";
    const when = this.windowHours ? `${where ? ", " : "in "}the last ${this.windowHours} h` : "";
    const names = area ? [...area].slice(0, 6).join(" ") + (area.size > 6 ? ` +${area.size - 6}` : "") : "";
    const head = m === undefined ? `${NUM.format(n)} shown` : `${NUM.format(n)} of ${exact ? "" : "≈"}${NUM.format(m)}`;
    const key = `${head}|${where}${when}|${names}`;
    if (this.note.dataset.key === key) return; // rendered with every delta: touch the page only when it changed
    this.note.dataset.key = key;
    const parts = [el("strong", "", head), el("span", "", ` ${where}${when}`)];
    if (names) parts.push(el("span", "area-countries", ` · ${names}`));
    if (answered && n < m) {
      const b = el("button", "area-more", "more");
      b.type = "button";
      b.title = "Load more of this area's situations";
      parts.push(b);
    }
    this.note.replaceChildren(...parts);
    this.note.dataset.shown = String(n);
    this.note.dataset.total = m === undefined ? "" : String(m);
    this.note.dataset.exact = String(exact && m !== undefined);
    this.note.title = answered
      ? `The map and list hold ${n} of the ${m} situations of this view ${where}${when}: the view's best and the best here.`
      : "Counting from the background counts; the server is asked for the best situations here.";
  }
}
