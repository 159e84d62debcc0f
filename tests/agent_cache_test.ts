/**
 * AgentCache: scopes (global, session, user, custom), the agent context,
 * invalidation by resource (directly and through a mutating tool, only after
 * it succeeds), per-resource metrics, named errors, and invalidation seen by
 * a second process sharing a real Redis.
 */
import { after, before, describe, test } from "node:test";
import { entryKey, repoRoot, waitFor } from "./_helpers.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { InvalidOptionError, RedisBackend } from "../mod.ts";
import {
  AgentCache,
  AgentContextError,
  getAgentContext,
  getResourceMetrics,
  invalidateResource,
  listResourceMetrics,
  withAgentContext,
} from "../src/agent/mod.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { FakeRedis } from "../src/testing/fake_redis.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

let unique = 0;
/** Resources are process-wide: each test gets its own names. */
const fresh = (name: string) => `${name}-${++unique}`;
const tick = () => new Promise<void>((r) => setTimeout(r, 1));

describe("AgentCache: scopes", () => {
  test("global: one entry for everyone, in or out of a context", async () => {
    let calls = 0;
    const search = AgentCache({ resource: fresh("docs"), ttl: "1h" })(
      async function searchDocs(q: string) {
        calls++;
        return [`result for ${q}`];
      },
    );
    assert.deepEqual(await search("ttl"), ["result for ttl"]);
    await withAgentContext({ sessionId: "s1", userId: "u1" }, () => search("ttl"));
    await withAgentContext({ sessionId: "s2" }, () => search("ttl"));
    assert.equal(calls, 1);
    await search("other");
    assert.equal(calls, 2, "the arguments are part of the key");
  });

  test("session: two sessions never see each other's entry", async () => {
    const histories = new Map([["s1", ["hello"]], ["s2", ["bonjour"]]]);
    let calls = 0;
    const getHistory = AgentCache({ resource: fresh("history"), scope: "session", ttl: "5m" })(
      async function getHistory() {
        calls++;
        await tick();
        return histories.get(getAgentContext()!.sessionId!);
      },
    );
    const [a, b] = await Promise.all([
      withAgentContext({ sessionId: "s1" }, () => getHistory()),
      withAgentContext({ sessionId: "s2" }, () => getHistory()),
    ]);
    assert.deepEqual(a, ["hello"]);
    assert.deepEqual(b, ["bonjour"]);
    histories.set("s1", ["changed"]);
    assert.deepEqual(await withAgentContext({ sessionId: "s1" }, () => getHistory()), ["hello"]);
    assert.deepEqual(await withAgentContext({ sessionId: "s2" }, () => getHistory()), ["bonjour"]);
    assert.equal(calls, 2);
  });

  test("user: shared by a user's sessions, not by another user", async () => {
    let calls = 0;
    const getProfile = AgentCache({ resource: fresh("profile"), scope: "user", ttl: "5m" })(
      async function getProfile() {
        calls++;
        return { id: getAgentContext()!.userId };
      },
    );
    const ada1 = await withAgentContext({ userId: "ada", sessionId: "s1" }, () => getProfile());
    const ada2 = await withAgentContext({ userId: "ada", sessionId: "s2" }, () => getProfile());
    const bob = await withAgentContext({ userId: "bob", sessionId: "s1" }, () => getProfile());
    assert.deepEqual(ada1, { id: "ada" });
    assert.deepEqual(ada2, { id: "ada" });
    assert.deepEqual(bob, { id: "bob" });
    assert.equal(calls, 2);
  });

  test("a scope function: its value (from context and arguments) partitions entries", async () => {
    let calls = 0;
    const getPlan = AgentCache({
      resource: fresh("plan"),
      scope: (context) => String(context?.tenant),
      ttl: "5m",
    })(async function getPlan() {
      calls++;
      return getAgentContext()?.tenant;
    });
    assert.equal(await withAgentContext({ tenant: "acme" }, () => getPlan()), "acme");
    assert.equal(await withAgentContext({ tenant: "acme", userId: "x" }, () => getPlan()), "acme");
    assert.equal(await withAgentContext({ tenant: "initech" }, () => getPlan()), "initech");
    assert.equal(calls, 2);
    const bad = AgentCache({ resource: fresh("plan"), scope: () => "", ttl: "5m" })(
      async function badScope() {},
    );
    await assert.rejects(bad(), { name: "AgentContextError", message: /empty string/ });
  });

  test('"session" or "user" without the id is an AgentContextError, and the tool does not run', async () => {
    let calls = 0;
    const getHistory = AgentCache({ resource: fresh("history"), scope: "session", ttl: "5m" })(
      async function getHistory() {
        calls++;
        return [];
      },
    );
    await assert.rejects(getHistory(), (error: Error) => {
      assert.ok(error instanceof AgentContextError);
      assert.equal(error.name, "AgentContextError");
      assert.match(error.message, /getHistory.*scope "session".*withAgentContext\(\{ sessionId \}/);
      return true;
    });
    const getProfile = AgentCache({ resource: fresh("profile"), scope: "user", ttl: "5m" })(
      async function getProfile() {
        calls++;
      },
    );
    await assert.rejects(
      withAgentContext({ sessionId: "s1" }, () => getProfile()),
      { name: "AgentContextError", message: /userId/ },
    );
    assert.equal(calls, 0);
    assert.equal(getResourceMetrics("nothing-here").tools, 0);
  });

  test("the context follows awaits and timers, and nested contexts nest", async () => {
    await withAgentContext({ userId: "u1" }, async () => {
      await new Promise((r) => setTimeout(r, 2));
      await withAgentContext({ trace: "t9" }, async () => {
        await Promise.resolve();
        assert.deepEqual({ ...getAgentContext() }, { userId: "u1", trace: "t9" });
      });
      assert.deepEqual({ ...getAgentContext() }, { userId: "u1" });
    });
    assert.equal(getAgentContext(), undefined);
    assert.throws(() => withAgentContext({ userId: "" }, () => 1), InvalidOptionError);
  });
});

describe("AgentCache: invalidation", () => {
  function cartTools(scope: "user" | "global" = "user") {
    const resource = fresh("cart");
    const carts = new Map<string, string[]>();
    let reads = 0;
    const getCart = AgentCache({ resource, scope, ttl: "10m" })(
      async function getCart() {
        reads++;
        return [...(carts.get(getAgentContext()?.userId ?? "") ?? [])];
      },
    );
    const addToCart = AgentCache({ invalidates: [resource] })(
      async function addToCart(item: string) {
        if (item === "") throw new Error("no item");
        const user = getAgentContext()!.userId!;
        carts.set(user, [...(carts.get(user) ?? []), item]);
        return carts.get(user)!.length;
      },
    );
    return { resource, getCart, addToCart, reads: () => reads };
  }

  test("a mutating tool drops the resource after it succeeds", async () => {
    const { resource, getCart, addToCart, reads } = cartTools();
    await withAgentContext({ userId: "ada" }, async () => {
      assert.deepEqual(await getCart(), []);
      assert.deepEqual(await getCart(), []);
      assert.equal(reads(), 1);
      assert.equal(await addToCart("apple"), 1, "the mutating tool's result is returned");
      assert.deepEqual(await getCart(), ["apple"]);
      assert.equal(reads(), 2);
    });
    assert.equal(getResourceMetrics(resource).invalidations, 1);
  });

  test("a mutating tool that fails invalidates nothing", async () => {
    const { resource, getCart, addToCart, reads } = cartTools();
    await withAgentContext({ userId: "ada" }, async () => {
      await getCart();
      await assert.rejects(addToCart(""), /no item/);
      await getCart();
      assert.equal(reads(), 1, "still cached");
    });
    assert.equal(getResourceMetrics(resource).invalidations, 0);
  });

  test("a scoped invalidation drops one user's entries only", async () => {
    const resource = fresh("orders");
    let reads = 0;
    const getOrders = AgentCache({ resource, scope: "user", ttl: "10m" })(
      async function getOrders() {
        reads++;
        return reads;
      },
    );
    const placeOrder = AgentCache({ invalidates: [{ resource, scope: "user" }] })(
      async function placeOrder() {},
    );
    await withAgentContext({ userId: "ada" }, () => getOrders());
    await withAgentContext({ userId: "bob" }, () => getOrders());
    await withAgentContext({ userId: "ada" }, () => placeOrder());
    await withAgentContext({ userId: "ada" }, () => getOrders());
    await withAgentContext({ userId: "bob" }, () => getOrders());
    assert.equal(reads, 3, "ada read again, bob did not");
    // Scoped invalidation outside a context fails before the mutation runs.
    let ran = false;
    const scoped = AgentCache({ invalidates: [{ resource, scope: "user" }] })(
      async function mutate() {
        ran = true;
      },
    );
    await assert.rejects(scoped(), AgentContextError);
    assert.equal(ran, false);
  });

  test("invalidateResource: every scope and tool of the resource, no other resource", async () => {
    const resource = fresh("cart");
    const lookalike = `${resource}:x`; // a prefix of it must not match
    let reads = 0;
    const tool = (res: string, name: string) =>
      AgentCache({ resource: res, scope: "session", ttl: "10m" })(
        Object.defineProperty(async () => ++reads, "name", { value: name }),
      );
    const a = tool(resource, "getA");
    const b = tool(resource, "getB");
    const other = tool(lookalike, "getA");
    for (const s of ["s1", "s2"]) {
      await withAgentContext({ sessionId: s }, async () => {
        await a();
        await b();
        await other();
      });
    }
    assert.equal(reads, 6);
    assert.equal(getResourceMetrics(resource).size, 4);
    await invalidateResource(resource);
    assert.equal(getResourceMetrics(resource).size, 0);
    assert.equal(getResourceMetrics(lookalike).size, 2);
    await withAgentContext({ sessionId: "s1" }, async () => {
      await a();
      await other();
    });
    assert.equal(reads, 7);
    await assert.rejects(invalidateResource(resource, { scope: "session" }), AgentContextError);
  });

  test("a load in flight when the resource is invalidated is not cached", async () => {
    const resource = fresh("stock");
    let release!: () => void;
    let reads = 0;
    const getStock = AgentCache({ resource, ttl: "10m" })(async function getStock() {
      reads++;
      if (reads === 1) await new Promise<void>((r) => (release = r));
      return reads;
    });
    const first = getStock();
    await tick();
    await invalidateResource(resource);
    release();
    assert.equal(await first, 1);
    assert.equal(await getStock(), 2, "the stale result was not stored");
  });

  test("metrics per resource: hits, misses, hit rate", async () => {
    const resource = fresh("weather");
    const getWeather = AgentCache({ resource, ttl: "10m" })(
      async function getWeather(city: string) {
        return `sun in ${city}`;
      },
    );
    await getWeather("Paris");
    await getWeather("Paris");
    await getWeather("Paris");
    await getWeather("Oslo");
    const m = getResourceMetrics(resource);
    assert.equal(m.hits, 2);
    assert.equal(m.misses, 2);
    assert.equal(m.hitRate, 0.5);
    assert.equal(m.tools, 1);
    assert.deepEqual(listResourceMetrics()[resource], m);
    assert.equal(getWeather.getMetrics().hits, 2);
    assert.equal(getWeather.toolName, "getWeather");
    await getWeather.close();
    assert.equal(getResourceMetrics(resource).tools, 0);
  });

  test("as a method decorator", async () => {
    const resource = fresh("fx");
    class Tools {
      calls = 0;
      @AgentCache({ resource, ttl: "1m" })
      async rate(from: string, to: string) {
        this.calls++;
        return from === to ? 1 : 1.1;
      }
      @AgentCache({ invalidates: [resource] })
      async setRate() {}
    }
    const tools = new Tools();
    await tools.rate("EUR", "USD");
    await tools.rate("EUR", "USD");
    assert.equal(tools.calls, 1);
    await tools.setRate();
    await tools.rate("EUR", "USD");
    assert.equal(tools.calls, 2);
  });
});

describe("AgentCache: errors are named", () => {
  const fn = async function tool() {};
  const cases: [string, () => unknown, RegExp][] = [
    ["neither resource nor invalidates", () => AgentCache({}), /exactly one/],
    ["both", () => AgentCache({ resource: "r", ttl: 1, invalidates: ["x"] }), /exactly one/],
    ["no ttl", () => AgentCache({ resource: "r" }), /ttl/],
    ["bad ttl", () => AgentCache({ resource: "r", ttl: "soon" as never }), /ttl/],
    ["bad scope", () => AgentCache({ resource: "r", ttl: 1, scope: "team" as never }), /scope/],
    ["empty resource", () => AgentCache({ resource: "", ttl: 1 }), /resource/],
    [
      "localTtl without remote",
      () => AgentCache({ resource: "r", ttl: 1, localTtl: 1 }),
      /localTtl/,
    ],
    [
      "remote without deleteByPrefix",
      () => AgentCache({ resource: "r", ttl: 1, remoteCache: {} as never }),
      /deleteByPrefix/,
    ],
    ["ttl on a mutating tool", () => AgentCache({ invalidates: ["r"], ttl: 1 }), /ttl/],
    ["empty invalidates", () => AgentCache({ invalidates: [] }), /invalidates/],
    ["anonymous tool", () => AgentCache({ resource: "r", ttl: 1 })(async () => 1), /name/],
    ["bad maxsize", () => AgentCache({ resource: "r", ttl: 1, maxsize: -1 }), /maxsize/],
  ];
  for (const [name, make, message] of cases) {
    test(name, () => assert.throws(make, { name: "InvalidOptionError", message }));
  }
  test("invalidateResource with a bad resource", async () => {
    await assert.rejects(invalidateResource(""), InvalidOptionError);
  });
  test("a wrapped non-function", () => {
    assert.throws(() => AgentCache({ resource: "r", ttl: 1 })(42 as never), InvalidOptionError);
    void fn;
  });
});

describe("AgentCache: sharing through a remote tier (scripted Redis)", () => {
  test("writes use the full ttl; L1 copies of shared entries live localTtl", async () => {
    const fake = new FakeRedis();
    const clock = new FakeClock();
    // Coherence off (as on RESP2): this test is about localTtl bounding staleness.
    const redis = new RedisBackend({ transport: fake.connect, prefix: "t:", tracking: false });
    try {
      const resource = fresh("prices");
      let reads = 0;
      const make = () =>
        AgentCache({ resource, ttl: "10m", localTtl: "2s", remoteCache: redis, clock })(
          async function getPrice() {
            return ++reads;
          },
        );
      const a = make();
      assert.equal(await a(), 1);
      await a.flush();
      const keys = fake.commands.filter((c) => c[0] === "SET");
      assert.equal(keys.length, 1);
      assert.match(
        String(keys[0][1]),
        new RegExp(`^t:${entryKey(`"${resource}":g:"getPrice":`, "agent")}$`),
      );
      assert.deepEqual(
        keys[0].slice(3),
        ["PX", "600000", "NX"],
        "L2 keeps the entry for the full ttl",
      );
      // Another process (its own connection, no tracking in the fake) deletes in L2 only:
      // this process's L1 copy expires after localTtl.
      const other = new RedisBackend({ transport: fake.connect, prefix: "t:" });
      await other.deleteByPrefix(entryKey(`"${resource}":`, "agent"));
      await other.close();
      assert.equal(await a(), 1, "still the L1 copy");
      clock.advance(2001);
      assert.equal(await a(), 2, "re-read L2 (gone), ran the tool");
      await a.close();
    } finally {
      await redis.close();
      await fake.close();
    }
  });
});

describe("AgentCache: another process's invalidation (real Redis, RESP3 tracking)", {
  skip: redisServerAvailable() ? false : SKIP_MESSAGE,
}, () => {
  test("is seen by this process's next call, with no localTtl", async () => {
    await using server = await startRedisServer();
    const prefix = "agent2:";
    const redis = new RedisBackend({ host: "127.0.0.1", port: server.port, prefix });
    const db = "db:cart:bea";
    await redis.client.command(["SET", db, JSON.stringify(["fig"])]);
    const getCart = AgentCache({ resource: "cart", scope: "user", ttl: "10m", remoteCache: redis })(
      async function getCart(): Promise<string[]> {
        const raw = await redis.client.command(["GET", db]);
        return JSON.parse(new TextDecoder().decode(raw as Uint8Array));
      },
    );
    try {
      const read = () => withAgentContext({ userId: "bea" }, () => getCart());
      assert.deepEqual(await read(), ["fig"]);
      assert.deepEqual(await read(), ["fig"]); // an L1 hit, guarded by tracking
      await runPeer([String(server.port), prefix, "bea", "invalidate"]);
      await waitFor(async () => (await read()).length === 2, 2_000);
      assert.deepEqual(await read(), ["fig", "plum"]);
    } finally {
      await getCart.close();
      await redis.close();
    }
  });
});

describe("AgentCache: tools created per request (issue 8 item 12)", () => {
  test("share one cache per (resource, name): nothing accumulates", async () => {
    const resource = fresh("per-request");
    let loads = 0;
    const perRequest = () =>
      AgentCache({ resource, ttl: "1m" })(async function lookup(q: string) {
        loads++;
        return q.toUpperCase();
      });
    for (let i = 0; i < 1_000; i++) assert.equal(await perRequest()("a"), "A");
    assert.equal(loads, 1, "every copy of the tool shares one cache");
    assert.equal(getResourceMetrics(resource).tools, 1);
    assert.throws(
      () =>
        AgentCache({ resource, ttl: "1m" })(async function lookup(q: string) {
          return q.toLowerCase(); // other code under the same name
        }),
      (e: unknown) => e instanceof InvalidOptionError && /distinct name/.test(e.message),
    );
  });
});

function runPeer(args: string[]): Promise<{ cart: string[]; loaderRan: boolean }> {
  const root = repoRoot();
  const bin = join(root, "node_modules", ".bin", "deno");
  const script = join(root, "tests", "_agent_peer.ts");
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["run", "-A", script, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim()));
      else reject(new Error(`agent peer exited with ${code}: ${err}`));
    });
  });
}

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("AgentCache with a real Redis shared by two processes", { skip }, () => {
  let server: RedisServer;
  let redis: RedisBackend;
  const prefix = "agent-test:";
  before(async () => {
    server = await startRedisServer();
    redis = new RedisBackend({ host: "127.0.0.1", port: server.port, prefix });
  });
  after(async () => {
    await redis?.close();
    await server?.stop();
  });

  test("a mutating tool's invalidation is seen by the other process", async () => {
    const db = `db:cart:ada`;
    await redis.client.command(["SET", db, JSON.stringify(["apple"])]);
    let reads = 0;
    // The same resource and tool name as the peer's, so they share entries.
    const getCart = AgentCache({ resource: "cart", scope: "user", ttl: "1m", remoteCache: redis })(
      async function getCart(): Promise<string[]> {
        reads++;
        const raw = await redis.client.command(["GET", db]);
        return JSON.parse(new TextDecoder().decode(raw as Uint8Array));
      },
    );
    const addToCart = AgentCache({ invalidates: [{ resource: "cart", scope: "user" }] })(
      async function addToCart(item: string) {
        const raw = await redis.client.command(["GET", db]);
        const cart = JSON.parse(new TextDecoder().decode(raw as Uint8Array));
        await redis.client.command(["SET", db, JSON.stringify([...cart, item])]);
      },
    );
    try {
      await withAgentContext({ userId: "ada" }, () => getCart());
      await getCart.flush();
      assert.equal(reads, 1);
      const port = String(server.port);
      const first = await runPeer([port, prefix, "ada"]);
      assert.deepEqual(
        first,
        { cart: ["apple"], loaderRan: false },
        "the peer hit the shared entry",
      );

      await withAgentContext({ userId: "ada" }, () => addToCart("pear"));
      // O(1): one generation raised to now, no key scanned; the old entry is a miss everywhere.
      const generation = await redis.client.command([
        "ZSCORE",
        `${prefix}__ac:tag:agent:"cart":u"ada":`,
        "g",
      ]);
      const stamp = typeof generation === "number"
        ? generation
        : Number(new TextDecoder().decode(generation as Uint8Array));
      assert.ok(Math.abs(stamp / 1000 - Date.now()) < 60_000, `a recent stamp: ${stamp}`);
      const second = await runPeer([port, prefix, "ada"]);
      assert.deepEqual(second, { cart: ["apple", "pear"], loaderRan: true });
      // And here: L1 was dropped too.
      assert.deepEqual(await withAgentContext({ userId: "ada" }, () => getCart()), [
        "apple",
        "pear",
      ]);
    } finally {
      await getCart.close();
    }
  });
});

