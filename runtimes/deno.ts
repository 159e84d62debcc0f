/**
 * The {@linkcode Transport} over `Deno.connect` / `Deno.startTls`.
 *
 * One read loop fills a reused 64 KiB buffer. Writes are queued and sent by a
 * single write loop, started on a microtask, so `write()` stays synchronous,
 * order is kept, and everything written in one tick leaves in one syscall
 * (small batches are coalesced into a reused scratch buffer). `close()` lets
 * the write loop finish, or gives up after `timeoutMs` if the peer stopped
 * reading; `destroy()` closes the connection at once (pending writes fail
 * and are dropped).
 *
 * @module
 */

import { WriteQueue } from "./_write_queue.ts";
import type {
  Connect,
  ConnectOptions,
  TlsOptions,
  Transport,
  TransportHandlers,
} from "../src/transport.ts";

/** The members of a `Deno.Conn` used here. */
interface DenoConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  handshake?(): Promise<unknown>;
}

/** The members of the `Deno` namespace used here (no dependency on Deno's ambient types). */
interface DenoLike {
  connect(
    opts: { hostname: string; port: number; signal?: AbortSignal } | {
      transport: "unix";
      path: string;
    },
  ): Promise<DenoConn>;
  startTls(conn: DenoConn, opts: { hostname?: string; caCerts?: string[] }): Promise<DenoConn>;
  unrefTimer?(id: number): void;
}

const READ_BUFFER_SIZE = 64 * 1024;
/** Batches up to this size are coalesced into a kept buffer; bigger ones get a one-off. */

/**
 * Opens a TCP, unix-socket or TLS connection with Deno's own APIs. Only
 * callable in Deno (the `Deno` global is read on call, never at import).
 *
 * Rejects with an `Error` when the connection (and, for TLS, the handshake)
 * does not complete within `opts.timeoutMs`; the half-open connection is closed.
 * A close not asked for by `close()` reaches `onClose` with an `Error`.
 * Bytes passed to `write` are not copied: do not change them afterwards.
 *
 * @param opts Where to connect and how long to wait.
 * @param handlers Receive the bytes and the close.
 * @returns The connected transport.
 * @throws {Error} (as a rejection) when the connection fails or times out.
 *
 * @example Connecting to a server that is not there
 * ```ts ignore
 * import { connectDeno } from "./deno.ts";
 * await connectDeno(
 *   { host: "127.0.0.1", port: 1, timeoutMs: 1000 },
 *   { onData() {}, onClose() {} },
 * ).catch((e) => console.assert(e instanceof Error));
 * ```
 */
export const connectDeno: Connect = async (
  opts: ConnectOptions,
  handlers: TransportHandlers,
): Promise<Transport> => {
  const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
  const where = opts.path ?? `${opts.host}:${opts.port}`;
  const abort = new AbortController();
  let conn: DenoConn | undefined;
  let timedOut = false;
  const closeQuietly = (c: DenoConn | undefined) => {
    try {
      c?.close();
    } catch { /* already closed or consumed by startTls */ }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
    closeQuietly(conn);
  }, opts.timeoutMs);
  const checkTime = () => {
    if (timedOut) throw new Error("timed out");
  };
  try {
    conn = await deno.connect(
      opts.path !== undefined
        ? { transport: "unix", path: opts.path }
        : { hostname: opts.host, port: opts.port, signal: abort.signal },
    );
    checkTime();
    if (opts.path === undefined) conn.setNoDelay?.(true);
    if (opts.tls) {
      const { servername, ca } = opts.tls === true ? {} as TlsOptions : opts.tls;
      const plain: DenoConn = conn;
      conn = undefined;
      conn = await deno.startTls(plain, {
        hostname: servername ?? (opts.host || "localhost"),
        // Added to Deno's root store, not a replacement (no per-connection pin in Deno's API):
        // documented in TlsOptions.ca and the README.
        caCerts: ca === undefined ? undefined : Array.isArray(ca) ? ca : [ca],
      });
      checkTime();
      await conn.handshake?.();
      checkTime();
    }
  } catch (error) {
    closeQuietly(conn);
    throw timedOut
      ? new Error(`Cannot connect to ${where}: timed out after ${opts.timeoutMs} ms`)
      : new Error(`Cannot connect to ${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return denoTransport(conn, handlers, where, opts.timeoutMs, deno);
};

function denoTransport(
  conn: DenoConn,
  handlers: TransportHandlers,
  where: string,
  graceMs: number,
  deno: DenoLike,
): Transport {
  const OPEN = 0, CLOSING = 1, CLOSED = 2;
  let state = OPEN;
  let failure: Error | undefined;
  const queue = new WriteQueue();
  let writing = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let graceTimer: ReturnType<typeof setTimeout> | undefined;

  const shutdown = () => {
    try {
      conn.close(); // the read loop then ends and reports the close
    } catch { /* already closed */ }
  };

  const writeLoop = async (): Promise<void> => {
    try {
      while (queue.length > 0 && state !== CLOSED) {
        const chunk = queue.take(); // writes made while we await queue up behind it
        let off = await conn.write(chunk);
        while (off < chunk.length) off += await conn.write(chunk.subarray(off));
      }
    } catch (error) {
      if (state === OPEN) failure ??= error as Error;
      shutdown();
    }
    writing = false;
    if (state === CLOSING) shutdown();
  };
  const startWriting = () => void writeLoop();

  const readLoop = async (): Promise<void> => {
    const buf = new Uint8Array(READ_BUFFER_SIZE);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        handlers.onData(buf.subarray(0, n));
      }
      if (state === OPEN) failure ??= new Error(`Connection to ${where} closed by the peer`);
    } catch (error) {
      // After close() the pending read fails (BadResource/Interrupted): that is the clean path.
      if (state === OPEN) failure ??= error as Error;
    }
    const clean = state === CLOSING;
    state = CLOSED;
    clearTimeout(graceTimer);
    queue.clear();
    shutdown();
    handlers.onClose(clean ? undefined : failure);
    resolveClosed();
  };
  void readLoop();

  return {
    write(bytes: Uint8Array): void {
      if (state !== OPEN || bytes.length === 0) return;
      queue.push(bytes);
      if (!writing) {
        writing = true;
        queueMicrotask(startWriting);
      }
    },
    close(): Promise<void> {
      if (state === OPEN) {
        state = CLOSING;
        if (!writing) shutdown();
        else {
          // The write loop flushes, then shuts down; a peer that stopped reading gets graceMs.
          graceTimer = setTimeout(() => {
            queue.clear();
            shutdown();
          }, graceMs);
          deno.unrefTimer?.(graceTimer as unknown as number);
        }
      }
      return closed;
    },
    destroy(): void {
      if (state === CLOSED) return;
      state = CLOSING; // asked for: onClose reports no error
      queue.clear();
      shutdown(); // a pending write or read fails, and both loops end
    },
  };
}
