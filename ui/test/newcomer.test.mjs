// Browser tests of a newcomer's first day (issue 19): overlapping markers take their own
// clicks, the legend says what a number means, positions outside the country a situation
// names are marked, the detail panel keeps the selected marker in view and says when it
// scrolls, mission areas are labelled, sector chips keep to one row at 1366×768, the
// history page, a contributor's page and the liaison's dashboard. Helpers as in
// dashboard.test.mjs; every name carries the run's suffix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";
import { base } from "./server.mjs";

const env = process.env;
const RUN = env.COP_TEST_RUN;
const ART = env.COP_ARTIFACTS;
const T = { admin: env.COP_T_ADMIN, cert: env.COP_T_CERT, althea: env.COP_T_ALTHEA, analyst: env.COP_T_ANALYST, liaison: env.COP_T_LIAISON };
const ORIGIN = new URL(base).host;

let browser;
const violations = []; // requests that left 127.0.0.1, or carried a token in a URL other than the websocket's
const pageErrors = [];

const sha = s => createHash("sha256").update(`${RUN}:nc:${s}`).digest("hex");
let seq = 0;
function ev(o) {
  seq++;
  return {
    id: `nc-${RUN}-${seq}`, kind: "incident", observed_at: new Date().toISOString(), severity: "high",
    confidence: 70, tlp: "GREEN", category: "intrusions/system-compromise", sectors: ["energy"], ...o,
  };
}

async function pushRaw(body) {
  const r = await fetch(`${base}/api/v1/feeds?format=native`, {
    method: "POST", headers: { Authorization: `Bearer ${T.cert}`, "Content-Type": "application/json" }, body,
  });
  return [r.status, await r.json()];
}

async function push(events) {
  const [status, body] = await pushRaw(JSON.stringify(events));
  assert.equal(status, 202, JSON.stringify(body));
  assert.equal(body.accepted, events.length, JSON.stringify(body));
}

function checkURL(url) {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  const ok = (u.protocol === "http:" || u.protocol === "ws:") && u.host === ORIGIN;
  // The server takes tokens in headers only (the websocket aside): none may ride in a query.
  const leaks = u.protocol === "http:" && /token/i.test(u.search);
  if (!ok || leaks) violations.push(url);
  return ok;
}

async function newPage(width = 1920, height = 1080) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  await ctx.route("**/*", route => (checkURL(route.request().url()) ? route.continue() : route.abort()));
  const page = await ctx.newPage();
  page.on("websocket", ws => checkURL(ws.url()));
  page.on("pageerror", e => pageErrors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") pageErrors.push(m.text()); });
  return page;
}

