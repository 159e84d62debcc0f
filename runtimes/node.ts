/**
 * The {@linkcode Transport} over `node:net` / `node:tls`. It also works in Deno
 * and Bun through their Node compatibility layers.
 *
 * Writes issued in the same tick are corked and leave in one `writev`; Nagle
 * is off, so a lone command is not held back. `close()` ends the socket and
 * destroys it once flushed, or after `timeoutMs` if the peer stops reading;
 * `destroy()` destroys it at once.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type {
  Connect,
  ConnectOptions,
  TlsOptions,
  Transport,
  TransportHandlers,
} from "../src/transport.ts";

/**
 * Opens a TCP, unix-socket or TLS connection with `node:net` / `node:tls`.
 *
 * Rejects with an `Error` when the connection (and, for TLS, the handshake)
 * does not complete within `opts.timeoutMs`; the half-open socket is destroyed.
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
 * import { connectNode } from "./node.ts";
 * await connectNode(
 *   { host: "127.0.0.1", port: 1, timeoutMs: 1000 },
 *   { onData() {}, onClose() {} },
 * ).catch((e) => console.assert(e instanceof Error));
 * ```
 */
export const connectNode: Connect = (
  opts: ConnectOptions,
  handlers: TransportHandlers,
): Promise<Transport> =>
  new Promise((resolve, reject) => {
    const where = opts.path ?? `${opts.host}:${opts.port}`;
    const socket = openSocket(opts);
    let settled = false;
    let connected = false;
    let closing = false;
    let closed = false;
    let corked = false;
    let failure: Error | undefined;
    let closedPromise: Promise<void> | undefined;
    let resolveClosed: () => void = () => {};
    let graceTimer: ReturnType<typeof setTimeout> | undefined;

    const timer = setTimeout(() => {
      fail(new Error(`Cannot connect to ${where}: timed out after ${opts.timeoutMs} ms`));
      socket.destroy();
    }, opts.timeoutMs);

    function fail(error: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    }

    const uncork = (): void => {
      corked = false;
      if (!closed) socket.uncork();
    };

    const transport: Transport = {
      write(bytes: Uint8Array): void {
        if (closing || closed) return;
        if (!corked) {
          corked = true;
          socket.cork();
          queueMicrotask(uncork);
        }
        socket.write(bytes);
      },
      close(): Promise<void> {
        if (closedPromise) return closedPromise;
        closedPromise = closed ? Promise.resolve() : new Promise((r) => (resolveClosed = r));
        if (!closing && !closed) {
          closing = true;
          if (corked) uncork();
          // Flush what is queued, then drop the socket without waiting for the
          // peer's FIN; a peer that stopped reading gets `timeoutMs`.
          socket.end(() => socket.destroy());
          graceTimer = setTimeout(() => socket.destroy(), opts.timeoutMs);
          graceTimer.unref?.();
        }
        return closedPromise;
      },
      destroy(): void {
        if (closed) return;
        closing = true; // asked for: onClose reports no error
        socket.destroy();
      },
    };

    socket.setNoDelay(true);
    socket.once(opts.tls ? "secureConnect" : "connect", () => {
      if (settled) return;
      settled = connected = true;
      clearTimeout(timer);
      resolve(transport);
    });
    socket.on("data", (chunk: Uint8Array) => handlers.onData(chunk));
    socket.on("error", (error: Error) => {
      if (!settled) {
        fail(new Error(`Cannot connect to ${where}: ${error.message}`, { cause: error }));
      } else failure ??= error;
    });
    socket.on("close", () => {
      closed = true;
      clearTimeout(graceTimer);
      if (!connected) {
        fail(new Error(`Cannot connect to ${where}: connection closed`));
        return;
      }
      if (!closing) failure ??= new Error(`Connection to ${where} closed by the peer`);
      handlers.onClose(closing ? undefined : failure);
      resolveClosed();
    });
  });

function openSocket(opts: ConnectOptions): net.Socket {
  const target = opts.path !== undefined
    ? { path: opts.path }
    : { host: opts.host, port: opts.port };
  if (!opts.tls) return net.connect(target);
  const { servername, ca } = opts.tls === true ? {} as TlsOptions : opts.tls;
  // Without a servername node:tls verifies against `host` (and sends SNI only for a name).
  return tls.connect({ ...target, servername, ca });
}
