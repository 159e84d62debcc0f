/**
 * A few seconds that say a runtime line works: `npm test` runs this file alone
 * on the Node lines it does not run the full suite on (22 and 26; the full
 * suite runs on 24), and it runs with every other file on Deno and Bun.
 *
 * - the package imports by its name and subpaths (on Node: the built `npm/`
 *   package through its own `exports`, and its `engines` admit this Node);
 * - a two-tier get through a real redis-server;
 * - coherence between two instances (each its own RedisBackend, tracking on,
 *   a namespace, tags): a set, a delete and an `invalidateTags` on one drop
 *   the other's L1 copy without the other reading;
 * - the example HTTP service (`examples/`), started on this runtime, answers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import * as mod from "../mod.ts";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { runtimeName } from "../runtimes/mod.ts";
import { RecordingLogger, repoRoot, waitFor } from "./_helpers.ts";
import {
  freePort,
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

const version = process.versions.deno ?? process.versions.bun ?? process.versions.node;

describe(`smoke on ${runtimeName} ${version}`, () => {
  test("the package imports by its name, with its subpaths (on Node: engines admit it)", async () => {
    // Node resolves the name through npm/package.json's `exports` (a package may import
    // itself by name), Deno through deno.json's imports; Bun has neither from tests/.
    const name = runtimeName === "bun" ? "../mod.ts" : "@async-cache/cache";
    const root = await import(name);
    const agent = await import(runtimeName === "bun" ? "../src/agent/mod.ts" : `${name}/agent`);
    const testing = await import(
      runtimeName === "bun" ? "../src/testing/mod.ts" : `${name}/testing`
    );
    assert.equal(root.AsyncCache, mod.AsyncCache, "the name resolves to this build");
    assert.equal(typeof root.RedisBackend, "function");
    assert.equal(typeof agent.AgentCache, "function");
    assert.equal(typeof testing.FakeRedis, "function");
    const otel = await import(runtimeName === "bun" ? "../src/otel/mod.ts" : `${name}/otel`);
    assert.equal(typeof otel.instrument, "function");
    const cache = new root.AsyncCache({ maxsize: 2 });
    assert.equal(await cache.get("k", { loader: () => "v" }), "v");
    await cache.close();
    if (runtimeName !== "node") return;
    const pkg = JSON.parse(readFileSync(join(repoRoot(), "npm", "package.json"), "utf8"));
    const min = /^>=(\d+)$/.exec(pkg.engines.node);
    assert.ok(min, `engines.node is ">=N": ${pkg.engines.node}`);
    const major = Number(process.versions.node.split(".")[0]);
    assert.ok(major >= Number(min[1]), `engines.node ${pkg.engines.node} admits Node ${major}`);
  });

  describe("with a real redis-server", { skip }, () => {
    let server: RedisServer;
    const backends: RedisBackend[] = [];
    const caches: AsyncCache<string>[] = [];
    before(async () => (server = await startRedisServer()));
    after(async () => {
      for (const c of caches) await c.close();
      for (const b of backends) await b.close();
      await server?.stop();
    });
    const instance = (namespace: string) => {
      const logger = new RecordingLogger();
      const backend = new RedisBackend({
        host: "127.0.0.1",
        port: server.port,
        prefix: "smoke:",
        tracking: true,
        socketTimeout: 1_000,
        logger,
      });
      const cache = new AsyncCache<string>({
        remoteCache: backend,
        namespace,
        defaultTtl: "60s",
        logger,
      });
      backends.push(backend);
      caches.push(cache);
      return cache;
    };

    test("two tiers: a load on A is an L2 hit on B, then an L1 hit", async () => {
      const [a, b] = [instance("two-tier"), instance("two-tier")];
      let loads = 0;
      const loader = () => `loaded ${++loads}`;
      assert.equal(await a.get("k", { loader }), "loaded 1");
      await a.flush();
      assert.equal(await b.get("k", { loader }), "loaded 1");
      assert.equal(await b.get("k", { loader }), "loaded 1");
      assert.equal(loads, 1);
      const m = b.getMetrics();
      assert.deepEqual([m.l2Hits, m.l1Hits, m.loads], [1, 1, 0]);
    });

    test("coherence: a set, a delete, invalidateTags on A reach B's L1", async () => {
      const [a, b] = [instance("coherent"), instance("coherent")];
      // B holds a copy in L1; A's change must drop it with no read by B.
      const holds = async (key: string, value: string) => {
        assert.equal(await b.get(key), value);
        const hits = b.getMetrics().l1Hits;
        assert.equal(await b.get(key), value);
        assert.equal(b.getMetrics().l1Hits, hits + 1, `B serves ${key} from L1`);
      };
      const dropped = async (change: () => Promise<unknown>) => {
        const seen = b.getMetrics().invalidations;
        await change();
        await a.flush();
        await waitFor(() => b.getMetrics().invalidations > seen, 3_000);
      };

      await a.set("k", "v1", { tags: ["t"] });
      await a.flush();
      await holds("k", "v1");
      assert.equal(b.getMetrics().coherence, "tracking");
      await dropped(() => a.set("k", "v2", { tags: ["t"] }));
      assert.equal(await b.get("k"), "v2");

      await holds("k", "v2");
      await dropped(() => a.delete("k"));
      assert.equal(await b.get("k"), undefined);

      await a.set("tagged", "x", { tags: ["t"] });
      await a.flush();
      await holds("tagged", "x");
      await dropped(() => a.invalidateTags(["t"]));
      assert.equal(await b.get("tagged"), undefined, "an entry of the old tag generation");
    });

    test("the example service on this runtime answers, through Redis", async () => {
      const port = await freePort();
      const service = startExample(port, server.url);
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(async () => (await request(`${base}/healthz`))?.body === "ok", 20_000);
        const first = await request(`${base}/item/smoke-1`);
        const second = await request(`${base}/item/smoke-1`);
        assert.equal(first?.status, 200);
        assert.equal(JSON.parse(first!.body).id, "smoke-1");
        assert.equal(second?.body, first?.body, "the second answer is the cached one");
        const scraped = (await request(`${base}/metrics`))!.body;
        assert.match(scraped, /^async_cache_loads_total\{cache_name="items"\} 1$/m);
        const metrics = JSON.parse((await request(`${base}/stats`))!.body);
        assert.equal(metrics.runtime, runtimeName);
        assert.equal(metrics.loaderCalls, 1);
        assert.equal(metrics.l1Hits, 1);
        assert.equal(metrics.breaker, "closed");
      } finally {
        await service.stop();
      }
      assert.equal(service.exitCode(), 0, `the service exits cleanly: ${service.output()}`);
    });
  });
});

/** GET with no keep-alive (nothing outlives the test); `undefined` while nothing listens. */
async function request(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, {
      headers: { connection: "close" },
      signal: AbortSignal.timeout(2_000),
    });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/**
 * Starts examples/ on the running runtime and line (`process.execPath`): Node
 * runs the built `npm/examples/node_server.js`, Deno and Bun their own entry.
 */
