// Browser tests of the commander's dashboard against a real `cop serve` (started by run.sh)
// on real Kafka and ClickHouse. Every name carries the run's suffix: the services keep data
// between runs, so a test must only look at what it pushed itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";
import { base, startServer, stopServer } from "./server.mjs";

const env = process.env;
const RUN = env.COP_TEST_RUN;
const ART = env.COP_ARTIFACTS;
const T = { admin: env.COP_T_ADMIN, cert: env.COP_T_CERT, althea: env.COP_T_ALTHEA, analyst: env.COP_T_ANALYST };
const ADMIN_NAME = `ui-test-admin-${RUN}`;
const ORIGIN = new URL(base).host; // 127.0.0.1:PORT

let browser;
const requests = [];   // every URL any page asked for
const violations = []; // any that left 127.0.0.1
const pageErrors = [];

const sha = s => createHash("sha256").update(`${RUN}:${s}`).digest("hex");
let seq = 0;
function ev(o) {
  seq++;
  return {
    id: `ui-${RUN}-${seq}`, kind: "incident", observed_at: new Date().toISOString(), severity: "high",
    confidence: 70, tlp: "GREEN", category: "intrusions/system-compromise", sectors: ["energy"], ...o,
  };
}

async function push(events, exercise = "") {
  const q = new URLSearchParams({ format: "native" });
  if (exercise) q.set("exercise", exercise);
  const r = await fetch(`${base}/api/v1/feeds?${q}`, {
    method: "POST", headers: { Authorization: `Bearer ${T.cert}`, "Content-Type": "application/json" },
    body: JSON.stringify(events),
  });
  const body = await r.json();
  assert.equal(r.status, 202, JSON.stringify(body));
  assert.equal(body.accepted, events.length, JSON.stringify(body));
  return performance.now();
}

function checkURL(url) {
  requests.push(url);
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  const ok = (u.protocol === "http:" || u.protocol === "ws:") && u.host === ORIGIN;
  if (!ok) violations.push(url);
  return ok;
}

