/**
 * The {@linkcode Transport} over `Bun.connect`.
 *
 * Writes are queued and flushed on a microtask, so everything written in one
 * tick leaves in one `socket.write` (small batches are coalesced into a reused
 * scratch buffer). Bun's `write` may take only part of a buffer when the
 * kernel's is full: the rest is kept, later writes queue behind it, and the
 * queue resumes on `drain`. `close()` ends the socket once the queue is out,
 * or terminates it after `timeoutMs` if the peer stopped reading; `destroy()`
 * terminates it at once.
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

/** The members of a Bun `Socket` used here. */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  setNoDelay?(noDelay?: boolean): boolean;
}

/** The socket handlers passed to `Bun.connect`. */
interface BunHandlers {
  binaryType: "uint8array";
  open(socket: BunSocket): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  close(socket: BunSocket, error?: Error): void;
  connectError(socket: BunSocket, error: Error): void;
}

/** The members of the `Bun` namespace used here (no dependency on Bun's ambient types). */
interface BunLike {
  connect(opts: {
    hostname?: string;
    port?: number;
    unix?: string;
    tls?: boolean | { ca?: string | string[]; serverName?: string };
    socket: BunHandlers;
  }): Promise<BunSocket>;
}

/** Batches up to this size are coalesced into a kept buffer; bigger ones get a one-off. */

/**
 * Opens a TCP, unix-socket or TLS connection with `Bun.connect`. Only callable
 * in Bun (the `Bun` global is read on call, never at import).
 *
 * Rejects with an `Error` when the connection (and, for TLS, the handshake)
 * does not complete within `opts.timeoutMs`; the half-open socket is terminated.
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
 * import { connectBun } from "./bun.ts";
 * await connectBun(
 *   { host: "127.0.0.1", port: 1, timeoutMs: 1000 },
 *   { onData() {}, onClose() {} },
 * ).catch((e) => console.assert(e instanceof Error));
 * ```
 */
export const connectBun: Connect = (
  opts: ConnectOptions,
  handlers: TransportHandlers,
): Promise<Transport> =>
  new Promise((resolve, reject) => {
    const bun = (globalThis as unknown as { Bun: BunLike }).Bun;
    const where = opts.path ?? `${opts.host}:${opts.port}`;
    const OPEN = 0, CLOSING = 1, CLOSED = 2;
    let state = OPEN;
    let settled = false;
    let connected = false;
    let sock: BunSocket | undefined;
    let failure: Error | undefined;
    const queue = new WriteQueue();
    let scheduled = false;
    let blocked = false; // the kernel buffer is full; wait for drain
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    let graceTimer: ReturnType<typeof setTimeout> | undefined;

    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new Error(`Cannot connect to ${where}: timed out after ${opts.timeoutMs} ms`));
      sock?.terminate();
    }, opts.timeoutMs);

    const flush = (): void => {
      scheduled = false;
      const socket = sock!;
      while (queue.length > 0 && !blocked && state !== CLOSED) {
        const chunk = queue.take();
        const fromScratch = queue.fromScratch;
        const n = socket.write(chunk);
        if (n < 0) return; // closed or shutting down: `close` reports it
        if (n < chunk.length) {
          blocked = true;
          // The rest goes first once drained; copy it out of scratch, which is reused.
          const rest = fromScratch ? chunk.slice(n) : chunk.subarray(n);
          queue.unshift(rest);
        }
      }
      if (state === CLOSING && queue.length === 0) socket.end();
    };

    const transport: Transport = {
      write(bytes: Uint8Array): void {
        if (state !== OPEN || bytes.length === 0) return;
        queue.push(bytes);
        if (!scheduled && !blocked) {
          scheduled = true;
          queueMicrotask(flush);
        }
      },
      close(): Promise<void> {
        if (state === OPEN) {
          state = CLOSING;
          if (queue.length === 0) sock!.end(); // else flush() ends once the queue is out
          // A peer that stopped reading (or never sends its FIN) gets timeoutMs.
          graceTimer = setTimeout(() => sock!.terminate(), opts.timeoutMs);
          (graceTimer as { unref?: () => void }).unref?.();
        }
        return closed;
      },
      destroy(): void {
        if (state === CLOSED) return;
        state = CLOSING; // asked for: onClose reports no error
        queue.clear();
        sock!.terminate();
      },
    };

    const onConnected = (socket: BunSocket) => {
      if (settled) return socket.terminate();
      settled = connected = true;
      clearTimeout(timer);
      resolve(transport);
    };

    const useTls = !!opts.tls;
    const { servername, ca } = opts.tls === true || !opts.tls ? {} as TlsOptions : opts.tls;
    bun.connect({
      ...(opts.path !== undefined ? { unix: opts.path } : { hostname: opts.host, port: opts.port }),
      tls: useTls ? { ca, serverName: servername ?? (opts.host || "localhost") } : undefined,
      socket: {
        binaryType: "uint8array",
        open(socket) {
          sock = socket;
          socket.setNoDelay?.(true);
          if (settled) socket.terminate();
          else if (!useTls) onConnected(socket);
        },
        handshake(socket, _success, authorizationError) {
          if (authorizationError) {
            fail(
              new Error(`Cannot connect to ${where}: ${authorizationError.message}`, {
                cause: authorizationError,
              }),
            );
            socket.terminate();
          } else onConnected(socket);
        },
        data(_socket, data) {
          handlers.onData(data);
        },
        drain() {
          blocked = false;
          if (!scheduled) flush();
        },
        end(socket) {
          socket.end();
        },
        error(_socket, error) {
          failure ??= error;
        },
        close(_socket, error) {
          if (state === CLOSED) return;
          const clean = state === CLOSING;
          state = CLOSED;
          clearTimeout(graceTimer);
          queue.clear();
          if (!connected) {
            fail(new Error(`Cannot connect to ${where}: ${error?.message ?? "connection closed"}`));
            resolveClosed();
            return;
          }
          failure ??= error ?? new Error(`Connection to ${where} closed by the peer`);
          handlers.onClose(clean ? undefined : failure);
          resolveClosed();
        },
        connectError(_socket, error) {
          fail(new Error(`Cannot connect to ${where}: ${error.message}`, { cause: error }));
        },
      },
    }).catch((error: Error) => {
      fail(new Error(`Cannot connect to ${where}: ${error.message}`, { cause: error }));
    });
  });