function startExample(port: number, redisUrl: string) {
  const root = repoRoot();
  const args = runtimeName === "node"
    ? [join(root, "npm", "examples", "node_server.js")]
    : runtimeName === "deno"
    ? ["run", "-A", join(root, "examples", "deno_server.ts")]
    : [join(root, "examples", "bun_server.ts")];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      INSTANCE: `smoke-${runtimeName}`,
      REDIS_URL: redisUrl,
      CACHE_PREFIX: "smoke-svc:",
      SOURCE_LATENCY_MS: "1",
    },
  });
  let out = "";
  let code: number | string | null | undefined;
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => {
    child.once("close", (c, signal) => {
      code = c ?? signal;
      resolve();
    });
    child.once("error", (error) => {
      out += String(error);
      code = "spawn error";
      resolve();
    });
  });
  return {
    exitCode: () => code,
    output: () => out.trim(),
    /** SIGTERM by PID, SIGKILL after 5 s. */
    async stop(): Promise<void> {
      const signal = (sig: "SIGTERM" | "SIGKILL") => {
        try {
          if (code === undefined && child.pid !== undefined) process.kill(child.pid, sig);
        } catch { /* already gone */ }
      };
      signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 5_000)));
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === "late") {
        signal("SIGKILL");
        await exited;
      }
    },
  };
}
