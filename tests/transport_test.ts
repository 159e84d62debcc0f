/**
 * The runtime transports against a real redis-server: the running runtime's
 * own (`defaultConnect`) and `connectNode` (node:net works in all three).
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import type { Connect, Transport } from "../src/transport.ts";
import { connectNode } from "../runtimes/node.ts";
import { RedisClient } from "../src/resp/client.ts";
import { defaultConnect, runtimeName } from "../runtimes/mod.ts";
import {
  freePort,
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const available = redisServerAvailable();
if (!available) console.warn(SKIP_MESSAGE);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PING = encoder.encode("*1\r\n$4\r\nPING\r\n");

/** Encodes a command as a RESP array of bulk strings. */
function command(...args: (string | Uint8Array)[]): Uint8Array {
  const parts = args.map((a) => (typeof a === "string" ? encoder.encode(a) : a));
  const chunks: Uint8Array[] = [encoder.encode(`*${parts.length}\r\n`)];
  for (const p of parts) chunks.push(encoder.encode(`$${p.length}\r\n`), p, encoder.encode("\r\n"));
  return concat(chunks);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Handlers that keep every byte (copied: the transport may reuse its buffer) and every close. */
class Peer {
  chunks: Uint8Array[] = [];
  length = 0;
  closes: (Error | undefined)[] = [];
  #wake: (() => void) | undefined;
  readonly closed: Promise<Error | undefined>;
  #onClosed!: (e: Error | undefined) => void;

  constructor() {
    this.closed = new Promise((r) => (this.#onClosed = r));
  }

  onData = (bytes: Uint8Array): void => {
    this.chunks.push(bytes.slice());
    this.length += bytes.length;
    this.#wake?.();
  };

  onClose = (error?: Error): void => {
    this.closes.push(error);
    this.#onClosed(error);
    this.#wake?.();
  };

  bytes(): Uint8Array {
    return concat(this.chunks);
  }

  text(): string {
    return decoder.decode(this.bytes());
  }

  /** Resolves once `length` bytes arrived; rejects on close or after `ms`. */
  async waitFor(length: number, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.length < length) {
      if (this.closes.length > 0) throw new Error(`closed after ${this.length}/${length} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.length}/${length} bytes`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }
}

/** A TCP server on loopback that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const transports: [string, Connect][] = runtimeName === "node"
  ? [["connectNode (defaultConnect on node)", connectNode]]
  : [[`defaultConnect (${runtimeName})`, defaultConnect], ["connectNode", connectNode]];

for (const [name, connect] of transports) {
  describe(`transport: ${name}`, { skip: available ? false : SKIP_MESSAGE }, () => {
    let redis: RedisServer;
    let tlsRedis: RedisServer;

    before(async () => {
      redis = await startRedisServer({ unixSocket: true });
      tlsRedis = await startRedisServer({ tls: true });
    });
    after(async () => {
      await redis?.stop();
      await tlsRedis?.stop();
    });

    const tcp = () => ({ host: redis.host, port: redis.port, timeoutMs: 5000 });

    /** Connects, sends PING, expects PONG, closes cleanly. */
    async function pingPong(open: (peer: Peer) => Promise<Transport>): Promise<void> {
      const peer = new Peer();
      const t = await open(peer);
      t.write(PING);
      await peer.waitFor(7);
      assert.equal(peer.text(), "+PONG\r\n");
      await t.close();
      assert.deepEqual(peer.closes, [undefined]);
    }

    test("PING gets PONG over TCP", () => pingPong((peer) => connect(tcp(), peer)));

    test("1000 writes in one tick arrive in order", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      let expected = "";
      for (let i = 0; i < 1000; i++) {
        const s = String(i);
        t.write(command("ECHO", s));
        expected += `$${s.length}\r\n${s}\r\n`;
      }
      await peer.waitFor(expected.length);
      assert.equal(peer.text(), expected);
      await t.close();
    });

    test("writes spread over ticks and awaits arrive in order", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      let expected = "";
      for (let i = 0; i < 300; i++) {
        const s = `v${i}`;
        t.write(command("ECHO", s));
        expected += `$${s.length}\r\n${s}\r\n`;
        if (i % 7 === 0) await Promise.resolve();
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await peer.waitFor(expected.length);
      assert.equal(peer.text(), expected);
      await t.close();
    });

    test("a 1 MiB SET then GET round-trips the value", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      const value = new Uint8Array(1024 * 1024);
      for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff;
      const key = `transport:big:${name}`;
      t.write(command("SET", key, value));
      t.write(command("GET", key));
      t.write(command("DEL", key));
      const header = encoder.encode(`+OK\r\n$${value.length}\r\n`);
      const total = header.length + value.length + 2 + 4; // + "\r\n" + ":1\r\n"
      await peer.waitFor(total);
      const got = peer.bytes();
      assert.equal(got.length, total);
      assert.deepEqual(got.subarray(0, header.length), header);
      const body = got.subarray(header.length, header.length + value.length);
      assert.equal(body.findIndex((b, i) => b !== value[i]), -1, "the value differs");
      assert.equal(decoder.decode(got.subarray(header.length + value.length)), "\r\n:1\r\n");
      await t.close();
    });

    test("16 MiB written to a frozen server arrive in order once it resumes", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      const value = new Uint8Array(2 * 1024 * 1024).fill(0x61);
      const key = (i: number) => `transport:pressure:${name}:${i}`;
      redis.pause(); // the kernel buffers fill up: the transport must keep the rest
      try {
        for (let i = 0; i < 8; i++) {
          t.write(command("SET", key(i), value));
          await new Promise((r) => setTimeout(r, 2));
        }
        t.write(command("STRLEN", key(7)));
        for (let i = 0; i < 8; i++) t.write(command("DEL", key(i)));
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        redis.resume();
      }
      const expected = "+OK\r\n".repeat(8) + `:${value.length}\r\n` + ":1\r\n".repeat(8);
      await peer.waitFor(expected.length);
      assert.equal(peer.text(), expected);
      await t.close();
    });

    test("PING gets PONG over a unix socket", () =>
      pingPong((peer) => connect({ host: "", port: 0, path: redis.path, timeoutMs: 5000 }, peer)));

    test("TLS to localhost with the throwaway CA", () =>
      pingPong((peer) =>
        connect(
          { host: "localhost", port: tlsRedis.port, tls: { ca: tlsRedis.caPem }, timeoutMs: 5000 },
          peer,
        )
      ));

    test("TLS to 127.0.0.1 with servername localhost", () =>
      pingPong((peer) =>
        connect(
          {
            host: "127.0.0.1",
            port: tlsRedis.port,
            tls: { ca: [tlsRedis.caPem!], servername: "localhost" },
            timeoutMs: 5000,
          },
          peer,
        )
      ));

    test("TLS rejects a server the trust store does not know", async () => {
      const peer = new Peer();
      await assert.rejects(
        connect({ host: "localhost", port: tlsRedis.port, tls: true, timeoutMs: 5000 }, peer),
        Error,
      );
      assert.deepEqual(peer.closes, []);
    });

    test("connecting to a closed port rejects", async () => {
      const port = await freePort();
      const peer = new Peer();
      await assert.rejects(connect({ host: "127.0.0.1", port, timeoutMs: 5000 }, peer), Error);
      assert.deepEqual(peer.closes, []);
    });

    test("timeoutMs bounds a TLS handshake nobody answers", async () => {
      const silent = await silentServer();
      try {
        const peer = new Peer();
        const started = Date.now();
        await assert.rejects(
          connect(
            { host: "localhost", port: silent.port, tls: { ca: tlsRedis.caPem }, timeoutMs: 200 },
            peer,
          ),
          /timed out/,
        );
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 150 && elapsed < 3000, `rejected after ${elapsed} ms`);
        assert.deepEqual(peer.closes, []);
      } finally {
        await silent.close();
      }
    });

    test("onClose is called once, with an Error, when the server is killed", async () => {
      const own = await startRedisServer();
      try {
        const peer = new Peer();
        const t = await connect({ host: own.host, port: own.port, timeoutMs: 5000 }, peer);
        t.write(PING);
        await peer.waitFor(7);
        await own.kill();
        const error = await peer.closed;
        assert.ok(error instanceof Error, `onClose got ${error}`);
        t.write(PING); // after the close: must not throw
        await t.close();
        await t.close();
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(peer.closes.length, 1);
      } finally {
        await own.stop();
      }
    });

    test("close() is idempotent and write() after close does not throw", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      const first = t.close();
      t.write(PING);
      const second = t.close();
      await Promise.all([first, second]);
      t.write(PING);
      await t.close();
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(peer.closes, [undefined]);
      assert.equal(peer.length, 0);
    });

    /** Connects to `server`, freezes it, and writes `mib` MiB it will never read. */
    async function stuck(server: RedisServer, peer: Peer, timeoutMs = 5000): Promise<Transport> {
      const t = await connect({ host: server.host, port: server.port, timeoutMs }, peer);
      t.write(PING);
      await peer.waitFor(7);
      server.pause();
      const value = new Uint8Array(4 * 1024 * 1024).fill(0x62);
      for (let i = 0; i < 8; i++) {
        t.write(command("SET", `transport:stuck:${i}`, value));
        await new Promise((r) => setTimeout(r, 2));
      }
      return t;
    }

    /** Resolves with the close error, or rejects after `ms`. */
    async function closedWithin(peer: Peer, ms: number): Promise<Error | undefined> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          peer.closed,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    }

    test("destroy() drops the socket at once, with 32 MiB a frozen server never reads", async () => {
      const own = await startRedisServer();
      try {
        const peer = new Peer();
        const t = await stuck(own, peer);
        const started = Date.now();
        assert.equal(typeof t.destroy, "function");
        t.destroy!();
        t.destroy!(); // idempotent
        assert.equal(await closedWithin(peer, 2_000), undefined, "a destroy asked for is clean");
        assert.ok(Date.now() - started < 2_000);
        t.write(PING); // after destroy: must not throw
        await t.close(); // resolves: already closed
        assert.equal(peer.closes.length, 1);
      } finally {
        own.resume();
        await own.stop();
      }
    });

    test("close() on a frozen server that never reads is bounded by timeoutMs", async () => {
      const own = await startRedisServer();
      try {
        const peer = new Peer();
        const t = await stuck(own, peer, 300);
        const started = Date.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const outcome = await Promise.race([
          t.close().then(() => "closed"),
          new Promise((r) => (timer = setTimeout(() => r("hung"), 5_000))),
        ]);
        clearTimeout(timer);
        assert.equal(outcome, "closed", "close() must not wait for a peer that never reads");
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 200 && elapsed < 3_000, `closed after ${elapsed} ms`);
        assert.deepEqual(peer.closes, [undefined]);
      } finally {
        own.resume();
        await own.stop();
      }
    });

    test("writes queued before close() are flushed", async () => {
      const peer = new Peer();
      const t = await connect(tcp(), peer);
      const key = `transport:flush:${name}`;
      t.write(command("SET", key, "1"));
      await t.close();
      const check = new Peer();
      const t2 = await connect(tcp(), check);
      t2.write(command("GETDEL", key));
      await check.waitFor(7);
      assert.equal(check.text(), "$1\r\n1\r\n");
      await t2.close();
    });
  });
}

