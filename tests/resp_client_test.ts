import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { commandObservers, RedisClient, type RedisClientOptions } from "../src/resp/client.ts";
import { backoff, createBackoff } from "../src/resp/backoff.ts";
import { type PushReply, type Reply, replyToString } from "../src/resp/parser.ts";
import {
  InvalidOptionError,
  RedisAuthError,
  RedisConnectionError,
  RedisProtocolError,
  RedisReplyError,
  RedisTimeoutError,
} from "../src/errors.ts";
import { FakeRedis, type FakeRedisOptions, NO_REPLY, resp } from "../src/testing/fake_redis.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";
import { defaultConnect } from "../runtimes/mod.ts";

const text = (r: Reply) => replyToString(r);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Logs {
  warn: string[];
  error: string[];
  debug: string[];
}

/** A fake server and a client on it; `done()` closes both (call it in `finally`). */
function setup(
  clientOptions: Partial<RedisClientOptions> = {},
  fakeOptions: FakeRedisOptions = {},
) {
  const fake = new FakeRedis(fakeOptions);
  const logs: Logs = { warn: [], error: [], debug: [] };
  const client = new RedisClient({
    connect: fake.connect,
    connectTimeoutMs: 200,
    socketTimeoutMs: 200,
    backoff: () => 5,
    logger: {
      warn: (m) => logs.warn.push(m),
      error: (m) => logs.error.push(m),
      debug: (m) => logs.debug.push(m),
    },
    ...clientOptions,
  });
  const done = async () => {
    await client.close();
    await fake.close();
  };
  return { fake, client, logs, done };
}

/** Resolves on the client's next `type` event; fails after `ms`. */
function nextEvent(client: RedisClient, type: string, ms = 2000): Promise<Event> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeEventListener(type, onEvent);
      reject(new Error(`no ${type} event within ${ms} ms`));
    }, ms);
    const onEvent = (event: Event) => {
      clearTimeout(timer);
      client.removeEventListener(type, onEvent);
      resolve(event);
    };
    client.addEventListener(type, onEvent);
  });
}

/** Polls `condition` every few ms; fails after `ms`. */
async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error("condition not met in time");
    await sleep(2);
  }
}

describe("backoff", () => {
  test("grows exponentially, with jitter, capped at 2000 ms", () => {
    assert.equal(backoff(0, () => 0), 25);
    assert.equal(backoff(0, () => 0.5), 37.5);
    assert.equal(backoff(1, () => 0), 50);
    assert.equal(backoff(2, () => 0), 100);
    assert.equal(backoff(5, () => 0), 800);
    assert.equal(backoff(6, () => 0), 1000);
    assert.equal(backoff(6, () => 0.999), 1000 + 0.999 * 1000);
    assert.equal(backoff(7, () => 0.5), 1500);
    for (const attempt of [0, 1, 10, 100, 1e9, Infinity, -1, NaN]) {
      const ms = backoff(attempt);
      assert.ok(ms > 0 && ms <= 2000, `attempt ${attempt}: ${ms}`);
    }
    assert.equal(backoff(1e9, () => 0.9999999), 2000 - 0.0001);
  });

  test("is never zero, so reconnects never spin", () => {
    for (let attempt = 0; attempt < 20; attempt++) assert.ok(backoff(attempt, () => 0) > 0);
  });

  test("createBackoff validates its options", () => {
    assert.equal(createBackoff({ baseMs: 10, capMs: 40 })(10, () => 1), 40);
    assert.throws(() => createBackoff({ baseMs: 0 }), RangeError);
    assert.throws(() => createBackoff({ baseMs: 100, capMs: 50 }), RangeError);
  });
});

