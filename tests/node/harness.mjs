// Starts the real dotdo binary on ephemeral ports for the Node suites. With
// DOTDO_E2E_BACKEND=store its objects live on two `dotdo store` processes, with =workerd on
// the Cloudflare worker in a real workerd, as in the Rust and Python harnesses.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, existsSync, openSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const SECRET = "dotdo-e2e-secret";
const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function dotdoBin() {
  if (process.env.DOTDO_BIN) return process.env.DOTDO_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache/dotdo/target");
  return join(target, "debug", "dotdo");
}

// The JSON a dotdo process prints on its DOTDO_LISTENING line.
function listening(proc) {
  return new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      const line = buf.split("\n").find((l) => l.startsWith("DOTDO_LISTENING "));
      if (line) resolve(JSON.parse(line.slice("DOTDO_LISTENING ".length)));
    });
    proc.on("exit", (code) => reject(new Error(`dotdo exited with ${code}`)));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, proc) {
  for (let i = 0; i < 1200; i++) {
    if (proc.exitCode !== null) throw new Error("workerd exited");
    const up = await new Promise((resolve) => {
      const c = connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("workerd did not start");
}

async function startNodes(dir) {
  const backend = process.env.DOTDO_E2E_BACKEND || "embedded";
  const procs = [];
  const urls = [];
  if (backend === "store") {
    for (const i of [0, 1]) {
      const config = join(dir, `store${i}.toml`);
      writeFileSync(
        config,
        `[backend.embedded]\ndata_dir = "${join(dir, `store${i}`)}"\n[store]\nlisten = "127.0.0.1:0"\nsecret = "${SECRET}"\n`,
      );
      const proc = spawn(dotdoBin(), ["store", "--config", config], { stdio: ["ignore", "pipe", "ignore"] });
      procs.push(proc);
      urls.push(`http://${(await listening(proc)).store}`);
    }
  } else if (backend === "workerd") {
    const storage = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "dotdo-node-do-"));
    const port = await freePort();
    const log = openSync(join(dir, "workerd.log"), "a");
    const proc = spawn(
      join(REPO, "tests/node/node_modules/.bin/workerd"),
      ["serve", join(REPO, "deploy/cloudflare/workerd.capnp"), "--directory-path", `do-storage=${storage}`,
        "--socket-addr", `http=127.0.0.1:${port}`],
      { stdio: ["ignore", "ignore", log], env: { ...process.env, DOTDO_SECRET: SECRET } },
    );
    procs.push(proc);
    procs.cleanup = () => rmSync(storage, { recursive: true, force: true });
    await waitForPort(port, proc);
    urls.push(`http://127.0.0.1:${port}`);
  } else if (backend !== "embedded") {
    throw new Error(`DOTDO_E2E_BACKEND=${backend}: expected embedded, store or workerd`);
  }
  const toml = urls.length
    ? `[backend]\nkind = "remote"\n[backend.remote]\nnodes = [${urls.map((u) => `"${u}"`).join(", ")}]\nsecret = "${SECRET}"\n`
    : "";
  return { toml, procs };
}

// `dotdo serve` with extra TOML; resolves to {addrs, stop()} once it reports its ports.
export async function startDotdo(extraToml = "") {
  const dir = mkdtempSync(join(tmpdir(), "dotdo-node-"));
  const nodes = await startNodes(dir);
  const config = join(dir, "dotdo.toml");
  writeFileSync(config, `[backend.embedded]\ndata_dir = "${join(dir, "data")}"\n${nodes.toml}\n${extraToml}\n`);
  const bin = dotdoBin();
  if (!existsSync(bin)) throw new Error(`${bin} missing: run cargo build -p dotdo`);
  const proc = spawn(bin, ["serve", "--ephemeral-ports", "--config", config], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const addrs = await listening(proc);
  return {
    addrs,
    stop() {
      proc.kill("SIGKILL");
      for (const p of nodes.procs) p.kill("SIGKILL");
      nodes.procs.cleanup?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
