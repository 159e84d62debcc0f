/**
 * Hardening of the RESP layer against a hostile server (issue 16, items 4, 5 and the
 * "also check" list): each test here failed on the code before its fix.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseReplies } from "../src/resp/parser.ts";
import { InvalidOptionError, RedisAuthError, RedisProtocolError } from "../src/errors.ts";
import { FakeRedis } from "../src/testing/fake_redis.ts";
import { RedisClient } from "../src/resp/client.ts";
import { defaultConnect } from "../runtimes/mod.ts";
import { startHostileServer } from "./_hostile_server.ts";

const enc = new TextEncoder();

describe("hardening: RESP parser", () => {
  // The pathological input for the old `\d+\.?\d*` pattern: on the old code this blocks the
  // event loop for seconds (8 s on Node), so a regression shows as a hang, not a slow assert.
  test("a double line of 65,534 digits and an x is a protocol error, found in linear time", {
    timeout: 60_000,
  }, () => {
    const line = "," + "1".repeat(65_534) + "x\r\n";
    assert.throws(() => parseReplies(enc.encode(line)), (e: unknown) => {
      assert.ok(e instanceof RedisProtocolError);
      assert.match(e.message, /double/);
      return true;
    });
  });

  test("double and big-number lines longer than their caps are protocol errors", () => {
    const longDouble = "," + "1".repeat(600) + "\r\n";
    assert.throws(() => parseReplies(enc.encode(longDouble)), {
      name: "RedisProtocolError",
      message: /double longer than/,
    });
    const longBig = "(" + "9".repeat(20_000) + "\r\n";
    assert.throws(() => parseReplies(enc.encode(longBig)), {
      name: "RedisProtocolError",
      message: /big number longer than/,
    });
  });

  test("an error reply's text is capped (a hostile 20 MB bulk error is not logged whole)", () => {
    const size = 20 * 1024 * 1024;
    const bytes = new Uint8Array(size + 32);
    const header = enc.encode(`!${size}\r\n`);
    bytes.set(header);
    bytes.fill(120, header.length, header.length + size); // "xxx..."
    bytes.set(enc.encode("\r\n"), header.length + size);
    const [reply] = parseReplies(bytes.subarray(0, header.length + size + 2));
    assert.ok(reply instanceof Error);
    assert.ok(reply.message.length <= 1100, `${reply.message.length} characters`);
    assert.match(reply.message, /20971520 bytes/);
    const line = "-ERR " + "y".repeat(60_000) + "\r\n";
    const [simple] = parseReplies(enc.encode(line));
    assert.ok(simple instanceof Error && simple.message.length <= 1100);
    // A short one is whole, and its code is kept.
    const [short] = parseReplies(enc.encode("!21\r\nSYNTAX invalid syntax\r\n"));
    assert.ok(short instanceof Error);
    assert.equal(short.message, "SYNTAX invalid syntax");
  });

  test("well-formed doubles and big numbers still parse", () => {
    const cases: [string, number][] = [
      [",1.5", 1.5],
      [",-0.25", -0.25],
      [",10", 10],
      [",.5", 0.5],
      [",3.", 3],
      [",1e10", 1e10],
      [",-1.5E-3", -1.5e-3],
      [",+2", 2],
      [",inf", Infinity],
      [",-inf", -Infinity],
      [",1.7976931348623157e308", 1.7976931348623157e308],
    ];
    for (const [wire, value] of cases) {
      assert.deepEqual(parseReplies(enc.encode(wire + "\r\n")), [value], wire);
    }
    assert.ok(Number.isNaN(parseReplies(enc.encode(",nan\r\n"))[0]));
    for (const bad of [",", ",.", ",1e", ",1e+", ",e5", ",1.2.3", ",--1", ",1 ", ",0x10", ",1_0"]) {
      assert.throws(
        () => parseReplies(enc.encode(bad + "\r\n")),
        { name: "RedisProtocolError" },
        bad,
      );
    }
    const big = "(" + "3".repeat(1000) + "\r\n";
    assert.deepEqual(parseReplies(enc.encode(big)), [BigInt("3".repeat(1000))]);
    assert.deepEqual(parseReplies(enc.encode("(-12\r\n")), [-12n]);
    for (const bad of ["(", "(-", "(1x", "(+-1"]) {
      assert.throws(
        () => parseReplies(enc.encode(bad + "\r\n")),
        { name: "RedisProtocolError" },
        bad,
      );
    }
  });
});

/** A logger that keeps every line (and the text of every detail) at every level. */
function recordingLogger() {
  const lines: string[] = [];
  const log = (message: string, ...details: unknown[]) => {
    lines.push(
      [message, ...details.map((d) => d instanceof Error ? errorText(d) : String(d))].join(" "),
    );
  };
  return { lines, logger: { warn: log, error: log, debug: log } };
}

/** An error's message and the messages of its whole cause chain. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error; e instanceof Error && parts.length < 10; e = e.cause) {
    parts.push(`${e.name}: ${e.message}`);
  }
  return parts.join(" <- ");
}

/** Redis < 6 (or a renamed HELLO): the refusal echoes the arguments, the password among them. */
const echo = (args: string[]) =>
  `-ERR unknown command '${args[0]}', with args beginning with: ${
    args.slice(1).map((a) => `'${a}'`).join(" ")
  } \r\n`;

