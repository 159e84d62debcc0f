/**
 * Issue 16 items 1 and 2: one unambiguous key space per cache. A cache's
 * (namespace, key) maps injectively to a backend key
 * (`<len>:<namespace>:<key>`), a cache without a namespace has a sub-space
 * of its own, and no entry key can land on a counter (`__ac:ns:`,
 * `__ac:tag:`) or a lease (`__ac:lease:`). Every test here fails on the
 * commit before the key-space change (`namespace + ":" + key`).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AsyncCache, RedisBackend, RemoteCacheBackend } from "../mod.ts";
import { AgentCache, withAgentContext } from "../src/agent/mod.ts";
import { namespacePrefix } from "../src/remote/_generations.ts";
import { FakeRedis } from "../src/testing/mod.ts";
import { RecordingLogger } from "./_helpers.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;
let unique = 0;

describe("issue 16: key space (real redis-server)", { skip }, () => {
  let server: RedisServer;
  const opened: { close(): Promise<void> }[] = [];

  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const c of opened.reverse()) await c.close();
    await server?.stop();
  });

  const backend = (prefix = "ks:") => {
    const b = new RedisBackend({
      host: "127.0.0.1",
      port: server.port,
      prefix,
      logger: new RecordingLogger(),
    });
    opened.push(b);
    return b;
  };
  /** A fresh instance: its own backend (connection), in `namespace`. */
  const instance = <V>(namespace?: string, options: Record<string, unknown> = {}) => {
    const cache = new AsyncCache<V>({
      remoteCache: backend(),
      namespace,
      defaultTtl: 60_000,
      logger: new RecordingLogger(),
      ...options,
    });
    opened.push(cache);
    return cache;
  };

  test("16.1 namespaces that are prefixes of each other do not read each other's entries", async () => {
    const n = ++unique;
    const a = instance<string>(`tenant${n}:a`);
    const ab = instance<string>(`tenant${n}:a:b`);
    // Old layout: "tenant:a" + ":" + "b:k" === "tenant:a:b" + ":" + "k".
    await a.set("b:k", "of tenant:a");
    await ab.set("k", "of tenant:a:b");
    await a.flush();
    await ab.flush();
    const a2 = instance<string>(`tenant${n}:a`);
    const ab2 = instance<string>(`tenant${n}:a:b`);
    assert.equal(await a2.get("b:k"), "of tenant:a");
    assert.equal(await ab2.get("k"), "of tenant:a:b");
    assert.equal(await ab2.get("b:k"), undefined);
    assert.equal(await a2.get("k"), undefined);
  });

  test("16.1 clear() of one keeps the other's entries", async () => {
    const n = ++unique;
    const a = instance<string>(`tenant${n}:a`);
    const ab = instance<string>(`tenant${n}:a:b`);
    await a.set("x", "of tenant:a");
    await ab.set("y", "of tenant:a:b");
    await a.flush();
    await ab.flush();
    // A cache without a namespace clears its own sub-space only.
    const plain = instance<string>();
    await plain.set("z", "plain");
    await plain.flush();
    await plain.clear();
    await plain.flush();
    assert.equal(await instance<string>().get("z"), undefined);
    assert.equal(await instance<string>(`tenant${n}:a`).get("x"), "of tenant:a");
    assert.equal(await instance<string>(`tenant${n}:a:b`).get("y"), "of tenant:a:b");
    await a.clear();
    await a.flush();
    const ab2 = instance<string>(`tenant${n}:a:b`);
    assert.equal(await ab2.get("y"), "of tenant:a:b");
    await ab.clear();
    await ab.flush();
    const a2 = instance<string>(`tenant${n}:a`);
    await a2.set("x2", "again");
    await a2.flush();
    assert.equal(await instance<string>(`tenant${n}:a`).get("x2"), "again");
    assert.equal(await instance<string>(`tenant${n}:a:b`).get("y"), undefined);
  });

  test("16.1 a cache without a namespace cannot read or plant an AgentCache entry", async () => {
    const resource = `profile${++unique}`;
    let runs = 0;
    const remoteCache = backend();
    const getProfile = async function getProfile() {
      return `secret ${++runs}`;
    };
    const make = () => AgentCache({ resource, scope: "user", ttl: "10m", remoteCache })(getProfile);
    const victim = make();
    assert.equal(await withAgentContext({ userId: "ada" }, () => victim()), "secret 1");
    await victim.flush();
    // The key of that result under the old layout, as the reproduction used it.
    const stolen = `agent:"${resource}":u"ada":"getProfile":`;
    const plain = instance<string>();
    assert.equal(await plain.get(stolen), undefined, "a plain cache read an AgentCache entry");
    await plain.set(stolen, "planted");
    await plain.flush();
    const pod = make();
    assert.equal(await withAgentContext({ userId: "ada" }, () => pod()), "secret 1");
    await pod.close();
    await victim.close();
  });

  test("16.2 a user key cannot overwrite a generation counter or a lease", async () => {
    const n = ++unique;
    const ns = `ns${n}`;
    const tag = `t${n}`;
    const a = instance<string>(ns);
    const b = instance<string>(ns);
    await a.set("k", "old", { tags: [tag] });
    await a.flush();
    assert.equal(await b.get("k", { tags: [tag] }), "old");
    // A plain cache whose keys come from user input, aimed at the reserved keys.
    const plain = instance<string>();
    await plain.set(`__ac:ns:${ns}`, "not a counter");
    await plain.set(`__ac:tag:${tag}`, "not a counter");
    await plain.set("k\u0000lease", "not a lease");
    await plain.set(`__ac:lease:${namespacePrefix(ns)}k`, "not a lease");
    await plain.flush();
    // Invalidation still crosses instances.
    await a.invalidateTags([tag]);
    await a.flush();
    const c = instance<string>(ns);
    assert.equal(await c.get("k", { tags: [tag] }), undefined, "invalidateTags did not reach c");
    // And so does a namespace clear.
    await a.set("k2", "v");
    await a.flush();
    await a.clear();
    await a.flush();
    assert.equal(await instance<string>(ns).get("k2"), undefined, "clear did not reach another");
    // Leases still work: one loader for two instances.
    let loads = 0;
    const lease = { ttl: "5s", wait: "2s", poll: "20ms" };
    const l1 = instance<string>(ns, { lease });
    const l2 = instance<string>(ns, { lease });
    const loader = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 100));
      return "loaded";
    };
    const [x, y] = await Promise.all([l1.get("hot", { loader }), l2.get("hot", { loader })]);
    assert.deepEqual([x, y], ["loaded", "loaded"]);
    assert.equal(loads, 1);
    // The planted values are still plain entries of the plain cache, nothing more.
    assert.equal(await instance<string>().get("k\u0000lease"), "not a lease");
  });
});

