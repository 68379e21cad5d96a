// Browser tests of the dashboard's alerts (docs/alerts.md) against the real `cop serve`
// run.sh starts: a situation pushed in EUFOR Althea's area (Bosnia, BA) raises the alert
// banner on Althea's commander page within 2 s and never on Atalanta's; acknowledging it
// is audited and it stays gone after a reload. Then the alert latency is measured (not a
// pass/fail figure): from the server raising the alert to the page receiving it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";
import { base } from "./server.mjs";

const env = process.env;
const RUN = env.COP_TEST_RUN;
const ART = env.COP_ARTIFACTS;
const T = { cert: env.COP_T_CERT, althea: env.COP_T_ALTHEA, atalanta: env.COP_T_ATALANTA, admin: env.COP_T_ADMIN };
const ALTHEA_NAME = `ui-test-althea-${RUN}`;
const ORIGIN = new URL(base).host;
const CH_HTTP = `http://127.0.0.1:${env.COP_CH_HTTP_PORT || 18123}`;
const CH_DB = env.COP_CH_DATABASE || "cop";
// A single contributor's critical report scores about 14 (docs/scoring.md): these pages
// set their alert threshold low (#alert_score=) so that one push crosses it; the
// default, 40, wants corroboration.
const LOW = "&alert_score=5";

let browser;
const pageErrors = [];
const violations = [];

const sha = s => createHash("sha256").update(`${RUN}:alerts:${s}`).digest("hex");
let seq = 0;
function ev(o) {
  seq++;
  return {
    id: `ui-alerts-${RUN}-${seq}`, kind: "incident", observed_at: new Date().toISOString(), severity: "critical",
    confidence: 80, tlp: "GREEN", category: "intrusions/system-compromise", sectors: ["energy"], ...o,
  };
}

async function push(events) {
  const r = await fetch(`${base}/api/v1/feeds?format=native`, {
    method: "POST", headers: { Authorization: `Bearer ${T.cert}`, "Content-Type": "application/json" },
    body: JSON.stringify(events),
  });
  const body = await r.json();
  assert.equal(r.status, 202, JSON.stringify(body));
  return performance.now();
}

async function open(tok, hash = "") {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  await ctx.route("**/*", route => {
    const u = new URL(route.request().url());
    const ok = ["data:", "blob:", "about:"].includes(u.protocol) || u.host === ORIGIN;
    if (!ok) violations.push(u.href);
    return ok ? route.continue() : route.abort();
  });
  const page = await ctx.newPage();
  page.on("pageerror", e => pageErrors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") pageErrors.push(m.text()); });
  await page.goto(`${base}/#token=${tok}${hash}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  return page;
}

const banner = (page, text) => page.locator(".alert-item", { hasText: text });

async function shot(page, name) {
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${ART}/ui-alerts-${name}.png` });
}

// chCount runs a count() on ClickHouse's HTTP interface.
async function chCount(sql) {
  const r = await fetch(`${CH_HTTP}/?query=${encodeURIComponent(sql)}`);
  const text = await r.text();
  assert.ok(r.ok, text);
  return Number(text.trim());
}

async function eventually(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await f()) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise(r => setTimeout(r, 200));
  }
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