describe("RedisClient: command observers (instrumentation)", () => {
  test("each command is told once, as its reply, error reply or connection loss arrives; a throwing observer breaks nothing", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      const seen: string[] = [];
      const observers = commandObservers(client);
      const offs = [
        observers.add({
          start: () => {
            throw new Error("observer start");
          },
        }),
        observers.add({
          start: () => () => {
            throw new Error("observer done");
          },
        }),
        observers.add({ start: () => undefined }),
        observers.add({
          start: (args, server) => {
            seen.push(`start ${args[0]} ${server.address}`);
            return (error) => seen.push(`done ${args[0]} ${error?.name ?? "ok"}`);
          },
        }),
      ];
      assert.equal(await client.command(["SET", "k", "v"]), "OK");
      assert.deepEqual(seen, ["start SET 127.0.0.1", "done SET ok"]);
      const stop = fake.onCommand((args) =>
        args[0] === "INCR" ? resp.error("ERR not an integer") : undefined
      );
      await assert.rejects(client.command(["INCR", "k"]), RedisReplyError);
      stop();
      assert.deepEqual(seen.slice(2), ["start INCR 127.0.0.1", "done INCR RedisReplyError"]);
      const unanswered = fake.onCommand((args) => args[0] === "GET" ? NO_REPLY : undefined);
      const arrived = fake.waitFor("GET");
      const lost = client.command(["GET", "k"]);
      await arrived;
      fake.current!.reset();
      await assert.rejects(lost, RedisConnectionError);
      assert.deepEqual(seen.slice(4), ["start GET 127.0.0.1", "done GET RedisConnectionError"]);
      unanswered();
      await until(() => client.status === "ready"); // reconnected
      for (const off of offs) off();
      assert.equal(text(await client.command(["GET", "k"])), "v");
      assert.equal(seen.length, 6, "a detached observer hears nothing");
    } finally {
      await done();
    }
  });
});

