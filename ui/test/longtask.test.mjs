// Browser tests of the bounded picture against a demo-sized one: a `cop serve` of its own
// (its own namespace, so the other tests' picture stays small), seeded with an hour of the
// demo's mix by `cop seed` (about 11,000 situations). The page must go live within a
// second of loading, block its main thread no longer than 200 ms at a time while loading
// and during its first seconds live, and load more situations when its list is scrolled
// to the end.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { startSeeded, stopSeeded } from "./seeded.mjs";

const env = process.env;
const RUN = env.COP_TEST_RUN;
const ART = env.COP_ARTIFACTS;
const NS = `lt${RUN}`;
const T = { admin: env.COP_T_ADMIN, althea: env.COP_T_ALTHEA, atalanta: env.COP_T_ATALANTA };
const EVENTS = Number(env.COP_LONGTASK_EVENTS || 100_000); // an hour of the demo's mix
// The goals (issue 16). A machine shared far beyond its cores may be given more with
// COP_LONGTASK_MAX_MS / COP_LIVE_MAX_MS; the figures measured are printed either way.
const MAX_TASK = Number(env.COP_LONGTASK_MAX_MS || 200);
const MAX_LIVE = Number(env.COP_LIVE_MAX_MS || 1000);

let browser, child, base;

before(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // A database of its own too: 100,000 events a run would slow every history test of the shared one.
  const seeded = await startSeeded({ name: "longtask", ns: NS, events: EVENTS, pollMs: 2000, timeoutMs: 300_000 });
  ({ base, child } = seeded);
  console.log(`seeded picture: ${seeded.situations} situations, ${seeded.seconds.toFixed(0)} s after the seed started`);
});

after(async () => {
  await browser?.close();
  await stopSeeded(child);
});

// watch runs before any of the page's scripts: it records every long task, when the page
// loaded, when it went live, and the size of each websocket message.
function watch() {
  window.__longtasks = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: Math.round(e.startTime), ms: Math.round(e.duration) });
  }).observe({ type: "longtask", buffered: true });
  window.addEventListener("load", () => { window.__loadAt = performance.now(); });
  // When the page opened its websocket and got the snapshot: the server's share of the wait.
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      window.__wsAt = performance.now();
      this.addEventListener("message", () => { window.__snapAt = window.__snapAt || performance.now(); });
    }
  };
  new MutationObserver(() => {
    const s = document.getElementById("status");
    if (s && s.dataset.state === "live" && !window.__liveAt) window.__liveAt = performance.now();
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
}

async function open(tok, viewport) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const frames = [];
  page.on("websocket", ws => ws.on("framereceived", f => frames.push(typeof f.payload === "string" ? Buffer.byteLength(f.payload) : f.payload.length)));
  await page.addInitScript(watch);
  await page.goto(`${base}/#token=${tok}`);
  await page.waitForFunction(() => window.__liveAt > 0, null, { timeout: 30_000, polling: 100 });
  return { page, frames };
}

test("a demo-sized picture goes live within 1 s of load with no long task over 200 ms, and scrolling loads more", { timeout: 400_000 }, async () => {
  const { page, frames } = await open(T.admin, { width: 1920, height: 1080 });
  await page.waitForTimeout(5000); // the first seconds live: deltas, renders
  const m = await page.evaluate(() => ({ load: window.__loadAt, live: window.__liveAt, ws: window.__wsAt, snap: window.__snapAt, tasks: window.__longtasks }));
  const snapshot = frames[0];
  console.log(`load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  console.log(`admin: snapshot ${snapshot} bytes; load at ${m.load.toFixed(0)} ms, websocket opened at ${m.ws.toFixed(0)}, ` +
    `snapshot in at ${m.snap.toFixed(0)}, live at ${m.live.toFixed(0)} ms (${(m.live - m.load).toFixed(0)} ms after load); ` +
    `long tasks: ${JSON.stringify(m.tasks)}`);
  const worst = Math.max(0, ...m.tasks.map(t => t.ms));

  // Scrolling the list to its end asks for more, which arrive as a delta.
  const rows = () => page.locator("#list li[data-id], #list li[data-campaign]").count();
  const before = await rows();
  const more = await page.locator("#list li.more").textContent();
  assert.match(more, /more in this view/);
  const tasksBefore = (await page.evaluate(() => window.__longtasks.length));
  await page.locator("#list").evaluate(ol => { ol.scrollTop = ol.scrollHeight; });
  await page.waitForFunction(n => document.querySelectorAll("#list li[data-id], #list li[data-campaign]").length > n, before, { timeout: 10_000 });
  const after = await rows();
  const later = await page.evaluate(n => window.__longtasks.slice(n), tasksBefore);
  console.log(`scrolled to the end: ${before} -> ${after} rows; long tasks meanwhile: ${JSON.stringify(later)}`);
  // A campaign the list holds only some situations of opens onto the others, fetched.
  const partial = page.locator("#list li[data-campaign]", { hasText: "listed)" }).first();
  const hasPartial = (await partial.count()) > 0;
  if (hasPartial) {
    await partial.click();
    await page.locator("#list li.member.fetched").first().waitFor({ timeout: 10_000 });
    console.log(`opened a partly listed campaign: ${await page.locator("#list li.member.fetched").count()} members fetched`);
  }
  await page.context().close();
  assert.ok(hasPartial, "no campaign with situations beyond the list, in a demo-sized picture");
  assert.ok(after > before, `scrolling to the end loaded nothing (${before} rows)`);
  assert.ok(snapshot <= 1 << 20, `the admin's snapshot is ${snapshot} bytes, want <= 1 MB`);
  assert.ok(m.live - m.load <= MAX_LIVE, `live ${(m.live - m.load).toFixed(0)} ms after load, want <= ${MAX_LIVE}`);
  assert.ok(worst <= MAX_TASK, `a long task of ${worst} ms, want none over ${MAX_TASK} ms: ${JSON.stringify(m.tasks)}`);
});

test("the commander's campaign list, one campaign opened, at 1920x1080 and 1366x768", { timeout: 120_000 }, async () => {
  for (const [w, h] of [[1920, 1080], [1366, 768]]) {
    const { page, frames } = await open(T.atalanta, { width: w, height: h });
    const m = await page.evaluate(() => ({ load: window.__loadAt, live: window.__liveAt, tasks: window.__longtasks }));
    console.log(`atalanta ${w}x${h}: snapshot ${frames[0]} bytes, live ${(m.live - m.load).toFixed(0)} ms after load, long tasks ${JSON.stringify(m.tasks)}`);
    // Open the best campaign; members the list does not hold are fetched.
    const heads = page.locator("#list li[data-campaign]");
    await heads.first().waitFor({ timeout: 10_000 });
    const head = heads.first();
    const text = await head.textContent();
    await head.click();
    assert.equal(await head.getAttribute("aria-expanded"), "true");
    await page.locator("#list li.member").first().waitFor({ timeout: 5000 });
    if (/listed\)/.test(text)) await page.locator("#list li.member.fetched").first().waitFor({ timeout: 10_000 });
    console.log(`opened "${text.slice(0, 120)}": ${await page.locator("#list li.member").count()} member rows, ` +
      `${await page.locator("#list li.member.fetched").count()} of them fetched`);
    await head.evaluate(li => li.scrollIntoView({ block: "start" }));
    await page.waitForTimeout(700);
    await page.screenshot({ path: `${ART}/ui-bounded-campaign-${w}x${h}.png` });
    await page.context().close();
  }
});