async function open(tok, { width = 1920, height = 1080, hash = "" } = {}) {
  const page = await newPage(width, height);
  await page.goto(`${base}/#token=${tok}${hash}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 30_000 });
  return page;
}

const row = (page, text) => page.locator("#list li[data-id]", { hasText: text });
const single = (page, id) => page.locator(`.leaflet-marker-pane [data-id="${id}"]`);
const anyMarker = (page, id) => page.locator(`.leaflet-marker-pane [data-id="${id}"], .leaflet-marker-pane [data-ids~="${id}"]`);

async function waitRow(page, text) {
  const r = row(page, text).first();
  await r.waitFor({ timeout: 30_000 }); // generous: the machine these run on is shared
  return r.getAttribute("data-id");
}

async function shot(page, name) {
  await page.waitForTimeout(700); // map flights and canvas redraws settle
  await page.screenshot({ path: `${ART}/ui-newcomer-${name}.png` });
}

const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const centre = b => [b.x + b.width / 2, b.y + b.height / 2];

// stableBox waits until the element stops moving (a flight or pan ends) and returns its box.
async function stableBox(loc) {
  let last = null;
  for (let i = 0; i < 40; i++) {
    const b = await loc.boundingBox();
    if (b && last && Math.abs(b.x - last.x) < 0.5 && Math.abs(b.y - last.y) < 0.5) return b;
    last = b;
    await new Promise(r => setTimeout(r, 100));
  }
  return last;
}

// reveal selects the row of id (the map flies to it) and opens any cluster holding it, until
// its own marker is on the map.
async function reveal(page, text, id) {
  await row(page, text).first().click();
  for (let i = 0; i < 4 && !(await single(page, id).count()); i++) {
    const c = page.locator(`.leaflet-marker-pane [data-ids~="${id}"]`).first();
    await c.waitFor({ timeout: 10_000 });
    await stableBox(c);
    await c.click();
    await page.waitForTimeout(600); // the flight to the cluster's expansion zoom
  }
  await single(page, id).waitFor({ timeout: 10_000 });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // The data of every test below, pushed once.
  await push([
    ev({ title: `NC-A ${RUN} scanning of Tartu grid control`, countries: ["EE"], geo: { lat: 58.378, lon: 26.729 }, severity: "medium",
      observables: [{ type: "domain", value: `scan-${RUN}.example` }] }),
    ev({ title: `NC-B ${RUN} wiper on Tartu substation`, countries: ["EE"], geo: { lat: 58.378, lon: 26.7291 }, severity: "critical",
      observables: [{ type: "sha256", value: sha("wiper") }, { type: "ipv4", value: "198.51.100.77" }] }),
    ev({ title: `NC-OUT ${RUN} (PL) placed in Ukraine`, countries: ["PL"], geo: { lat: 49.84, lon: 31.11 },
      observables: [{ type: "domain", value: `out-${RUN}.example` }] }),
    ev({ title: `NC-IN ${RUN} (PL) Kraków`, countries: ["PL"], geo: { lat: 50.06, lon: 19.94 }, severity: "low",
      observables: [{ type: "domain", value: `in-${RUN}.example` }] }),
    ev({ title: `NC-EAST ${RUN} Samarkand grid`, countries: ["UZ"], geo: { lat: 39.65, lon: 66.96 },
      observables: [{ type: "domain", value: `east-${RUN}.example` }] }),
  ]);
  // A second report of the wiper's hash, later: the history shows two sightings.
  await push([ev({ title: `NC-B ${RUN} wiper seen again`, countries: ["EE"], geo: { lat: 58.378, lon: 26.7291 }, severity: "critical",
    observables: [{ type: "sha256", value: sha("wiper") }] })]);
});

after(async () => { await browser?.close(); });

test("two overlapping markers: each click opens the one under the cursor", { timeout: 120_000 }, async () => {
  const page = await open(T.admin);
  const a = await waitRow(page, `NC-A ${RUN}`);
  const b = await waitRow(page, `NC-B ${RUN}`);
  assert.notEqual(a, b);
  // Zoom in on them: select one from the list (the map flies there), then open the cluster.
  await reveal(page, `NC-A ${RUN}`, a);
  await page.keyboard.press("Escape");
  await page.locator("#detail").waitFor({ state: "hidden" });
  await single(page, b).waitFor({ timeout: 10_000 });
  const ba = await stableBox(single(page, a)), bb = await stableBox(single(page, b));
  assert.ok(!overlap(ba, bb), `markers overlap: ${JSON.stringify(ba)} ${JSON.stringify(bb)}`);
  await shot(page, "spread");
  for (const [id, box] of [[a, ba], [b, bb]]) {
    const now = await stableBox(single(page, id));
    await page.mouse.click(...centre(now || box));
    await page.locator(`#detail[data-id="${id}"]`).waitFor({ timeout: 10_000 });
    await page.keyboard.press("Escape");
    await page.locator("#detail").waitFor({ state: "hidden" });
  }
  await page.context().close();
});

