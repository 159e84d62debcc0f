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
  /** PEM-encoded CA certificate(s) to trust instead of the system store. */
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
 * @example A transport that discards what it is given
 * ```ts
 * import type { Transport } from "@async-cache/cache";
 * const sink: Transport = { write() {}, close: () => Promise.resolve() };
 * sink.write(new Uint8Array([1]));
 * await sink.close();
 * ```
 */
export interface Transport {
  /** Queues bytes for sending. Never throws, even once the stream is closed. */
  write(bytes: Uint8Array): void;
  /** Closes the stream; `onClose` follows. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens a connection. Rejects if the connection cannot be made within
 * `opts.timeoutMs`. Injected through `RedisBackend({ transport })`.
 */
export type Connect = (opts: ConnectOptions, handlers: TransportHandlers) => Promise<Transport>;
