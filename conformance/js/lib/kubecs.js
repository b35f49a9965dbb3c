// Starts the real kubecs binary on a free loopback port with a fresh data directory,
// waits for /healthz, and stops it with SIGTERM (the exit code is returned).

import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url)); // conformance/js/lib
export const REPO = resolve(here, "..", "..", "..");
export const REGION = "us-east-1";
export const ACCOUNT = "000000000000";
export const SESSION_KEY = {
  accessKeyId: "AKIDSESSIONKEY000001",
  secretAccessKey: "session-secret",
  sessionToken: "session-token-abc123",
};
export const CREDENTIALS_TOML = `
[[credentials]]
access_key_id = "test"
secret_access_key = "test"

[[credentials]]
access_key_id = "${SESSION_KEY.accessKeyId}"
secret_access_key = "${SESSION_KEY.secretAccessKey}"
session_token = "${SESSION_KEY.sessionToken}"
`;

export const clusterArn = (name) => `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${name}`;

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function healthy(endpoint, child, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const res = await fetch(`${endpoint}/healthz`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** Start kubecs; `credentials` (TOML text) becomes its --credentials-file. */
export async function startKubecs({ credentials } = {}) {
  const bin = process.env.KUBECS_BIN || join(REPO, "target", "debug", "kubecs");
  const dir = mkdtempSync(join(tmpdir(), "kubecs-js-"));
  // These tests exercise the API: no reconciler (several kubecs on one cluster would
  // undo each other's work).
  const args = ["--data-dir", join(dir, "data"), "--log-format", "json", "--kubernetes", "off"];
  if (credentials) {
    writeFileSync(join(dir, "credentials.toml"), credentials);
    args.push("--credentials-file", join(dir, "credentials.toml"));
  }
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KUBECS_")));
  const logPath = join(dir, "kubecs.log");
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const log = openSync(logPath, "a");
    const child = spawn(bin, ["--listen", `127.0.0.1:${port}`, ...args], {
      stdio: ["ignore", log, log],
      env: { ...env, RUST_LOG: "info" },
    });
    const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
    if (await healthy(endpoint, child, Date.now() + 15_000)) {
      return {
        endpoint,
        /**
         * The server's log line of every request to the API route, in order. kubecs
         * buffers its log and writes it every 50 ms (server/src/telemetry.rs), and a
         * request's line is buffered before its answer is sent, so once the file stops
         * growing for more than one interval every answered request's line is in it.
         */
        async apiRequests() {
          let text = readFileSync(logPath, "utf8");
          for (;;) {
            await new Promise((r) => setTimeout(r, 150));
            const again = readFileSync(logPath, "utf8");
            if (again === text) break;
            text = again;
          }
          return text
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l))
            .filter((e) => e.message === "request" && e.path === "/");
        },
        async stop() {
          child.kill("SIGTERM");
          const { code, signal } = await exited;
          rmSync(dir, { recursive: true, force: true });
          return signal ? `signal ${signal}` : code;
        },
      };
    }
    child.kill("SIGKILL");
    await exited;
  }
  throw new Error(`kubecs did not become healthy:\n${readFileSync(logPath, "utf8")}`);
}
