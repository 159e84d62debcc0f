/**
 * The spans of one instrumented cache: `async_cache.load` per flight (an L1
 * miss's L2 lookup and load; no span on an L1 hit), and a client span per L2
 * command following the database semantic conventions. The loader runs with
 * the load span active, so its own spans (a database query) nest under it;
 * with `loaderSpans`, an `async_cache.loader` span around the loader's call
 * sits in between. Spans are started in the caller's active context (the
 * parent is the caller's span) through the provider's own context manager.
 *
 * @module
 */
import type { CacheProbe, FlightView } from "../cache/_probe.ts";
import type { Command } from "../resp/encoder.ts";
import type { ServerAddress } from "../resp/_observer.ts";
import {
  type Attributes,
  SPAN_CLIENT,
  SPAN_INTERNAL,
  type SpanLike,
  STATUS_ERROR,
  type TracerLike,
} from "./_api.ts";
import { keyHash } from "./_key_hash.ts";
import { SPANS } from "./_names.ts";
import type { Target } from "./_target.ts";
import { commandName, l2Observers } from "./_l2_client.ts";

// Attribute names, built once (a template literal per span would build them per span).
const KEY = "async_cache.key";
const KEY_HASH = "async_cache.key.hash";
const BACKGROUND = "async_cache.background";
const TIER = "async_cache.tier";
const STALE = "async_cache.stale";
const COALESCED = "async_cache.coalesced";
const BATCH_SIZE = "async_cache.batch.size";

/** How spans name keys, and which spans there are. */
export interface TraceOptions {
  /** `cache.name`. */
  name: string;
  /** Put raw keys on spans (`async_cache.key`, and key arguments in `db.query.text`). */
  recordKeys: boolean;
  /** An `async_cache.loader` span around each loader call, inside the load span. */
  loaderSpans: boolean;
}

function fail(span: SpanLike, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setStatus({ code: STATUS_ERROR, message: e.message });
  span.setAttribute("error.type", e.name);
}

/** Ends `span` when `result` settles (at once if it is not a promise); returns `result`. */
function endWith<T>(span: SpanLike, result: T, onEnd?: () => void): T {
  if (result instanceof Promise) {
    result.then(
      () => {
        onEnd?.();
        span.end();
      },
      (error) => {
        onEnd?.();
        fail(span, error);
        span.end();
      },
    );
  } else {
    onEnd?.();
    span.end();
  }
  return result;
}

/** Runs `run` in `span`: the span ends (failed on a throw or a rejection) when the result settles. */
function runIn<T>(span: SpanLike, run: () => T, onEnd?: () => void): T {
  let result: T;
  try {
    result = run();
  } catch (error) {
    fail(span, error);
    span.end();
    throw error;
  }
  return endWith(span, result, onEnd);
}

/** Starts tracing `target`; returns what stops it. */
export function traceTarget(tracer: TracerLike, target: Target, o: TraceOptions): () => void {
  const internals = target.internals;
  if (internals === undefined) return () => {};
  const name = o.name;
  const keyAttrs = (key: string): Attributes => {
    const a: Attributes = { "cache.name": name, [KEY_HASH]: keyHash(key) };
    if (o.recordKeys) a[KEY] = key;
    return a;
  };
  const probe: CacheProbe = {
    flight<T>(key: string, flight: FlightView, run: () => Promise<T>, background?: boolean) {
      const attributes = keyAttrs(key);
      if (background) attributes[BACKGROUND] = true;
      return tracer.startActiveSpan(
        SPANS.load,
        { kind: SPAN_INTERNAL, attributes },
        (span: SpanLike) =>
          runIn(span, run, () => {
            const source = flight.source;
            span.setAttribute(TIER, source === "stale" ? "l2" : source);
            span.setAttribute(STALE, source === "stale");
            span.setAttribute(COALESCED, flight.joined);
          }),
      ) as Promise<T>;
    },
    load<T>(key: string, run: () => T, keys?: number): T {
      // Without loader spans the loader runs in the load span's context already.
      if (!o.loaderSpans) return run();
      const attributes = keyAttrs(key);
      if (keys !== undefined) attributes[BATCH_SIZE] = keys;
      return tracer.startActiveSpan(
        SPANS.loader,
        { kind: SPAN_INTERNAL, attributes },
        (span: SpanLike) => runIn(span, run),
      ) as T;
    },
  };
  const offs = [internals.probes.add(probe)];
  const commands = l2Observers(internals);
  if (commands !== undefined) {
    // The SDK copies a span's attributes, so one object per server and command serves every span.
    const shared = new WeakMap<ServerAddress, Map<string, Attributes>>();
    const clientAttributes = (op: string, server: ServerAddress): Attributes => {
      let byOp = shared.get(server);
      if (byOp === undefined) shared.set(server, byOp = new Map());
      let a = byOp.get(op);
      if (a === undefined) {
        a = {
          "db.system.name": "redis",
          "db.operation.name": op,
          "server.address": server.address,
        };
        if (server.port !== undefined) a["server.port"] = server.port;
        if (byOp.size < 256) byOp.set(op, a);
      }
      return a;
    };
    offs.push(commands.add({
      start(args, server) {
        const op = commandName(args[0]);
        let attributes = clientAttributes(op, server);
        if (o.recordKeys) attributes = { ...attributes, "db.query.text": queryText(op, args) };
        const span = tracer.startSpan(op, { kind: SPAN_CLIENT, attributes });
        return (error) => {
          if (error !== undefined) fail(span, error);
          span.end();
        };
      },
    }));
  }
  return () => {
    for (const off of offs) off();
  };
}

/** Key arguments of the commands the backend sends; everything else is a value (`?`). */
function keyPositions(op: string, args: Command): (i: number) => boolean {
  switch (op) {
    case "MGET":
    case "UNLINK":
    case "DEL":
    case "EXISTS":
      return (i) => i >= 1;
    case "EVAL":
    case "EVALSHA":
    case "FCALL": {
      const n = Number(typeof args[2] === "string" ? args[2] : String(args[2]));
      return (i) => i >= 3 && i < 3 + n;
    }
    default:
      return (i) => i === 1;
  }
}

/** `GET user:1`, `SET user:1 ? PX ?`: the command with keys, values replaced by `?`. */
function queryText(op: string, args: Command): string {
  const isKey = keyPositions(op, args);
  const parts = [op];
  for (let i = 1; i < args.length && i < 64; i++) {
    const arg = args[i];
    parts.push(
      isKey(i)
        ? (typeof arg === "string" ? arg : arg instanceof Uint8Array ? latin1(arg) : String(arg))
        : "?",
    );
  }
  return parts.join(" ");
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length && i < 512; i++) s += String.fromCharCode(bytes[i]);
  return s;
}