describe("RedisClient: commands", () => {
  test("connects lazily with HELLO 3 and round-trips values", async () => {
    const { fake, client, done } = setup();
    try {
      assert.equal(client.status, "idle");
      assert.equal(await client.command(["SET", "k", "välue"]), "OK");
      assert.equal(client.status, "ready");
      assert.equal(client.protocol, 3);
      const got = await client.command(["GET", "k"]);
      assert.ok(got instanceof Uint8Array);
      assert.equal(text(got), "välue");
      assert.equal(await client.command(["GET", "missing"]), null);
      assert.deepEqual(fake.commands[0], ["HELLO", "3"]);
      assert.equal(fake.connections.length, 1);
    } finally {
      await done();
    }
  });

  test("binary values and numbers as arguments", async () => {
    const { client, fake, done } = setup();
    try {
      const bin = new Uint8Array([0, 255, 13, 10, 36]);
      await client.command(["SET", bin, bin, "PX", 60_000]);
      assert.deepEqual(await client.command(["GET", bin]), bin);
      assert.ok(fake.ttl(bin) > 59_000);
    } finally {
      await done();
    }
  });

  test("commands issued in one tick go out in one write", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      const conn = fake.current!;
      const writesBefore = conn.writes.length;
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.command(["SET", `k${i}`, `v${i}`])),
      );
      assert.equal(conn.writes.length, writesBefore + 1);
      assert.equal(conn.writes.at(-1)!.commands.length, 50);
      assert.deepEqual(replies, Array(50).fill("OK"));
      const values = await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.command(["GET", `k${i}`])),
      );
      assert.deepEqual(values.map(text), Array.from({ length: 50 }, (_, i) => `v${i}`));
    } finally {
      await done();
    }
  });

  test("commands waiting for the first connection go out together after the handshake", async () => {
    const { fake, client, done } = setup();
    try {
      const a = client.command(["SET", "a", "1"]);
      const b = client.command(["GET", "a"]);
      assert.equal(client.status, "connecting");
      assert.equal(await a, "OK");
      assert.equal(text(await b), "1");
      const conn = fake.current!;
      assert.deepEqual(conn.writes.map((w) => w.commands.map((c) => c[0])), [["HELLO"], [
        "SET",
        "GET",
      ]]);
    } finally {
      await done();
    }
  });

  test("replies are matched in FIFO order, however they are split", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      fake.onCommand((args) => (args[0] === "GET" ? NO_REPLY : undefined));
      const wire = new TextEncoder().encode(
        "$3\r\none\r\n-ERR two\r\n*2\r\n:3\r\n_\r\n%1\r\n+four\r\n#t\r\n$0\r\n\r\n",
      );
      for (const split of [1, 2, 3, 7]) {
        const pending = ["1", "2", "3", "4", "5"].map((k) => client.command(["GET", k]));
        await fake.waitFor((c) => c.args[1] === "5");
        fake.current!.send(wire, { split });
        const settled = await Promise.allSettled(pending);
        assert.equal(
          (settled[0] as PromiseFulfilledResult<Reply>).value instanceof Uint8Array,
          true,
        );
        assert.equal(text((settled[0] as PromiseFulfilledResult<Reply>).value), "one");
        assert.equal(settled[1].status, "rejected");
        assert.ok((settled[1] as PromiseRejectedResult).reason instanceof RedisReplyError);
        assert.equal((settled[1] as PromiseRejectedResult).reason.message, "ERR two");
        assert.deepEqual((settled[2] as PromiseFulfilledResult<Reply>).value, [3, null]);
        const map = (settled[3] as PromiseFulfilledResult<Reply>).value as Map<Reply, Reply>;
        assert.equal(map.get("four"), true);
        assert.equal(text((settled[4] as PromiseFulfilledResult<Reply>).value), "");
      }
      assert.equal(client.inflight, 0);
    } finally {
      await done();
    }
  });

  test("an error reply rejects that command only; the connection stays up", async () => {
    const { fake, client, done } = setup();
    try {
      const results = await Promise.allSettled([
        client.command(["SET", "a", "1"]),
        client.command(["NOSUCHCOMMAND"]),
        client.command(["GET", "a"]),
      ]);
      assert.equal(results[0].status, "fulfilled");
      assert.equal(results[1].status, "rejected");
      const reason = (results[1] as PromiseRejectedResult).reason;
      assert.ok(reason instanceof RedisReplyError);
      assert.equal(reason.code, "ERR");
      assert.equal(text((results[2] as PromiseFulfilledResult<Reply>).value), "1");
      assert.equal(fake.connections.length, 1);
    } finally {
      await done();
    }
  });

  test("a command that cannot be encoded rejects alone", async () => {
    const { client, done } = setup();
    try {
      await client.connect();
      const results = await Promise.allSettled([
        client.command(["SET", "a", "1"]),
        client.command(["SET", "b", null as unknown as string]),
        client.command(["GET", "a"]),
      ]);
      assert.equal(results[0].status, "fulfilled");
      assert.ok((results[1] as PromiseRejectedResult).reason instanceof TypeError);
      assert.equal(text((results[2] as PromiseFulfilledResult<Reply>).value), "1");
    } finally {
      await done();
    }
  });

  test("push messages go to onPush and answer no command", async () => {
    const pushes: PushReply[] = [];
    const { fake, client, done } = setup({ onPush: (p) => pushes.push(p) });
    try {
      await client.connect();
      fake.onCommand((args) =>
        args[0] === "GET"
          ? new Uint8Array([
            ...resp.push([resp.bulk("invalidate"), resp.array([resp.bulk("k")])]),
            ...resp.bulk("v"),
          ])
          : undefined
      );
      assert.equal(text(await client.command(["GET", "k"])), "v");
      assert.equal(pushes.length, 1);
      assert.equal(pushes[0].kind, "invalidate");
    } finally {
      await done();
    }
  });

  test("a caller that walks away causes no unhandled rejection", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      fake.onCommand(() => NO_REPLY);
      // Nobody awaits these: their rejection (on close) must not escape.
      client.command(["GET", "x"]);
      client.command(["GET", "y"]);
      await fake.waitFor((c) => c.args[1] === "y");
    } finally {
      await done();
    }
    await sleep(5);
  });
});

