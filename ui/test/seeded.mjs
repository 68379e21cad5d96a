// A `cop serve` of a test's own (its own namespace and ClickHouse database, so the other
// tests' picture stays small) seeded by `cop seed` with the demo's mix, for the browser
// tests that need a picture far bigger than the bound (longtask, zoom).
import { spawn, execFile } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

const env = process.env;

async function freePort() {
  return new Promise(resolve => {
    const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// startSeeded starts the server named name (its log, namespace and database take the
// name), seeds it with events events (seedArgs: more `cop seed` flags) and waits until the
// correlator has applied them all and the picture stopped growing (three polls alike,
// every pollMs, at most timeoutMs). It returns the server's base URL, its child process,
// metric (a value of its /metrics, read as admin), the situations held, and the seconds
// since the seed started.
export async function startSeeded({ name, ns, events, serveArgs = [], seedArgs = [], pollMs, timeoutMs }) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = `${env.COP_TEST_DIR}/${name}-serve.log`;
  const out = openSync(log, "a");
  const child = spawn(env.COP_BIN, ["serve", "--identities", env.COP_IDENTITIES_FILE, "--listen", `127.0.0.1:${port}`,
    "--kafka", env.COP_KAFKA, "--clickhouse", env.COP_CLICKHOUSE, "--namespace", ns, ...serveArgs,
    "--clickhouse-database", `${env.COP_CH_DATABASE || "cop_test"}_${name}`], { stdio: ["ignore", out, out] });
  for (let t = Date.now(); ; await sleep(200)) {
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not yet */ }
    if (Date.now() - t > 90_000) throw new Error(`cop serve not ready; see ${log}:\n${readFileSync(log, "utf8").slice(-2000)}`);
  }
  const metric = async metricName => {
    const r = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${env.COP_T_ADMIN}` } });
    const m = (await r.text()).match(new RegExp(`^${metricName} (\\S+)$`, "m"));
    return m ? Number(m[1]) : 0;
  };
  const t0 = performance.now();
  const { stderr } = await promisify(execFile)(env.COP_BIN, ["seed", "--events", String(events), ...seedArgs, "--namespace", ns, "--kafka", env.COP_KAFKA]);
  console.log(stderr.trim());
  let last = -1, same = 0;
  for (let t = Date.now(); same < 3; await sleep(pollMs)) {
    const done = await metric("cop_correlate_events_total");
    const n = await metric("cop_picture_situations");
    same = done >= events && n > 0 && n === last ? same + 1 : 0;
    last = n;
    if (Date.now() - t > timeoutMs) throw new Error(`the seeded picture still grows after ${timeoutMs / 1000} s (${done} events applied, ${n} situations)`);
  }
  return { base, child, metric, situations: last, seconds: (performance.now() - t0) / 1000 };
}

// stopSeeded stops a server startSeeded started: SIGTERM, then SIGKILL after 5 s.
export async function stopSeeded(child) {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}