test("the legend says what a number means; every mission area is labelled", { timeout: 60_000 }, async () => {
  const page = await open(T.admin);
  const legend = await page.locator("#legend").textContent();
  assert.match(legend, /how many situations/);
  assert.match(legend, /score/);
  assert.match(legend, /outside the country/);
  const missions = await (await fetch(`${base}/api/v1/missions`, { headers: { Authorization: `Bearer ${T.admin}` } })).json();
  await page.locator(".mission-label").first().waitFor();
  const labels = await page.locator(".mission-label").allTextContents();
  for (const m of missions) assert.ok(labels.includes(m.title || m.name), `no label for ${m.name}: ${labels}`);
  await shot(page, "overview-1920");
  await page.setViewportSize({ width: 1366, height: 768 });
  await shot(page, "overview-1366");
  await page.context().close();
});

test("a position outside the country the situation names is dashed and said", { timeout: 60_000 }, async () => {
  const page = await open(T.admin);
  const out = await waitRow(page, `NC-OUT ${RUN}`);
  const inside = await waitRow(page, `NC-IN ${RUN}`);
  await reveal(page, `NC-OUT ${RUN}`, out);
  await row(page, `NC-OUT ${RUN}`).first().click();
  assert.equal(await single(page, out).getAttribute("data-outside"), "PL");
  assert.match(await single(page, out).getAttribute("class"), /outside/);
  await page.locator("#detail .d-outside", { hasText: "position outside Poland (PL)" }).waitFor();
  await shot(page, "outside-1920");
  await reveal(page, `NC-IN ${RUN}`, inside);
  await row(page, `NC-IN ${RUN}`).first().click();
  assert.equal(await single(page, inside).getAttribute("data-outside"), null, "Warsaw is in Poland");
  assert.equal(await page.locator("#detail .d-outside").count(), 0);
  await page.context().close();
});

test("the detail panel does not hide the marker clicked", { timeout: 60_000 }, async () => {
  const page = await open(T.admin);
  const id = await waitRow(page, `NC-EAST ${RUN}`);
  const m = anyMarker(page, id).first();
  await m.waitFor();
  const before = await stableBox(m);
  // The test means something only if the marker starts where the panel opens (the map's right).
  const mapBox = await page.locator("#map").boundingBox();
  assert.ok(before.x > mapBox.x + mapBox.width - 440, `marker at x=${before.x} is not under the panel's place`);
  if (await single(page, id).count()) await single(page, id).click();
  else { await m.click(); await single(page, id).waitFor(); await stableBox(single(page, id)); await single(page, id).click(); }
  await page.locator(`#detail[data-id="${id}"]`).waitFor();
  const after = await stableBox(single(page, id));
  const panel = await page.locator("#detail").boundingBox();
  assert.ok(!overlap(after, panel), `the panel ${JSON.stringify(panel)} hides the marker ${JSON.stringify(after)}`);
  await page.context().close();
});

test("at 1366×768 the sector chips keep to one row and the detail panel says it scrolls", { timeout: 60_000 }, async () => {
  const page = await open(T.admin, { width: 1366, height: 768 });
  const tops = await page.locator("#f-sectors .sector").evaluateAll(bs => bs.map(b => Math.round(b.getBoundingClientRect().top)));
  assert.equal(new Set(tops).size, 1, `sector chips on ${new Set(tops).size} rows`);
  await waitRow(page, `NC-B ${RUN}`);
  await row(page, `NC-B ${RUN}`).first().click();
  const d = page.locator("#detail");
  await d.waitFor();
  const m = await d.evaluate(e => ({ sh: e.scrollHeight, ch: e.clientHeight, bottom: e.getBoundingClientRect().bottom }));
  assert.ok(m.bottom <= 768, `panel ends below the window: ${m.bottom}`);
  if (m.sh > m.ch) {
    assert.match(await d.getAttribute("class"), /more-below/, "a panel that scrolls says so");
    await shot(page, "detail-scrolls-1366");
    await d.evaluate(e => { e.scrollTop = e.scrollHeight; });
    await page.waitForFunction(() => !document.querySelector("#detail").classList.contains("more-below"));
  }
  await page.context().close();
});