const namespaceArb = fc.oneof(
  fc.constantFrom("", "a", "a:b", "tenant:a", "tenant:a:b", "agent", "__ac", "0", "1:", "0:"),
  fc.string({ maxLength: 6 }),
);
const keyArb = fc.oneof(
  fc.constantFrom("k", "b:k", "a:b:k", ":", "", "__ac:ns:a", "__ac:tag:t", "__ac:lease:0::k"),
  fc.string({ maxLength: 8 }),
  fc.tuple(fc.nat(20), fc.string({ maxLength: 4 })).map(([n, s]) => `${n}:${s}:`),
);

describe("16.1 the key space is injective (fast-check)", () => {
  test("16.1 distinct (namespace, key) pairs never share a backend key, and none is reserved", () => {
    fc.assert(
      fc.property(namespaceArb, keyArb, namespaceArb, keyArb, (ns1, k1, ns2, k2) => {
        const one = namespacePrefix(ns1) + k1;
        const two = namespacePrefix(ns2) + k2;
        assert.ok(!one.startsWith("__ac:"), one);
        if (ns1 !== ns2 || k1 !== k2) assert.notEqual(one, two);
        else assert.equal(one, two);
      }),
      { numRuns: 2000 },
    );
    // The pairs the issue names, always checked.
    assert.notEqual(namespacePrefix("tenant:a") + "b:k", namespacePrefix("tenant:a:b") + "k");
    assert.notEqual(namespacePrefix("") + 'agent:"p":g:', namespacePrefix("agent") + '"p":g:');
  });

  test("16.1 two caches in different namespaces on one FakeRedis: no reads across, clear keeps the other's", async () => {
    await fc.assert(
      fc.asyncProperty(
        namespaceArb,
        namespaceArb,
        fc.array(fc.tuple(fc.boolean(), keyArb), { minLength: 1, maxLength: 6 }),
        async (ns1, ns2, writes) => {
          fc.pre(ns1 !== ns2);
          // AgentCache's namespace is reserved (an AsyncCache may not take it).
          const reserved = (ns: string) => ns === "agent" || ns.startsWith("agent:");
          fc.pre(!reserved(ns1) && !reserved(ns2));
          const fake = new FakeRedis();
          const backends: RedisBackend[] = [];
          const shared = () => {
            const b = new RedisBackend({ transport: fake.connect, logger: new RecordingLogger() });
            backends.push(b);
            return b;
          };
          const cache = (namespace: string) =>
            new AsyncCache<string>({
              remoteCache: shared(),
              namespace,
              logger: new RecordingLogger(),
            });
          const a = cache(ns1);
          const b = cache(ns2);
          const mine = new Map<string, string>();
          const theirs = new Map<string, string>();
          for (const [toA, key] of writes) {
            await (toA ? a : b).set(key, `${toA ? "a" : "b"}:${key}`);
            (toA ? mine : theirs).set(key, `${toA ? "a" : "b"}:${key}`);
          }
          await a.flush();
          await b.flush();
          // Fresh readers (empty L1), each in one of the two namespaces.
          const readA = cache(ns1);
          const readB = cache(ns2);
          for (const [, key] of writes) {
            assert.equal(await readA.get(key), mine.get(key));
            assert.equal(await readB.get(key), theirs.get(key));
          }
          await a.clear();
          await a.flush();
          const afterB = cache(ns2);
          for (const [key, value] of theirs) assert.equal(await afterB.get(key), value);
          for (const c of [a, b, readA, readB, afterB]) await c.close();
          for (const c of backends) await c.close();
          await fake.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("a custom backend without deleteByPrefix", () => {
  test("a cache with no namespace clears it whole (clear()), as before, with nothing logged", async () => {
    const data = new Map<string, unknown>();
    let cleared = 0;
    class Whole extends RemoteCacheBackend {
      get(key: string) {
        return Promise.resolve(data.get(key));
      }
      set(key: string, value: unknown) {
        data.set(key, value);
        return Promise.resolve();
      }
      delete(key: string) {
        data.delete(key);
        return Promise.resolve();
      }
      clear() {
        cleared++;
        data.clear();
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
    }
    const logger = new RecordingLogger();
    const cache = new AsyncCache<string>({ remoteCache: new Whole(), logger });
    await cache.set("k", "v");
    await cache.flush();
    assert.equal(data.size, 1);
    await cache.clear();
    assert.equal(cleared, 1);
    assert.equal(data.size, 0);
    assert.deepEqual([...logger.warnings, ...logger.errors], []);
    assert.equal(cache.getMetrics().breaker, "closed");
    await cache.close();
  });
});