describe("RedisClient: handshake", () => {
  test("HELLO 3 carries AUTH (default user when only a password is set)", async () => {
    const { fake, client, done } = setup({ password: "s3cret" }, { password: "s3cret" });
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      assert.deepEqual(fake.commands[0], ["HELLO", "3", "AUTH", "default", "s3cret"]);
      assert.equal(client.protocol, 3);
    } finally {
      await done();
    }
  });

  test("HELLO 3 carries AUTH username password", async () => {
    const { fake, client, done } = setup(
      { username: "app", password: "pw" },
      { username: "app", password: "pw" },
    );
    try {
      await client.command(["PING"]);
      assert.deepEqual(fake.commands[0], ["HELLO", "3", "AUTH", "app", "pw"]);
    } finally {
      await done();
    }
  });

  test("falls back to RESP2 and AUTH password when HELLO is unknown", async () => {
    const { fake, client, done } = setup({ password: "pw" }, { password: "pw", hello: false });
    try {
      await client.command(["SET", "k", "v"]);
      assert.equal(client.protocol, 2);
      assert.deepEqual(fake.commands.slice(0, 3), [
        ["HELLO", "3", "AUTH", "default", "pw"],
        ["AUTH", "pw"],
        ["SET", "k", "v"],
      ]);
      assert.equal(await client.command(["GET", "nope"]), null);
    } finally {
      await done();
    }
  });

  test("falls back to AUTH username password on NOPROTO", async () => {
    const { fake, client, done } = setup(
      { username: "app", password: "pw" },
      { username: "app", password: "pw" },
    );
    fake.onCommand((args) =>
      args[0] === "HELLO" ? resp.error("NOPROTO unsupported protocol version") : undefined
    );
    try {
      await client.command(["PING"]);
      assert.equal(client.protocol, 2);
      assert.deepEqual(fake.commands[1], ["AUTH", "app", "pw"]);
    } finally {
      await done();
    }
  });

  test("Redis 5 with requirepass (NOAUTH to HELLO ... AUTH): falls back, not an auth error", async () => {
    const { fake, client, done } = setup(
      { password: "pw", clientName: "old" },
      { password: "pw", hello: false },
    );
    // Redis < 6 answers every command before AUTH with NOAUTH, HELLO included.
    fake.onCommand((args) =>
      args[0] === "HELLO" ? resp.error("NOAUTH Authentication required.") : undefined
    );
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      assert.equal(client.protocol, 2);
      assert.deepEqual(fake.commands.map((c) => c[0]), ["HELLO", "AUTH", "CLIENT", "PING"]);
      assert.equal(fake.current!.name, "old");
    } finally {
      await done();
    }
  });

  test("RESP2 without a password sends no AUTH", async () => {
    const { fake, client, done } = setup({}, { hello: false });
    try {
      await client.command(["PING"]);
      assert.deepEqual(fake.commands.map((c) => c[0]), ["HELLO", "PING"]);
    } finally {
      await done();
    }
  });

  test("protocol: 2 skips HELLO", async () => {
    const { fake, client, done } = setup({ protocol: 2, password: "pw" }, { password: "pw" });
    try {
      await client.command(["PING"]);
      assert.deepEqual(fake.commands.map((c) => c[0]), ["AUTH", "PING"]);
      assert.equal(client.protocol, 2);
    } finally {
      await done();
    }
  });

  test("the name folded into HELLO (no CLIENT SETNAME), SELECT db after it", async () => {
    const { fake, client, done } = setup({ db: 3, clientName: "worker-1" });
    try {
      fake.set("k", "in db 3", undefined, 3);
      assert.equal(text(await client.command(["GET", "k"])), "in db 3");
      const conn = fake.current!;
      assert.deepEqual(conn.writes[0].commands, [["HELLO", "3", "SETNAME", "worker-1"]]);
      assert.deepEqual(conn.writes[1].commands, [["SELECT", "3"]]);
      assert.equal(conn.db, 3);
      assert.equal(conn.name, "worker-1");
    } finally {
      await done();
    }
  });

  test("a failing SELECT fails the connection attempt", async () => {
    const { client, logs, done } = setup({ db: 99 });
    try {
      await assert.rejects(client.command(["PING"]), (e: Error) => {
        assert.ok(e instanceof RedisConnectionError);
        assert.match(e.message, /SELECT 99.*out of range/);
        return true;
      });
      assert.equal(logs.warn.length, 1);
    } finally {
      await done();
    }
  });
});

