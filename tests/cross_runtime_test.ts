/**
 * A key written by one runtime is read by another: the test spawns a
 * different runtime than the one running it (Deno → Bun, Bun and Node → Deno),
 * which reads the entry, writes it back, and the bytes must be identical.
 */
import { after, before, describe, test } from "node:test";
import { entryKey, repoRoot, storedValue } from "./_helpers.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { AsyncCache, RedisBackend } from "../mod.ts";
import { encodeValue } from "../src/codec/encode.ts";
import { runtimeName } from "../runtimes/mod.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

function runPeer(runtime: "deno" | "bun", args: string[]): Promise<string> {
  const root = repoRoot();
  const bin = join(root, "node_modules", ".bin", runtime);
  const script = join(root, "tests", "_cross_runtime_peer.ts");
  const argv = runtime === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => out += d);
    child.stderr!.on("data", (d) => err += d);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`${runtime} peer exited with ${code}: ${err}`));
    });
  });
}

describe("entries are shared across runtimes", { skip }, () => {
  let server: RedisServer;
  let backend: RedisBackend;
  before(async () => {
    server = await startRedisServer();
    backend = new RedisBackend({ host: "127.0.0.1", port: server.port, prefix: "xrt:" });
  });
  after(async () => {
    await backend?.close();
    await server?.stop();
  });

  test("written here, read and rewritten by another runtime, byte-identical", async () => {
    const other = runtimeName === "deno" ? "bun" : "deno";
    const value = {
      text: "héllo\r\n🔑",
      n: -0.5,
      nan: NaN,
      inf: -Infinity,
      big: -(2n ** 70n),
      when: new Date(1_700_000_000_000),
      map: new Map<unknown, unknown>([[1, "a"], ["k", [null, undefined]]]),
      set: new Set([1, "1"]),
      bytes: new Uint8Array([0, 13, 10, 255]),
      // An own "__proto__" key, as JSON.parse makes it: data, never a prototype.
      nested: JSON.parse('{"__proto__": {"polluted": true}, "constructor": "data"}'),
    };
    const cache = new AsyncCache<unknown>({ remoteCache: backend });
    await cache.set("from-here", value);
    await cache.flush();
    const peer = await runPeer(other, [String(server.port), "from-here", "from-peer"]);
    assert.equal(peer, other);
    const mine = await backend.client.command(["GET", "xrt:" + entryKey("from-here")]);
    const theirs = await backend.client.command(["GET", "xrt:" + entryKey("from-peer")]);
    assert.ok(mine instanceof Uint8Array && theirs instanceof Uint8Array);
    // The envelopes' stamps differ (each is the time of its write); the values' bytes do not.
    const valueOf = async (key: string) => storedValue(await backend.get(entryKey(key)));
    const theirValue = await valueOf("from-peer");
    assert.deepEqual(encodeValue(theirValue), encodeValue(await valueOf("from-here")), other);
    const back = theirValue as typeof value;
    assert.equal(back.text, value.text);
    assert.ok(Number.isNaN(back.nan));
    assert.equal(back.big, value.big);
    assert.deepEqual(back.map, value.map);
    assert.deepEqual(back.bytes, value.bytes);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(back.nested, "__proto__"), true);
    assert.equal(Object.getPrototypeOf(back.nested), Object.prototype);
    assert.equal(back.nested.constructor, "data");
  });
});
