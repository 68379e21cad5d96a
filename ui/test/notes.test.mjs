// Browser tests of the assessments in the detail panel (notes.js) against a real `cop
// serve` (started by run.sh) on real Kafka and ClickHouse: an analyst adds an AMBER note to
// a GREEN situation in EUFOR Althea's area; Althea's AMBER commander sees it, Althea's
// commander capped at GREEN sees the situation but never the note, in the panel or the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { base } from "./server.mjs";

const env = process.env;
const RUN = env.COP_TEST_RUN;
const ART = env.COP_ARTIFACTS;
const T = { cert: env.COP_T_CERT, althea: env.COP_T_ALTHEA, green: env.COP_T_ALTHEA_GREEN, analyst: env.COP_T_ANALYST };
const ORIGIN = new URL(base).host;

let browser;
const pageErrors = [];
const violations = [];

async function push(events) {
  const r = await fetch(`${base}/api/v1/feeds?format=native`, {
    method: "POST", headers: { Authorization: `Bearer ${T.cert}`, "Content-Type": "application/json" },
    body: JSON.stringify(events),
  });
  const body = await r.json();
  assert.equal(r.status, 202, JSON.stringify(body));
  assert.equal(body.accepted, events.length, JSON.stringify(body));
}

async function open(tok, viewport = { width: 1920, height: 1080 }) {
  const ctx = await browser.newContext({ viewport });
  await ctx.route("**/*", route => {
    const u = new URL(route.request().url());
    const ok = ["data:", "blob:", "about:"].includes(u.protocol) || ((u.protocol === "http:" || u.protocol === "ws:") && u.host === ORIGIN);
    if (!ok) violations.push(u.href);
    return ok ? route.continue() : route.abort();
  });
  const page = await ctx.newPage();
  page.on("pageerror", e => pageErrors.push(String(e)));
  // The one 400 is the test's own bad confidence, which the form must show.
  page.on("console", m => { if (m.type() === "error" && !m.text().includes("status of 400")) pageErrors.push(m.text()); });
  await page.goto(`${base}/#token=${tok}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });
  return page;
}

const row = (page, text) => page.locator("#list li[data-id]", { hasText: text });

async function shot(page, name) {
  await page.waitForTimeout(700);
  await page.screenshot({ path: `${ART}/ui-${name}.png` });
}

// stored waits until the history API serves situation id: the live picture shows a
// situation at once, ClickHouse holds it up to the correlator's --store-flush-wait (10 s)
// later, and notes are about stored situations.
async function stored(id) {
  for (let i = 0; i < 60; i++) {
    const r = await fetch(`${base}/api/v1/situations/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${T.analyst}` } });
    await r.arrayBuffer();
    if (r.status === 200) return;
    await new Promise(res => setTimeout(res, 500));
  }
  assert.fail(`situation ${id} not stored within 30 s`);
}

// openDetail selects the situation titled title, once stored, and waits for its
// assessments to load.
async function openDetail(page, title) {
  const r = row(page, title).first();
  await r.waitFor({ timeout: 20_000 });
  const id = await r.getAttribute("data-id");
  await stored(id);
  await r.click();
  await page.locator(`#detail[data-id="${id}"] .notes[data-count]`).waitFor({ timeout: 10_000 });
  return id;
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
  assert.deepEqual(violations, [], "requests left 127.0.0.1");
  assert.deepEqual(pageErrors, [], "errors in the pages");
});

test("an AMBER note reaches Althea's AMBER commander and never its GREEN-capped one", { timeout: 180_000 }, async () => {
  const title = `Substation HMI tampering Sarajevo ${RUN}`;
  await push([{ id: `notes-${RUN}-1`, kind: "incident", observed_at: new Date().toISOString(), severity: "high", confidence: 70,
    tlp: "GREEN", category: "intrusions/system-compromise", sectors: ["energy"], countries: ["BA"], title,
    geo: { lat: 43.86, lon: 18.41 }, observables: [{ type: "domain", value: `hmi-${RUN}.example` }] }]);

  // The analyst adds the note from the detail panel.
  const analyst = await open(T.analyst);
  const id = await openDetail(analyst, title);
  const secret = `Wiper staging on the grid operator's HMI, AMBER only ${RUN}`;
  const form = analyst.locator("#detail .n-form");
  await form.locator("textarea[name=text]").fill(secret);
  await form.locator("input[name=confidence]").fill("75");
  await form.locator("select[name=action]").selectOption("mitigate");
  await form.locator("input[name=action_text]").fill("isolate the OT VLAN");
  await form.locator("select[name=agreement]").selectOption("supports");
  await form.locator("select[name=tlp]").selectOption("AMBER");
  // A bad value first: the server's answer names the field.
  await form.locator("input[name=confidence]").fill("150");
  await form.locator("button[type=submit]").click();
  await form.locator(".n-msg.n-error", { hasText: "confidence" }).waitFor();
  await form.locator("input[name=confidence]").fill("75");
  await form.locator("button[type=submit]").click();
  const item = analyst.locator("#detail .n-item", { hasText: secret });
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.getAttribute("data-tlp"), "AMBER");
  assert.ok(await item.locator(".tlp-amber").count() === 1, "the note shows its TLP:AMBER badge");
  await shot(analyst, "notes-1-analyst-1920x1080");
  await analyst.setViewportSize({ width: 1366, height: 768 });
  await analyst.locator("#detail .n-item", { hasText: secret }).scrollIntoViewIfNeeded();
  await shot(analyst, "notes-1b-analyst-1366x768");

  // Althea's AMBER commander sees it in the panel, without a form (commanders do not write).
  const althea = await open(T.althea);
  await openDetail(althea, title);
  await althea.locator("#detail .n-item", { hasText: secret }).waitFor();
  assert.equal(await althea.locator("#detail .n-form").count(), 0, "a commander gets no note form");
  await althea.locator("#detail .n-item", { hasText: secret }).scrollIntoViewIfNeeded();
  await shot(althea, "notes-2-althea-amber");

  // Althea's GREEN-capped commander sees the situation, never the note: not in the panel…
  const green = await open(T.green, { width: 1366, height: 768 });
  await openDetail(green, title);
  assert.equal(await green.locator("#detail .n-item").count(), 0, "no note shown under a GREEN cap");
  assert.ok(!(await green.locator("#detail").innerText()).includes(secret), "the note's text is not in the panel");
  await green.locator("#detail .notes").scrollIntoViewIfNeeded();
  await shot(green, "notes-3-althea-green");
  // …nor through the API.
  const r = await fetch(`${base}/api/v1/notes?subject_kind=situation&subject_id=${encodeURIComponent(id)}`,
    { headers: { Authorization: `Bearer ${T.green}` } });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  assert.ok(!body.includes(secret) && JSON.parse(body).notes.length === 0, `GREEN commander's API answer: ${body}`);
  const a = await fetch(`${base}/api/v1/notes?subject_kind=situation&subject_id=${encodeURIComponent(id)}`,
    { headers: { Authorization: `Bearer ${T.althea}` } });
  assert.ok((await a.text()).includes(secret), "the AMBER commander's API answer has the note");
});