describe("RedisClient: failures", () => {
  test("a reply later than socketTimeoutMs fails everything in flight, then reconnects", async () => {
    const { fake, client, done } = setup({ socketTimeoutMs: 40 });
    try {
      await client.connect();
      const off = fake.onCommand(() => NO_REPLY); // the server stalls
      const first = fake.current!;
      const started = Date.now();
      const results = await Promise.allSettled([
        client.command(["GET", "a"]),
        client.command(["SET", "b", "1"]),
        client.command(["GET", "c"]),
      ]);
      const elapsed = Date.now() - started;
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok((r as PromiseRejectedResult).reason instanceof RedisTimeoutError);
      }
      assert.ok(elapsed >= 35 && elapsed < 1000, `elapsed ${elapsed}`);
      assert.ok(first.closed && first.closedByClient);
      assert.ok(first.destroyedByClient, "a timed-out connection is destroyed, not drained");
      off();
      await nextEvent(client, "ready");
      assert.equal(await client.command(["PING"]), "PONG");
      assert.equal(fake.connections.length, 2);
    } finally {
      await done();
    }
  });

  test("the timeout is per command: a slow pipeline of fast replies is fine", async () => {
    const { fake, client, done } = setup({ socketTimeoutMs: 60 });
    try {
      await client.connect();
      // Each answered within the timeout, the whole sequence taking longer.
      fake.onCommand(async () => {
        await sleep(20);
        return undefined;
      });
      for (let i = 0; i < 5; i++) assert.equal(await client.command(["PING"]), "PONG");
      const staggered = [];
      for (let i = 0; i < 4; i++) {
        staggered.push(client.command(["PING"]));
        await sleep(15);
      }
      assert.deepEqual(await Promise.all(staggered), Array(4).fill("PONG"));
      assert.equal(fake.connections.length, 1);
    } finally {
      await done();
    }
  });

  test("half a reply then a reset: in-flight commands reject, then it reconnects", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      const off = fake.onCommand(() => NO_REPLY);
      const a = client.command(["GET", "a"]);
      const b = client.command(["GET", "b"]);
      await fake.waitFor((c) => c.args[1] === "b");
      fake.current!.send("$10\r\nhalf");
      fake.current!.reset();
      for (const p of [a, b]) {
        await assert.rejects(
          p,
          (e: Error) => e instanceof RedisConnectionError && /reset/.test(e.message),
        );
      }
      off();
      await nextEvent(client, "ready");
      assert.equal(await client.command(["PING"]), "PONG");
    } finally {
      await done();
    }
  });

  test("garbage: only in-flight commands reject with RedisProtocolError, then it reconnects", async () => {
    const { fake, client, logs, done } = setup();
    try {
      await client.connect();
      await client.command(["SET", "k", "v"]);
      const off = fake.onCommand((args) => (args[0] === "GET" ? "@@garbage@@\r\n" : undefined));
      const results = await Promise.allSettled([
        client.command(["GET", "k"]),
        client.command(["GET", "k"]),
      ]);
      for (const r of results) {
        assert.ok((r as PromiseRejectedResult).reason instanceof RedisProtocolError);
      }
      assert.ok(fake.connections[0].closedByClient);
      assert.ok(fake.connections[0].destroyedByClient, "destroyed after a protocol error");
      assert.equal(logs.warn.length, 1);
      off();
      await nextEvent(client, "ready");
      assert.equal(text(await client.command(["GET", "k"])), "v");
      assert.match(logs.warn[1], /restored/);
    } finally {
      await done();
    }
  });

  test("a reply with no command in flight is a protocol error", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      const error = nextEvent(client, "error");
      fake.current!.send("+SURPRISE\r\n");
      const event = await error as Event & { error?: Error };
      assert.ok(event.error instanceof RedisProtocolError);
      await nextEvent(client, "ready");
    } finally {
      await done();
    }
  });

  test("a hostile reply over the parser limits closes the connection", async () => {
    const { fake, client, done } = setup({ parserLimits: { maxBulkLength: 1024 } });
    try {
      await client.connect();
      fake.onCommand((args) => (args[0] === "GET" ? "$999999999\r\n" : undefined));
      await assert.rejects(client.command(["GET", "k"]), /maxBulkLength/);
    } finally {
      await done();
    }
  });

  test("while disconnected commands fail fast; it reconnects with backoff", async () => {
    const attempts: number[] = [];
    const { fake, client, done } = setup({
      backoff: (n) => {
        attempts.push(n);
        return 15;
      },
    });
    try {
      fake.refuse();
      await assert.rejects(client.command(["PING"]), (e: Error) => {
        assert.ok(e instanceof RedisConnectionError);
        assert.match(e.message, /ECONNREFUSED/);
        return true;
      });
      assert.equal(client.status, "reconnecting");
      const started = Date.now();
      await assert.rejects(client.command(["PING"]), RedisConnectionError);
      assert.ok(Date.now() - started < 10, "fails fast");
      await until(() => attempts.length >= 3);
      assert.deepEqual(attempts.slice(0, 3), [0, 1, 2]);
      fake.refuse(false);
      await nextEvent(client, "ready");
      assert.equal(await client.command(["PING"]), "PONG");
      // A ready connection resets the attempt count.
      fake.current!.reset();
      await nextEvent(client, "ready");
      assert.equal(attempts.at(-1), 0);
    } finally {
      await done();
    }
  });

  test("connectTimeoutMs bounds a connect that hangs", async () => {
    const { fake, client, done } = setup({ connectTimeoutMs: 30 });
    try {
      fake.hang();
      const started = Date.now();
      await assert.rejects(client.command(["PING"]), RedisTimeoutError);
      assert.ok(Date.now() - started < 1000);
      fake.hang(false);
      await nextEvent(client, "ready");
    } finally {
      await done();
    }
  });

  test("connectTimeoutMs bounds a handshake that never answers", async () => {
    const { fake, client, done } = setup({ connectTimeoutMs: 30, socketTimeoutMs: 10_000 });
    try {
      const off = fake.onCommand((args) => (args[0] === "HELLO" ? NO_REPLY : undefined));
      await assert.rejects(client.connect(), /connectTimeoutMs/);
      off();
      await nextEvent(client, "ready");
      assert.equal(await client.command(["PING"]), "PONG");
    } finally {
      await done();
    }
  });

  test("wrong password: RedisAuthError, logged once per outage, retried with backoff", async () => {
    const { fake, client, logs, done } = setup({ password: "wrong" }, { password: "right" });
    try {
      await assert.rejects(client.command(["PING"]), (e: Error) => {
        assert.ok(e instanceof RedisAuthError);
        assert.match(e.message, /WRONGPASS/);
        return true;
      });
      await until(() => fake.connectAttempts >= 4);
      // While it keeps failing, commands fail fast with the auth error.
      await assert.rejects(client.command(["PING"]), RedisAuthError);
      assert.equal(logs.error.length, 1);
      assert.equal(logs.warn.length, 0);
      assert.ok(logs.debug.length >= 2);
    } finally {
      await done();
    }
  });

  test("a server that wants a password we do not have: RedisAuthError (NOAUTH)", async () => {
    const { client, done } = setup({}, { password: "pw" });
    try {
      await assert.rejects(
        client.command(["PING"]),
        (e: Error) => e instanceof RedisAuthError && /NOAUTH/.test(e.message),
      );
    } finally {
      await done();
    }
  });

  test("wrong password on a RESP2 server", async () => {
    const { client, done } = setup({ password: "wrong" }, { password: "right", hello: false });
    try {
      await assert.rejects(client.command(["PING"]), RedisAuthError);
    } finally {
      await done();
    }
  });
});