test("a situation in Bosnia alerts EUFOR Althea's commander within 2 s, not Atalanta's; an acknowledged alert is audited and stays gone", { timeout: 120_000 }, async () => {
  const althea = await open(T.althea, LOW);
  const atalanta = await open(T.atalanta, LOW);
  // Warm the pipeline (the first push of a run waits on Kafka's group join, and each
  // partition's reader on its first fetch): situations in Atalanta's area, spread over
  // the partitions, whose alerts Atalanta's page must get.
  const WARM = 12;
  await push(Array.from({ length: WARM }, (_, i) => ev({ title: `Port crane ransomware Mogadishu ${i} ${RUN}`, countries: ["SO"],
    sectors: ["transport"], observables: [{ type: "domain", value: `crane-${i}-${RUN}.example` }] })));
  await atalanta.waitForFunction(n => window.copAlertTimes.length >= n, WARM, { timeout: 60_000 });

  const title = `Grid SCADA intrusion Sarajevo ${RUN}`;
  const t0 = await push([ev({ title, countries: ["BA"], geo: { lat: 43.86, lon: 18.41 },
    observables: [{ type: "sha256", value: sha("sarajevo") }] })]);
  await banner(althea, title).waitFor({ timeout: 2000 });
  const ms = performance.now() - t0;
  console.log(`push → alert banner on EUFOR Althea's page: ${ms.toFixed(0)} ms`);
  assert.ok(ms < 2000, `alert after ${ms.toFixed(0)} ms, want < 2000`);
  await shot(althea, "althea-banner");

  // Atalanta's page: a second situation in its area comes after; by then the Bosnian one
  // would have come too, and it did not.
  const later = `AIS spoofing Gulf of Aden ${RUN}`;
  await push([ev({ title: later, countries: ["DJ"], sectors: ["transport"], observables: [{ type: "domain", value: `ais-${RUN}.example` }] })]);
  await banner(atalanta, later).waitFor({ timeout: 15_000 });
  assert.equal(await banner(atalanta, title).count(), 0, "Atalanta's commander got the alert of a situation in Bosnia");
  const got = await atalanta.evaluate(() => window.copAlertTimes.map(a => a.id));
  assert.equal(got.length, WARM + 1, `Atalanta's page received ${JSON.stringify(got)}`);
  await shot(atalanta, "atalanta-no-banner");

  // "Show" opens the situation's detail.
  await banner(althea, title).locator(".alert-show").click();
  await althea.locator("#detail:not([hidden])", { hasText: title }).waitFor({ timeout: 2000 });
  await althea.keyboard.press("Escape");

  // A reload shows it again (GET /api/v1/alerts) until it is acknowledged.
  const item = banner(althea, title);
  const id = await item.getAttribute("data-id");
  await althea.reload();
  await althea.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  await banner(althea, title).waitFor({ timeout: 5000 });
  await banner(althea, title).locator(".alert-ack").click();
  await banner(althea, title).waitFor({ state: "detached", timeout: 5000 });
  await althea.reload();
  await althea.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  await althea.waitForResponse(r => r.url().endsWith("/api/v1/alerts"), { timeout: 5000 }).catch(() => {});
  await althea.waitForTimeout(1000);
  assert.equal(await banner(althea, title).count(), 0, "the acknowledged alert came back after a reload");
  await shot(althea, "althea-after-ack");

  // Audited: the raise, the delivery to Althea's commander, its acknowledgement.
  const q = action => `SELECT count() FROM ${CH_DB}.audit WHERE action = '${action}' AND position(filter, '${id.replace(/'/g, "")}') > 0` +
    (action === "alert.raise" ? "" : ` AND identity = '${ALTHEA_NAME}'`);
  await eventually(async () => (await chCount(q("alert.ack"))) >= 1, 10_000, "audit row of the acknowledgement");
  assert.equal(await chCount(q("alert.raise")), 1, "audit rows of the raise");
  assert.equal(await chCount(q("alert.deliver")), 1, "audit rows of the delivery (one per alert and identity)");
  const other = `SELECT count() FROM ${CH_DB}.audit WHERE action = 'alert.deliver' AND position(filter, '${id}') > 0 AND identity = 'ui-test-atalanta-${RUN}'`;
  assert.equal(await chCount(other), 0, "a delivery to Atalanta's commander was audited");
});

test("alert latency, from the server raising the alert to the page receiving it (measured, not asserted)", { timeout: 180_000 }, async () => {
  const N = Number(env.COP_ALERT_SAMPLES || 30);
  const page = await open(T.althea, LOW);
  const before = await page.evaluate(() => window.copAlertTimes.length);
  for (let i = 0; i < N; i++) {
    await push([ev({ title: `Latency probe ${i} Banja Luka ${RUN}`, countries: ["BA"],
      observables: [{ type: "sha256", value: sha("latency-" + i) }] })]);
    await page.waitForFunction(n => window.copAlertTimes.length > n, before + i, { timeout: 30_000 });
  }
  const times = (await page.evaluate(() => window.copAlertTimes)).slice(before);
  const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; };
  const fromRaise = times.map(t => t.received - t.at);
  const fromChange = times.map(t => t.received - t.updated);
  console.log(`alert latency over ${times.length} alerts: raised → page p50 ${pct(fromRaise, 50)} ms p99 ${pct(fromRaise, 99)} ms; ` +
    `situation changed (engine) → page p50 ${pct(fromChange, 50)} ms p99 ${pct(fromChange, 99)} ms`);
  assert.equal(times.length, N);
});

test("the alert pages load nothing from outside 127.0.0.1 and log no error", () => {
  assert.deepEqual(violations, []);
  assert.deepEqual(pageErrors.filter(e => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), []);
});
