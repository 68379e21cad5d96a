// Starts and stops the `cop serve` the browser tests run against, on a fixed port so a
// restart comes back where the page expects it. The pid goes to $COP_TEST_DIR/serve.pid so
// run.sh stops the server however the tests end. Also usable as `node server.mjs start`.
import { spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const env = process.env;
const dir = env.COP_TEST_DIR;
const port = env.COP_TEST_PORT;
export const base = `http://127.0.0.1:${port}`;
const pidFile = `${dir}/serve.pid`;

async function ready(deadline) {
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return true;
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  return false;
}

export async function startServer() {
  const out = openSync(`${dir}/serve.log`, "a");
  const child = spawn(env.COP_BIN, ["serve", "--identities", env.COP_IDENTITIES_FILE, "--listen", `127.0.0.1:${port}`,
    "--kafka", env.COP_KAFKA, "--clickhouse", env.COP_CLICKHOUSE,
    // A namespace of its own: the picture holds only this run's situations, not the demo's.
    "--namespace", `ui${env.COP_TEST_RUN}`], { stdio: ["ignore", out, out], detached: true });
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  const t0 = Date.now();
  if (!(await ready(Date.now() + 90_000))) {
    throw new Error(`cop serve not ready on ${base} after 90 s; see ${dir}/serve.log:\n` + readFileSync(`${dir}/serve.log`, "utf8").slice(-3000));
  }
  return Date.now() - t0;
}

export async function stopServer() {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  try { process.kill(pid, "SIGTERM"); } catch { return; }
  for (let i = 0; i < 100; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await sleep(100);
  }
  try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
}

if (process.argv[2] === "start") {
  const ms = await startServer();
  console.error(`[ui-test] cop serve ready in ${ms} ms`);
}