describe("RedisClient over the runtime transport: a hung server", {
  skip: available ? false : SKIP_MESSAGE,
}, () => {
  test("a reply timeout destroys the socket: it is released, not left draining", async () => {
    const own = await startRedisServer();
    let transportClosed!: (error: Error | undefined) => void;
    const closed = new Promise<Error | undefined>((r) => (transportClosed = r));
    let opened = 0;
    const watched: Connect = (opts, handlers) => {
      opened++;
      return defaultConnect(opts, {
        onData: handlers.onData,
        onClose: (error) => {
          if (opened === 1) transportClosed(error);
          handlers.onClose(error);
        },
      });
    };
    const client = new RedisClient({
      connect: watched,
      port: own.port,
      socketTimeoutMs: 300,
      backoff: () => 60_000,
    });
    try {
      await client.command(["PING"]);
      own.pause();
      const big = new Uint8Array(32 * 1024 * 1024).fill(0x63);
      await assert.rejects(client.command(["SET", "hung", big]), { name: "RedisTimeoutError" });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        closed.then(() => "released"),
        new Promise((r) => (timer = setTimeout(() => r("leaked"), 2_000))),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, "released", "the timed-out socket is still open");
    } finally {
      own.resume();
      await client.close();
      await own.stop();
    }
  });
});