describe("AgentCache: nested contexts never mix two users' ids", () => {
  test("an inner context with only a sessionId does not run as the outer user", async () => {
    let calls = 0;
    const getCart = AgentCache({ resource: fresh("cart"), scope: "user", ttl: "5m" })(
      async function getCart() {
        calls++;
        return `cart of ${getAgentContext()?.userId}`;
      },
    );
    await withAgentContext({ userId: "bob" }, async () => {
      assert.equal(await getCart(), "cart of bob");
      // Alice's conversation, started inside a context left over from Bob's.
      await withAgentContext({ sessionId: "alice-chat" }, async () => {
        assert.equal(getAgentContext()?.userId, undefined);
        await assert.rejects(getCart(), { name: "AgentContextError", message: /userId/ });
      });
    });
    assert.equal(calls, 1);
  });

  test("an inner context with only a userId does not reuse the outer session", async () => {
    let calls = 0;
    const getHistory = AgentCache({ resource: fresh("history"), scope: "session", ttl: "5m" })(
      async function getHistory() {
        calls++;
        return `history of ${getAgentContext()?.sessionId}`;
      },
    );
    await withAgentContext({ sessionId: "bob-chat", userId: "bob" }, async () => {
      assert.equal(await getHistory(), "history of bob-chat");
      await withAgentContext({ userId: "alice" }, async () => {
        assert.equal(getAgentContext()?.sessionId, undefined);
        await assert.rejects(getHistory(), { name: "AgentContextError", message: /sessionId/ });
      });
    });
    assert.equal(calls, 1);
  });

  test("ids are inherited only as a pair; custom fields merge", async () => {
    await withAgentContext({ userId: "u1", sessionId: "s1", tenant: "acme" }, async () => {
      await tick();
      // Neither id set: both inherited.
      await withAgentContext({ trace: "t1" }, () => {
        assert.deepEqual({ ...getAgentContext() }, {
          userId: "u1",
          sessionId: "s1",
          tenant: "acme",
          trace: "t1",
        });
      });
      // Either id set (even to undefined): both replaced.
      withAgentContext({ sessionId: "s2" }, () => {
        assert.deepEqual({ ...getAgentContext() }, { sessionId: "s2", tenant: "acme" });
      });
      withAgentContext({ sessionId: undefined }, () => {
        assert.deepEqual({ ...getAgentContext() }, { tenant: "acme" });
      });
      withAgentContext({ userId: "u2", tenant: "initech" }, () => {
        assert.deepEqual({ ...getAgentContext() }, { userId: "u2", tenant: "initech" });
      });
      // Keeping the user on purpose is explicit.
      withAgentContext({ ...getAgentContext(), sessionId: "s3" }, () => {
        assert.deepEqual({ ...getAgentContext() }, {
          userId: "u1",
          sessionId: "s3",
          tenant: "acme",
        });
      });
      assert.deepEqual({ ...getAgentContext() }, { userId: "u1", sessionId: "s1", tenant: "acme" });
    });
  });

  test("a user-scoped entry is only ever served to its own user, however contexts nest", async () => {
    const getSecret = AgentCache({ resource: fresh("secret"), scope: "user", ttl: "5m" })(
      async function getSecret() {
        return `secret of ${getAgentContext()!.userId}`;
      },
    );
    const seen: [string | undefined, string][] = [];
    const outers = [{ userId: "bob" }, { userId: "bob", sessionId: "bob-chat" }, {
      sessionId: "x",
    }];
    const inners = [{ userId: "alice" }, { sessionId: "alice-chat" }, {
      userId: "alice",
      sessionId: "y",
    }, {}];
    for (const outer of outers) {
      await withAgentContext(outer, async () => {
        if (outer.userId) seen.push([outer.userId, await getSecret()]);
        for (const inner of inners) {
          await withAgentContext(inner, async () => {
            const expected = "userId" in inner || "sessionId" in inner
              ? inner.userId
              : outer.userId;
            assert.equal(getAgentContext()?.userId, expected);
            const result = await getSecret().catch((e: Error) => e.name);
            seen.push([expected, result]);
          });
        }
      });
    }
    for (const [userId, result] of seen) {
      assert.equal(result, userId === undefined ? "AgentContextError" : `secret of ${userId}`);
    }
  });
});