describe("hardening: the handshake keeps the password out of text", () => {
  // "password" in the password: the old code took any refusal mentioning it for an auth failure.
  const PASSWORD = "my-password-is-hunter2";

  test("a HELLO refusal that echoes the password: falls back to AUTH + RESP2, logs no password", async () => {
    const server = await startHostileServer((args) => {
      if (args[0] === "HELLO") return echo(args);
      if (args[0] === "AUTH") return args[1] === PASSWORD ? "+OK\r\n" : "-ERR invalid password\r\n";
      if (args[0] === "PING") return "+PONG\r\n";
      return "-ERR unexpected\r\n";
    });
    const { lines, logger } = recordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      password: PASSWORD,
      logger,
      backoff: () => 10,
    });
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      assert.equal(client.protocol, 2);
      assert.deepEqual(server.commands.map((c) => c[0]), ["HELLO", "AUTH", "PING"]);
      assert.ok(lines.some((l) => /HELLO/.test(l)), "the refusal is still reported");
      for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("an AUTH refusal that echoes the password: RedisAuthError, no password in message, cause or logs", async () => {
    // HELLO and AUTH both renamed away: every refusal echoes its arguments.
    const server = await startHostileServer((args) => echo(args));
    const { lines, logger } = recordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      password: PASSWORD,
      logger,
      backoff: () => 10,
    });
    try {
      const error = await client.command(["PING"]).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RedisAuthError, errorText(error));
      assert.ok(!errorText(error).includes("hunter2"), errorText(error));
      assert.ok(!String((error as Error).stack).includes("hunter2"));
      for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("a truncated echo (a prefix of the password) is not quoted either", async () => {
    // Redis truncates the echoed arguments at 128 bytes, so a scrub of the whole password misses
    // a cut-off prefix of it: handshake replies are reported by their code only.
    const long = "hunter2-" + "x".repeat(200);
    const server = await startHostileServer((args) => {
      if (args[0] === "HELLO") return echo(args).slice(0, 100) + "\r\n";
      if (args[0] === "AUTH") return echo(args).slice(0, 80) + "\r\n";
      return "+PONG\r\n";
    });
    const { lines, logger } = recordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      password: long,
      logger,
      backoff: () => 10,
    });
    try {
      const error = await client.command(["PING"]).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RedisAuthError, errorText(error));
      assert.ok(!errorText(error).includes("hunter2"), errorText(error));
      for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("WRONGPASS to HELLO is an auth failure (no fallback); the error says WRONGPASS", async () => {
    const server = await startHostileServer((args) =>
      args[0] === "HELLO"
        ? `-WRONGPASS invalid username-password pair or user is disabled. ${args.join(" ")}\r\n`
        : "-ERR unexpected\r\n"
    );
    const { lines, logger } = recordingLogger();
    const client = new RedisClient({
      connect: defaultConnect,
      port: server.port,
      password: PASSWORD,
      logger,
      backoff: () => 10,
    });
    try {
      const error = await client.command(["PING"]).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RedisAuthError, errorText(error));
      assert.match((error as Error).message, /WRONGPASS/);
      assert.ok(!errorText(error).includes("hunter2"), errorText(error));
      assert.ok(!server.commands.some((c) => c[0] === "AUTH"));
      for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe("hardening: commands that would desynchronize the shared connection", () => {
  test("CLIENT REPLY OFF|SKIP|ON, RESET and a HELLO that changes the connection are refused by command(), never sent", async () => {
    const fake = new FakeRedis();
    const client = new RedisClient({ connect: fake.connect });
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      const refused = [
        ["CLIENT", "REPLY", "OFF"],
        ["client", "reply", "skip"],
        ["CLIENT", "REPLY", "ON"],
        ["RESET"],
        [enc.encode("reset")],
        ["HELLO", "2"],
        [enc.encode("HELLO"), enc.encode("2")],
        ["hello", "3", "AUTH", "default", "pw"],
      ];
      for (const args of refused) {
        await assert.rejects(client.command(args), (e: unknown) => {
          assert.ok(e instanceof InvalidOptionError, String(e));
          assert.equal(e.option, "args");
          return true;
        });
      }
      // Neighbours still go through: HELLO naming the protocol in use only reads server info.
      assert.ok((await client.command(["HELLO", "3"])) instanceof Map);
      assert.equal(await client.command(["CLIENT", "GETNAME"]), null);
      assert.equal(await client.command(["PING"]), "PONG");
      const sent = fake.commands.map((c) => String(c[0]).toUpperCase());
      assert.ok(!sent.includes("RESET"));
      assert.equal(sent.filter((c) => c === "HELLO").length, 2); // the handshake's, HELLO 3
      assert.ok(!fake.commands.some((c) => String(c[1]).toUpperCase() === "REPLY"));
    } finally {
      await client.close();
      await fake.close();
    }
  });
});