describe("RedisClient: close", () => {
  test("rejects in-flight commands and stops reconnecting", async () => {
    const { fake, client, done } = setup();
    try {
      await client.connect();
      fake.onCommand(() => NO_REPLY);
      const p = client.command(["GET", "k"]);
      await fake.waitFor("GET");
      const closing = client.close();
      assert.equal(client.status, "closed");
      await assert.rejects(p, RedisConnectionError);
      await closing;
      assert.ok(fake.connections[0].closedByClient);
      assert.ok(!fake.connections[0].destroyedByClient, "close() is graceful");
      await assert.rejects(client.command(["PING"]), RedisConnectionError);
      await assert.rejects(client.connect(), RedisConnectionError);
      await sleep(20);
      assert.equal(fake.connectAttempts, 1);
      await client.close(); // idempotent
    } finally {
      await done();
    }
  });

  test("close while the first connection is opening", async () => {
    const { fake, client, done } = setup();
    try {
      fake.hang();
      const p = client.command(["PING"]);
      const closing = client.close();
      await assert.rejects(p, RedisConnectionError);
      fake.hang(false);
      await closing;
      assert.equal(client.status, "closed");
    } finally {
      await done();
    }
  });

  test("close while waiting to reconnect", async () => {
    const { fake, client, done } = setup({ backoff: () => 10_000 });
    try {
      fake.refuse();
      await assert.rejects(client.connect());
      assert.equal(client.status, "reconnecting");
      await client.close();
      assert.equal(fake.connectAttempts, 1);
    } finally {
      await done();
    }
  });

  test("lifecycle events", async () => {
    const { fake, client, done } = setup();
    const seen: string[] = [];
    for (const type of ["connect", "ready", "reconnecting", "error", "close"]) {
      client.addEventListener(type, () => seen.push(type));
    }
    try {
      await client.connect();
      fake.current!.reset();
      await nextEvent(client, "ready");
      await client.close();
      assert.deepEqual(seen, [
        "connect",
        "ready",
        "error",
        "reconnecting",
        "connect",
        "ready",
        "close",
      ]);
    } finally {
      await done();
    }
  });
});