test("the history page: from the detail panel, with the caller's identity, filtered", { timeout: 90_000 }, async () => {
  const page = await open(T.analyst);
  const id = await waitRow(page, `NC-B ${RUN}`);
  await row(page, `NC-B ${RUN}`).first().click();
  await page.locator(`#detail[data-id="${id}"] .d-hist`).click();
  await page.waitForURL(/history\.html#id=/);
  assert.ok(!page.url().includes("token"), `the history page's address carries the token: ${page.url()}`);
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
  // Both reports of the wiper, oldest first, and its hash with two sightings here.
  await page.locator("#events tr[data-id]").nth(1).waitFor();
  assert.match(await page.locator("#summary").textContent(), /wiper/);
  const hash = page.locator(`#observables tr[data-value="${sha("wiper")}"]`);
  await hash.waitFor();
  assert.equal((await hash.locator("td").nth(4).textContent()).trim(), "2");
  // An analyst also sees every sighting of it (the observables API).
  await page.waitForFunction(v => {
    const tr = document.querySelector(`#observables tr[data-value="${v}"]`);
    return tr && /^\d+\+?$/.test(tr.children[6].textContent.trim());
  }, sha("wiper"), { timeout: 10_000 });
  assert.ok(await page.locator("#timeline .tl-dot").count() >= 3);
  await shot(page, "history-1920");
  await page.setViewportSize({ width: 1366, height: 768 });
  await shot(page, "history-1366");
  // Back to the dashboard in the same tab: the token came along in session storage only.
  await page.locator("#back").click();
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  await page.context().close();

  // A commander whose area does not hold it: the same page says it is not in its view.
  const cmd = await newPage();
  await cmd.goto(`${base}/history.html#token=${T.althea}&id=${encodeURIComponent(id)}`);
  await cmd.locator('#status[data-state="denied"]', { hasText: "in this identity's view" }).waitFor({ timeout: 15_000 });
  assert.ok(!cmd.url().includes("token"), "the token stays out of the address bar");
  assert.equal(await cmd.locator("#events tr[data-id]").count(), 0);
  await cmd.context().close();
});

test("a contributor's token opens its own pushes, accepted and rejected with reasons", { timeout: 60_000 }, async () => {
  const [status, body] = await pushRaw(JSON.stringify([{ id: `nc-${RUN}-bad`, kind: "incident", observed_at: new Date().toISOString(), tlp: "GREEN", title: `NC ${RUN} no severity` }]));
  assert.equal(status, 422, JSON.stringify(body));
  const page = await newPage();
  await page.goto(`${base}/#token=${T.cert}`);
  await page.waitForURL(/contributor\.html/);
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
  await page.locator("#deadletters tr.bad", { hasText: "severity" }).first().waitFor({ timeout: 15_000 });
  await page.locator("#events tr[data-id]", { hasText: `NC-A ${RUN}` }).first().waitFor({ timeout: 15_000 });
  assert.match(await page.locator("#howto").textContent(), /cop push/);
  await shot(page, "contributor-1920");
  await page.setViewportSize({ width: 1366, height: 768 });
  await shot(page, "contributor-1366");
  await page.context().close();
});

test("a liaison officer gets the dashboard, every mission's area", { timeout: 60_000 }, async () => {
  const page = await open(T.liaison);
  await waitRow(page, `NC-A ${RUN}`);
  const opts = await page.locator("#f-mission option").allTextContents();
  assert.ok(opts.includes("All areas") && opts.length > 2, `missions offered: ${opts}`);
  await shot(page, "liaison-1920");
  await page.context().close();
});

test("no request leaves 127.0.0.1, none carries a token in its query, and no page logs an error", () => {
  assert.deepEqual(violations, []);
  assert.deepEqual(pageErrors.filter(e => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), []);
});