// open returns a 1920×1080 page on the dashboard as the identity of tok.
async function open(tok, hash = "") {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  await ctx.route("**/*", route => (checkURL(route.request().url()) ? route.continue() : route.abort()));
  const page = await ctx.newPage();
  page.on("request", r => { if (!requests.includes(r.url())) checkURL(r.url()); });
  page.on("websocket", ws => checkURL(ws.url()));
  page.on("pageerror", e => pageErrors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") pageErrors.push(m.text()); });
  await page.goto(`${base}/#token=${tok}${hash}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  return page;
}

const row = (page, text) => page.locator("#list li[data-id]", { hasText: text });
const marker = (page, id) => page.locator(`.leaflet-marker-pane [data-id="${id}"], .leaflet-marker-pane [data-ids~="${id}"]`);

async function shot(page, name) {
  await page.waitForTimeout(700); // let map flights and canvas redraws settle
  await page.screenshot({ path: `${ART}/ui-${name}.png` });
}

// waitRow waits for a row with text and returns [id, ms since t0].
async function waitRow(page, text, t0, timeout = 15_000) {
  const r = row(page, text).first();
  try {
    await r.waitFor({ timeout });
  } catch (err) {
    // Known server bug: each `cop serve` start mints situation ids from the same sequence, so
    // a new situation can take the id of an older one from a previous run, and the API's
    // picture keeps the higher version, dropping the new one.
    throw new Error(`"${text}" not on screen after ${timeout} ms (if the server log shows it correlated, suspect a ` +
      `situation id reused across cop serve restarts: correlate.Config.Instance is the same every start)`, { cause: err });
  }
  const ms = performance.now() - t0;
  return [await r.getAttribute("data-id"), ms];
}

before(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

test("a pushed event shows as a marker and a ranked row", { timeout: 120_000 }, async () => {
  const page = await open(T.admin);
  const title = `Grid SCADA intrusion Tallinn ${RUN}`;
  const t0 = await push([ev({ title, countries: ["EE"], geo: { lat: 59.44, lon: 24.75 }, severity: "critical",
    observables: [{ type: "domain", value: `scada-${RUN}.example` }] })]);
  const [id, first] = await waitRow(page, title, t0);
  console.log(`latency (first push, pipeline warming): ${first.toFixed(0)} ms`);
  await marker(page, id).first().waitFor({ timeout: 2000 });

  // Steady state: the pipeline is warm, so the 2 s budget applies.
  const title2 = `Telecom DDoS Warsaw ${RUN}`;
  const t1 = await push([ev({ title: title2, countries: ["PL"], geo: { lat: 52.23, lon: 21.01 }, category: "availability/ddos",
    sectors: ["telecom"], severity: "medium", observables: [{ type: "sha256", value: sha("ddos") }] })]);
  const [id2, warm] = await waitRow(page, title2, t1, 15_000);
  await marker(page, id2).first().waitFor({ timeout: 2000 });
  const warm2 = performance.now() - t1;
  console.log(`latency (warm push → row and marker): ${warm2.toFixed(0)} ms (row ${warm.toFixed(0)} ms)`);
  assert.ok(warm2 < 2000, `warm push took ${warm2.toFixed(0)} ms, want < 2000`);

  // Clicking the row selects it in both: detail panel with the explanation, marker ringed.
  await row(page, title).first().click();
  await page.locator(`#detail[data-id="${id}"]`).waitFor();
  for (const f of ["Severity", "Corroboration", "Criticality", "Decay", "Recency"]) {
    assert.ok(await page.locator("#detail .factor", { hasText: f }).count() === 1, `factor ${f} shown`);
  }
  await page.locator("#detail .tlp-green").first().waitFor();
  await page.locator(".leaflet-marker-pane .sit-marker.selected").first().waitFor();
  await shot(page, "1-live-detail");
  // Escape closes the detail; keyboard Enter on a focused row reopens it.
  await page.keyboard.press("Escape");
  await page.locator("#detail").waitFor({ state: "hidden" });
  await row(page, title2).first().focus();
  await page.keyboard.press("Enter");
  await page.locator(`#detail[data-id="${id2}"]`).waitFor();
  // The smaller screen of the brief: everything must still fit.
  await page.setViewportSize({ width: 1366, height: 768 });
  await shot(page, "1b-1366x768");
  await page.context().close();
});

test("a bridging event merges two situations on screen", { timeout: 120_000 }, async () => {
  const page = await open(T.admin);
  const tag = `MERGE-${RUN}`;
  const X = { type: "domain", value: `c2-${RUN}-x.example` };
  const Y = { type: "sha256", value: sha("merge-y") };
  let t0 = await push([ev({ title: `${tag} beacon to C2 (Vilnius)`, countries: ["LT"], geo: { lat: 54.69, lon: 25.28 }, observables: [X] })]);
  const [a] = await waitRow(page, `${tag} beacon`, t0);
  t0 = await push([ev({ title: `${tag} dropper on pipeline HMI (Riga)`, countries: ["LV"], geo: { lat: 56.95, lon: 24.1 }, observables: [Y] })]);
  const [b] = await waitRow(page, `${tag} dropper`, t0);
  assert.notEqual(a, b);
  await shot(page, "2a-before-merge");
  t0 = await push([ev({ title: `${tag} bridge: dropper calls C2`, countries: ["LT", "LV"], severity: "critical", observables: [X, Y] })]);
  await page.waitForFunction(t => {
    const rows = [...document.querySelectorAll("#list li[data-id]")].filter(li => li.textContent.includes(t));
    return rows.length === 1 && rows[0].dataset.events === "3";
  }, tag, { timeout: 15_000 });
  console.log(`merge visible after ${(performance.now() - t0).toFixed(0)} ms`);
  const merged = await row(page, tag).getAttribute("data-id");
  for (const old of [a, b].filter(x => x !== merged)) {
    assert.equal(await page.locator(`#list li[data-id="${old}"]`).count(), 0, `old row ${old} gone`);
    assert.equal(await marker(page, old).count(), 0, `old marker ${old} gone`);
  }
  await row(page, tag).click();
  await page.locator("#detail .obs li").nth(1).waitFor();
  await shot(page, "2b-merged");
  await page.context().close();
});

test("situations on neighbouring infrastructure show as one campaign row that opens onto them", { timeout: 120_000 }, async () => {
  const net = `100.${64 + parseInt(sha("net").slice(0, 2), 16) % 64}.${parseInt(sha("net").slice(2, 4), 16)}`;
  const tag = `Campaign ${RUN}`;
  const t0 = await push([1, 2, 3].map(i => ev({ title: `${tag} wave ${i}`, countries: ["EE"], geo: { lat: 59.4, lon: 24.7 },
    severity: i === 1 ? "critical" : "high", observables: [{ type: "ipv4", value: `${net}.${i}` }] })));
  const page = await open(T.admin);
  // A snapshot taken once the three are correlated groups them (deltas do not regroup; the
  // page refreshes its campaigns every 15 s): reload until it has.
  const head = page.locator("#list li[data-campaign]", { hasText: tag });
  for (let i = 0; i < 20 && !(await head.count()); i++) {
    await page.waitForTimeout(1000);
    await page.reload();
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  }
  await head.first().waitFor({ timeout: 5_000 });
  console.log(`campaign row on screen ${(performance.now() - t0).toFixed(0)} ms after the push`);
  assert.match(await head.first().textContent(), /campaign · 3 situations/);
  assert.equal(await head.first().getAttribute("aria-expanded"), "false");
  assert.equal(await row(page, tag).count(), 0, "a closed campaign shows no situation row");
  assert.match(await page.locator("#list-count").textContent(), /items · \d+ situations/);
  await head.first().click();
  await row(page, `${tag} wave 2`).first().waitFor({ timeout: 2000 });
  assert.equal(await row(page, tag).count(), 3);
  await shot(page, "campaign-open");
  await page.context().close();
});

test("a EUFOR Althea commander sees only its area and up to its TLP ceiling", { timeout: 120_000 }, async () => {
  const tag = `ALTHEA-${RUN}`;
  const cmd = await open(T.althea);
  const admin = await open(T.admin);
  const evs = [
    ev({ title: `${tag} visible: ministry phishing Sarajevo`, countries: ["BA"], geo: { lat: 43.86, lon: 18.41 }, tlp: "GREEN",
      sectors: ["public-administration"], observables: [{ type: "domain", value: `mod-ba-${RUN}.example` }] }),
    ev({ title: `${tag} hidden: port of Mogadishu`, countries: ["SO"], geo: { lat: 2.04, lon: 45.34 }, tlp: "GREEN",
      sectors: ["transport"], observables: [{ type: "domain", value: `port-so-${RUN}.example` }] }),
    ev({ title: `${tag} hidden: RED grid`, countries: ["BA"], tlp: "RED", releasable_to: ["EUFOR-ALTHEA", ADMIN_NAME],
      observables: [{ type: "sha256", value: sha("red") }] }),
    ev({ title: `${tag} hidden: AMBER+STRICT telecom`, countries: ["BA"], geo: { lat: 44.77, lon: 17.19 }, tlp: "AMBER+STRICT",
      sectors: ["telecom"], observables: [{ type: "sha256", value: sha("strict") }] }),
  ];
  const t0 = await push(evs);
  // The admin (cleared for all four) proves they all reached the picture.
  await admin.waitForFunction(t => [...document.querySelectorAll("#list li[data-id]")].filter(li => li.textContent.includes(t)).length === 4,
    tag, { timeout: 15_000 });
  await waitRow(cmd, `${tag} visible`, t0);
  await cmd.waitForTimeout(600); // several hub ticks: anything leaking would have arrived
  const shown = await cmd.locator("#list li[data-id]", { hasText: tag }).allTextContents();
  assert.equal(shown.length, 1, `commander sees ${JSON.stringify(shown)}`);
  assert.match(shown[0], /visible/);
  const opts = await cmd.locator("#f-mission option").allTextContents();
  assert.deepEqual(opts, ["EUFOR Althea"]);
  await row(cmd, `${tag} visible`).click();
  await shot(cmd, "3-commander-althea");
  // The snapshot path too: a reload must not show more.
  await cmd.reload();
  await cmd.waitForSelector('#status[data-state="live"]');
  await waitRow(cmd, `${tag} visible`, performance.now());
  assert.equal(await cmd.locator("#list li[data-id]", { hasText: tag }).count(), 1);
  await cmd.context().close();
  // A situation without a position shades its country; selecting it outlines the country.
  await row(admin, `${tag} hidden: RED grid`).click();
  await admin.locator("#detail .tlp-red").first().waitFor();
  await shot(admin, "3b-admin-country-shading");
  await admin.context().close();
});

test("exercise traffic shows under an EXERCISE banner and never in the real picture", { timeout: 120_000 }, async () => {
  const tag = `EX-${RUN}`;
  const ex = await open(T.analyst, "&exercise=CYDEF-X");
  const real = await open(T.analyst);
  assert.equal(await real.locator("#banner").isVisible(), false);
  assert.equal(await ex.locator("#banner").isVisible(), true);
  assert.match(await ex.locator("#banner").textContent(), /EXERCISE.*CYDEF-X/);
  const t0 = await push([ev({ title: `${tag} simulated wiper on Mostar substation`, countries: ["BA"], geo: { lat: 43.34, lon: 17.81 },
    severity: "critical", observables: [{ type: "domain", value: `wiper-${RUN}.example` }] })], "CYDEF-X");
  const [id] = await waitRow(ex, tag, t0);
  await ex.waitForTimeout(600);
  assert.equal(await real.locator("#list li[data-id]", { hasText: tag }).count(), 0, "exercise situation in the real picture");
  assert.equal(await real.locator(`[data-id="${id}"]`).count(), 0);
  await row(ex, tag).click();
  await shot(ex, "4-exercise");
  // Switching the same page back to the real picture drops the banner and the situation.
  await ex.selectOption("#f-exercise", "");
  await ex.locator("#banner").waitFor({ state: "hidden" });
  await ex.waitForFunction(() => document.querySelector("#detail").hidden);
  assert.equal(await ex.locator("#list li[data-id]", { hasText: tag }).count(), 0);
  await ex.context().close();
  await real.context().close();
});

test("the page reconnects after the server restarts", { timeout: 180_000 }, async () => {
  const page = await open(T.admin);
  const title = `Grid SCADA intrusion Tallinn ${RUN}`;
  await row(page, title).first().waitFor({ timeout: 10_000 });
  const before = await page.locator("#list li[data-id]").count();
  await stopServer();
  await page.waitForSelector('#status[data-state="down"]', { timeout: 15_000 });
  await shot(page, "5a-disconnected");
  const t0 = performance.now();
  const readyMs = await startServer();
  await page.waitForSelector('#status[data-state="live"]', { timeout: 30_000 });
  await row(page, title).first().waitFor({ timeout: 15_000 });
  console.log(`reconnected: server ready in ${readyMs} ms, page live ${(performance.now() - t0).toFixed(0)} ms after restart began`);
  assert.ok(await page.locator("#list li[data-id]").count() >= before, "situations back");
  await shot(page, "5b-reconnected");
  await page.context().close();
});

test("no request leaves 127.0.0.1 and the page logs no error", () => {
  console.log(`${requests.length} requests recorded, all to ${ORIGIN}`);
  assert.ok(requests.length > 20, "requests were recorded");
  assert.deepEqual(violations, []);
  assert.deepEqual(pageErrors.filter(e => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), []);
});