describe("RedisClient: options", () => {
  const connect = new FakeRedis().connect;
  for (
    const [name, bad] of [
      ["port", { port: 0 }],
      ["port", { port: 70000 }],
      ["db", { db: -1 }],
      ["db", { db: 1.5 }],
      ["password", { username: "u" }],
      ["clientName", { clientName: "has space" }],
      ["connectTimeoutMs", { connectTimeoutMs: 0 }],
      ["socketTimeoutMs", { socketTimeoutMs: -5 }],
      ["protocol", { protocol: 4 }],
    ] as const
  ) {
    test(`rejects a bad ${name}`, () => {
      assert.throws(
        () => new RedisClient({ connect, ...bad } as RedisClientOptions),
        (e: Error) => e instanceof InvalidOptionError && e.message.includes(name),
      );
    });
  }

  test("rejects a missing connect and bad parser limits", () => {
    assert.throws(() => new RedisClient({} as RedisClientOptions), InvalidOptionError);
    assert.throws(() => new RedisClient({ connect, parserLimits: { maxDepth: 0 } }), RangeError);
  });

  test("passes host, port, path, tls and timeout to connect", async () => {
    const { fake, client, done } = setup({
      host: "redis.local",
      port: 6380,
      tls: true,
      connectTimeoutMs: 123,
    });
    try {
      await client.connect();
      assert.deepEqual(fake.current!.options, {
        host: "redis.local",
        port: 6380,
        tls: true,
        timeoutMs: 123,
      });
    } finally {
      await done();
    }
  });
});

describe("RedisClient against redis-server", {
  skip: redisServerAvailable() ? false : SKIP_MESSAGE,
}, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer({
      password: "default-pw",
      users: ["app on >app-pw ~* &* +@all"],
    });
  });
  after(() => server?.stop());

  test("handshake, pipelining, binary values, auth errors and reconnect", async () => {
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      username: "app",
      password: "app-pw",
      db: 2,
      clientName: "resp-test",
      backoff: () => 10,
    });
    const bad = new RedisClient({ connect: defaultConnect, port: server.port, password: "nope" });
    try {
      await client.connect();
      assert.equal(client.protocol, 3);
      assert.equal(text(await client.command(["CLIENT", "GETNAME"])), "resp-test");
      const bin = new Uint8Array(256).map((_, i) => i);
      const sets = Array.from(
        { length: 200 },
        (_, i) => client.command(["SET", `k${i}`, bin, "PX", 60_000]),
      );
      assert.deepEqual(await Promise.all(sets), Array(200).fill("OK"));
      const gets = await client.command(["MGET", "k0", "k199", "missing"]) as Reply[];
      assert.deepEqual(gets, [bin, bin, null]);
      assert.equal(await client.command(["DBSIZE"]), 200);
      await assert.rejects(client.command(["INCR", "k0"]), RedisReplyError);
      // RESP3 types from a real server: a map, a double.
      assert.ok((await client.command(["HELLO", "3"])) instanceof Map);
      await client.command(["ZADD", "z", "1.5", "m"]);
      assert.equal(await client.command(["ZSCORE", "z", "m"]), 1.5);

      await assert.rejects(bad.command(["PING"]), RedisAuthError);

      // The server kills our connection: in-flight commands fail, then it reconnects.
      const blocked = client.command(["BLPOP", "nothing", "5"]);
      const killer = new RedisClient({
        connect: defaultConnect,
        port: server.port,
        username: "app",
        password: "app-pw",
      });
      try {
        await killer.command(["CLIENT", "KILL", "USER", "app", "SKIPME", "yes"]);
      } finally {
        await killer.close();
      }
      await assert.rejects(blocked, RedisConnectionError);
      await nextEvent(client, "ready");
      assert.equal(await client.command(["DBSIZE"]), 201); // 200 strings and "z"
    } finally {
      await client.close();
      await bad.close();
    }
  });
});
