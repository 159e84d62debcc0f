/**
 * The one seam between the RESP client and the network: a connected byte
 * stream. Runtime implementations live in `runtimes/`; tests inject a fake.
 *
 * @module
 */

/** Where and how to connect. Exactly one of `path` or `host`+`port` is used. */
export interface ConnectOptions {
  /** Host name or IP address (TCP). */
  host: string;
  /** TCP port. */
  port: number;
  /** A unix domain socket path; when set, `host` and `port` are ignored. */
  path?: string;
  /** TLS: `true` for the system's trust store, or options for a custom CA / server name. */
  tls?: boolean | TlsOptions;
  /** Give up connecting after this many milliseconds. */
  timeoutMs: number;
}

/** TLS settings for a connection. */
export interface TlsOptions {
  /** The name to verify the server's certificate against (default: the host). */
  servername?: string;
  /**
   * PEM-encoded CA certificate(s) to trust. On Node and Bun they replace the system store (a
   * pin: only servers certified by them are accepted). On Deno they are trusted **in addition
   * to** Deno's root store (Deno's TLS connect takes extra CA certificates, not a pin), so a server with any
   * publicly trusted certificate for the name is accepted too.
   */
  ca?: string | string[];
}

/** What the transport calls back with. */
export interface TransportHandlers {
  /** Bytes arrived. The buffer may be reused after the call returns: copy what you keep. */
  onData(bytes: Uint8Array): void;
  /** The stream ended, cleanly (`error` undefined) or not. Called at most once. */
  onClose(error?: Error): void;
}

/**
 * A connected byte stream.
 *
 * Two ways to end it: `close()` is graceful (what is queued is sent first)
 * but bounded, and `destroy()` is immediate. The client destroys a connection
 * it no longer trusts (a reply timeout, a protocol error): a server that
 * stopped reading must not keep a socket, its buffers and the process alive.
 *
 * @example A transport that discards what it is given
 * ```ts
 * import type { Transport } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * let open = true;
 * const sink: Transport = {
 *   write() {},
 *   close: () => Promise.resolve(void (open = false)),
 *   destroy: () => void (open = false),
 * };
 * sink.write(new Uint8Array([1]));
 * await sink.close();
 * assertEquals(open, false);
 * ```
 */
export interface Transport {
  /** Queues bytes for sending. Never throws, even once the stream is closed. */
  write(bytes: Uint8Array): void;
  /**
   * Ends the stream gracefully: queued bytes are sent, then the connection
   * closes and `onClose` follows (without an error). Bounded: if the peer has
   * not taken the queued bytes within `timeoutMs` (of the {@linkcode ConnectOptions}),
   * the stream is destroyed. Safe to call more than once, and after `destroy()`.
   */
  close(): Promise<void>;
  /**
   * Drops the stream now: queued bytes are discarded and the socket is
   * released without waiting for the peer; `onClose` follows (without an
   * error). Never throws; safe to call more than once, and after `close()`.
   *
   * Every transport of this package has it. It is optional so that a
   * transport written before it existed still type-checks: without it the
   * client can only `close()` a connection it gave up on, and a peer that
   * stopped reading then keeps that socket open.
   */
  destroy?(): void;
}

/**
 * Opens a connection. Rejects if the connection cannot be made within
 * `opts.timeoutMs`. Injected through `RedisBackend({ transport })`.
 */
export type Connect = (opts: ConnectOptions, handlers: TransportHandlers) => Promise<Transport>;
