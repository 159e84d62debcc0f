/**
 * Incremental RESP2 + RESP3 reply parser.
 *
 * Hot path design: the parser is a resumable state machine fed whatever
 * chunks the transport delivers. It never rescans: a header line split across
 * chunks is carried in a small buffer (bounded by `maxLineLength`) and only the
 * new bytes are searched for its end; a bulk string's payload is copied
 * from the chunk when it is all there, or else into a buffer that grows as
 * the bytes arrive (doubling from 64 KiB, capped at the declared size), so a
 * header that declares 512 MiB costs nothing until 512 MiB arrive. Small payloads (up to
 * `SMALL_BULK` bytes) that are whole in a chunk are not copied one by one: the
 * first one copies the rest of the chunk once (the "arena") and each is a
 * `subarray` view of it. Allocating a typed array with its own buffer costs
 * ~300 ns in V8 beyond 64 bytes, a view ~30 ns, so an MGET of 100 values makes
 * one buffer instead of 100. The price: a small reply keeps alive the bytes of
 * the chunk it arrived in (at most `ARENA_MAX`, 64 KiB). Aggregates in
 * progress live on an explicit stack (bounded by `maxDepth`), so a reply split
 * at any byte resumes exactly where it stopped. Lengths and integers are read
 * from the bytes directly; the only strings built are the ones returned
 * (simple strings, error messages). Every limit is checked before anything is
 * allocated for it, so a hostile header costs nothing.
 *
 * @module
 */

import { RedisProtocolError, RedisReplyError } from "../errors.ts";

/**
 * A parsed reply.
 *
 * | RESP type                         | value                                  |
 * | --------------------------------- | -------------------------------------- |
 * | simple string `+`                 | `string`                               |
 * | error `-`, bulk error `!`         | a {@linkcode RedisReplyError} (a value, not thrown) |
 * | integer `:`                       | `number` (a `bigint` beyond ±2^53)     |
 * | bulk string `$`, verbatim `=`     | `Uint8Array` (verbatim without its `txt:` prefix) |
 * | null `_`, `$-1`, `*-1`            | `null`                                 |
 * | boolean `#`                       | `boolean`                              |
 * | double `,`                        | `number` (`Infinity`, `-Infinity`, `NaN` too) |
 * | big number `(`                    | `bigint`                               |
 * | array `*`, set `~`                | `Reply[]` (a set too, as RESP2 sends it) |
 * | map `%`                           | `Map<Reply, Reply>` (keys as sent: use {@linkcode mapGet}) |
 * | push `>`                          | a {@linkcode PushReply}                |
 * | attribute `\|`                    | discarded; the value that follows is returned |
 */
export type Reply =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | RedisReplyError
  | Reply[]
  | Map<Reply, Reply>
  | PushReply;

/**
 * An out-of-band RESP3 push message (`>`), e.g. a client-side-caching
 * invalidation. It answers no command.
 *
 * @example
 * ```ts
 * import { parseReplies, PushReply } from "./parser.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const [push] = parseReplies(new TextEncoder().encode(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"));
 * assert(push instanceof PushReply);
 * assertEquals(push.kind, "invalidate");
 * ```
 */
export class PushReply {
  /** The elements, the first being the kind (e.g. `invalidate`, `message`). */
  readonly data: Reply[];
  /**
   * Wraps the elements of a push message.
   *
   * @param data The elements of the push message.
   */
  constructor(data: Reply[]) {
    this.data = data;
  }
  /** The first element as text (e.g. `"invalidate"`), or `""` if there is none. */
  get kind(): string {
    const first = this.data[0];
    if (typeof first === "string") return first;
    return first instanceof Uint8Array ? decodeUtf8(first) : "";
  }
}

/** Limits that bound what a (possibly hostile) server can make the parser allocate. */
export interface ParserLimits {
  /** Largest bulk string, bulk error or verbatim string, in bytes. Default 512 MiB. */
  maxBulkLength?: number;
  /** Most elements in one array, set or push, or entries in one map. Default 1,000,000. */
  maxAggregateLength?: number;
  /** Deepest nesting of aggregates. Default 64. */
  maxDepth?: number;
  /** Longest header line (simple string, error, number), in bytes. Default 64 KiB. */
  maxLineLength?: number;
}

/** The default {@linkcode ParserLimits}. */
export const DEFAULT_PARSER_LIMITS: Readonly<Required<ParserLimits>> = Object.freeze({
  maxBulkLength: 512 * 1024 * 1024,
  maxAggregateLength: 1_000_000,
  maxDepth: 64,
  maxLineLength: 64 * 1024,
});

const CR = 13;
const LF = 10;
// Type bytes.
const T_SIMPLE = 43; // +
const T_ERROR = 45; // -
const T_INTEGER = 58; // :
const T_BULK = 36; // $
const T_ARRAY = 42; // *
const T_NULL = 95; // _
const T_BOOLEAN = 35; // #
const T_DOUBLE = 44; // ,
const T_BIGNUM = 40; // (
const T_BULK_ERROR = 33; // !
const T_VERBATIM = 61; // =
const T_MAP = 37; // %
const T_SET = 126; // ~
const T_ATTRIBUTE = 124; // |
const T_PUSH = 62; // >

/** Which byte values start a reply: a lookup table avoids a switch per line. */
const KNOWN_TYPE = new Uint8Array(256);
for (
  const t of [
    T_SIMPLE,
    T_ERROR,
    T_INTEGER,
    T_BULK,
    T_ARRAY,
    T_NULL,
    T_BOOLEAN,
    T_DOUBLE,
    T_BIGNUM,
    T_BULK_ERROR,
    T_VERBATIM,
    T_MAP,
    T_SET,
    T_ATTRIBUTE,
    T_PUSH,
  ]
) KNOWN_TYPE[t] = 1;

/** Payloads up to this size, whole in one chunk, are views of the chunk's arena copy. */
const SMALL_BULK = 4096;
/** Most bytes of a chunk copied into one arena (a bigger chunk gets several). */
const ARENA_MAX = 64 * 1024;
/** The first buffer of a bulk payload split across chunks; it doubles as bytes arrive. */
const BULK_START = 64 * 1024;

// Parser states.
const S_LINE = 0;
const S_BULK = 1;
const S_BULK_CR = 2;
const S_BULK_LF = 3;
const S_FAILED = 4;

/** An aggregate being filled. Maps and attributes collect keys and values alternately. */
interface Frame {
  type: number;
  remaining: number;
  items: Reply[];
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
/**
 * The longest double line accepted (sign, 309 integer digits of `DBL_MAX` written out, a
 * fraction and an exponent fit). Redis writes at most ~24 characters (`%.17g`).
 */
const MAX_DOUBLE_LENGTH = 512;
/** The longest big-number line accepted, sign included; `BigInt` of it stays cheap. */
const MAX_BIGNUM_LENGTH = 4096;

/**
 * Decodes bytes as UTF-8 (invalid sequences become U+FFFD).
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Reads a string-like reply as text: a bulk string is decoded as UTF-8, a
 * simple string returned as is, a number or bigint written in decimal.
 *
 * @param reply A reply.
 * @returns The text, or `null` for a null reply.
 * @throws {TypeError} If the reply is not string-like (an array, a map, an error...).
 *
 * @example
 * ```ts
 * import { replyToString } from "./parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(replyToString(new TextEncoder().encode("42")), "42");
 * assertEquals(replyToString("OK"), "OK");
 * ```
 */
export function replyToString(reply: Reply): string | null {
  if (reply instanceof Uint8Array) return utf8.decode(reply);
  if (typeof reply === "string") return reply;
  if (reply === null) return null;
  if (typeof reply === "number" || typeof reply === "bigint") return String(reply);
  throw new TypeError(`Expected a string reply: received ${describeReply(reply)}`);
}

/**
 * Looks up a text key in a RESP3 map reply, whose keys arrive as bulk strings
 * (`Uint8Array`) or simple strings.
 *
 * @param map A map reply (e.g. from `HELLO 3` or `CONFIG GET` over RESP3).
 * @param key The key, as text.
 * @returns The value, or `undefined` if the key is absent.
 *
 * @example
 * ```ts
 * import { mapGet, parseReplies } from "./parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const [map] = parseReplies(new TextEncoder().encode("%1\r\n$5\r\nproto\r\n:3\r\n"));
 * assertEquals(mapGet(map as Map<never, never>, "proto"), 3);
 * ```
 */
export function mapGet(map: Map<Reply, Reply>, key: string): Reply | undefined {
  for (const [k, v] of map) {
    if (k === key || (k instanceof Uint8Array && utf8.decode(k) === key)) return v;
  }
  return undefined;
}

/** A short description of a reply's type, for error messages. */
function describeReply(reply: Reply): string {
  if (Array.isArray(reply)) return "an array";
  if (reply instanceof Map) return "a map";
  if (reply instanceof RedisReplyError) return `an error (${reply.message})`;
  if (reply instanceof PushReply) return "a push message";
  return typeof reply;
}

/**
 * The incremental parser. Feed it chunks in order; it calls `onReply` once per
 * complete top-level reply (push messages included).
 *
 * After it throws a {@linkcode RedisProtocolError} the stream is unusable: the
 * parser stays failed, and the connection must be dropped.
 *
 * @example Replies split across chunks
 * ```ts
 * import { RespParser, type Reply } from "./parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const replies: Reply[] = [];
 * const parser = new RespParser((r) => replies.push(r));
 * const enc = new TextEncoder();
 * parser.feed(enc.encode("+OK\r\n$5\r\nhel"));
 * parser.feed(enc.encode("lo\r\n:4"));
 * parser.feed(enc.encode("2\r\n"));
 * assertEquals(replies, ["OK", enc.encode("hello"), 42]);
 * ```
 */
export class RespParser {
  readonly #onReply: (reply: Reply) => void;
  readonly #maxBulk: number;
  readonly #maxAggregate: number;
  readonly #maxDepth: number;
  readonly #maxLine: number;

  #state = S_LINE;
  #failure: RedisProtocolError | undefined;
  /** The carried part of a header line split across chunks. */
  #line: Uint8Array = new Uint8Array(0);
  #lineLen = 0;
  /** The bulk payload being read. */
  #bulkType = 0;
  #bulkLen = 0;
  #bulkFilled = 0;
  #bulk: Uint8Array | undefined;
  #stack: Frame[] = [];
  /** A copy of the current chunk from `#arenaFrom` on: small payloads are views of it. */
  #arena: Uint8Array | undefined;
  #arenaFrom = 0;

  /**
   * Creates a parser for one stream.
   *
   * @param onReply Called with each complete top-level reply, in order.
   * @param limits Bounds on what the server may make the parser allocate.
   * @throws {RangeError} If a limit is not a positive integer.
   */
  constructor(onReply: (reply: Reply) => void, limits: ParserLimits = {}) {
    this.#onReply = onReply;
    this.#maxBulk = limit(limits, "maxBulkLength");
    this.#maxAggregate = limit(limits, "maxAggregateLength");
    this.#maxDepth = limit(limits, "maxDepth");
    this.#maxLine = limit(limits, "maxLineLength");
  }

  /** True while a reply has been started but not finished. */
  get busy(): boolean {
    return this.#state !== S_LINE || this.#lineLen > 0 || this.#stack.length > 0;
  }

  /**
   * Parses the next chunk of the stream. The chunk is not kept: what is needed
   * from it is copied.
   *
   * @param chunk Bytes received.
   * @throws {RedisProtocolError} If the bytes are not valid RESP or exceed a limit
   * (then, and on every later call).
   */
  feed(chunk: Uint8Array): void {
    if (this.#state === S_FAILED) throw this.#failure!;
    // Node hands us Buffers, whose indexOf/subarray/slice are slower JS
    // overrides (subarray builds a Buffer, slice returns a view): read them
    // through a plain Uint8Array view of the same bytes.
    if (chunk.constructor !== Uint8Array) {
      chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    this.#arena = undefined;
    try {
      this.#run(chunk);
    } catch (error) {
      // The rest of the chunk is lost either way: the stream cannot resume.
      this.#state = S_FAILED;
      this.#stack = [];
      this.#bulk = undefined;
      this.#line = new Uint8Array(0);
      this.#failure = error instanceof RedisProtocolError
        ? error
        : new RedisProtocolError("RESP parser stopped: a reply handler threw", { cause: error });
      throw error;
    }
  }

  #run(chunk: Uint8Array): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      switch (this.#state) {
        case S_LINE: {
          if (this.#lineLen === 0 && KNOWN_TYPE[chunk[pos]] === 0) {
            throw protocolError(`unknown type byte`, chunk, pos);
          }
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) {
            this.#carry(chunk, pos, end);
            return;
          }
          if (this.#lineLen === 0) {
            // The whole line is in this chunk: parse it in place.
            if (lf - pos > this.#maxLine + 1) throw this.#lineTooLong();
            if (chunk[lf - 1] !== CR) throw protocolError("missing CR before LF", chunk, pos);
            const start = pos;
            pos = lf + 1;
            this.#header(chunk, start, lf - 1);
          } else {
            this.#carry(chunk, pos, lf + 1);
            pos = lf + 1;
            const line = this.#line;
            const len = this.#lineLen;
            this.#lineLen = 0;
            if (len < 3 || line[len - 2] !== CR) {
              throw protocolError("missing CR before LF", line, 0);
            }
            this.#header(line, 0, len - 2);
          }
          break;
        }
        case S_BULK: {
          const need = this.#bulkLen - this.#bulkFilled;
          const avail = end - pos;
          if (this.#bulkFilled === 0 && avail >= need + 2) {
            // The whole payload and its CRLF are here: one copy, no state.
            if (chunk[pos + need] !== CR || chunk[pos + need + 1] !== LF) {
              throw protocolError("missing CRLF after bulk string", chunk, pos + need);
            }
            // Copies (the transport may reuse the chunk's buffer): a view of
            // the arena when small, else a `slice` of its own (`feed` made
            // `chunk` a plain Uint8Array, so `slice` copies).
            let payload: Uint8Array;
            if (need <= SMALL_BULK) {
              let at = pos - this.#arenaFrom;
              if (this.#arena === undefined || at + need > this.#arena.length) {
                this.#arena = chunk.slice(pos, Math.min(end, pos + ARENA_MAX));
                this.#arenaFrom = pos;
                at = 0;
              }
              payload = this.#arena.subarray(at, at + need);
            } else {
              payload = chunk.slice(pos, pos + need);
            }
            pos += need + 2;
            this.#state = S_LINE;
            this.#bulkDone(payload);
            break;
          }
          // Split payload: fill a buffer across chunks, grown with what
          // arrived, never with what the header declares.
          const take = avail < need ? avail : need;
          const filled = this.#bulkFilled + take;
          let buf = this.#bulk;
          if (buf === undefined || filled > buf.length) {
            const grown = new Uint8Array(
              Math.min(this.#bulkLen, Math.max(filled, buf ? buf.length * 2 : BULK_START)),
            );
            if (buf) grown.set(buf.subarray(0, this.#bulkFilled));
            this.#bulk = buf = grown;
          }
          buf.set(chunk.subarray(pos, pos + take), this.#bulkFilled);
          this.#bulkFilled += take;
          pos += take;
          if (this.#bulkFilled === this.#bulkLen) this.#state = S_BULK_CR;
          break;
        }
        case S_BULK_CR: {
          if (chunk[pos] !== CR) throw protocolError("missing CRLF after bulk string", chunk, pos);
          pos++;
          this.#state = S_BULK_LF;
          break;
        }
        case S_BULK_LF: {
          if (chunk[pos] !== LF) throw protocolError("missing CRLF after bulk string", chunk, pos);
          pos++;
          const payload = this.#bulk!;
          this.#bulk = undefined;
          this.#state = S_LINE;
          this.#bulkDone(payload);
          break;
        }
        default:
          throw this.#failure!;
      }
    }
  }

  /** Appends `chunk[from, to)` to the carried line, within `maxLineLength` (+ CRLF). */
  #carry(chunk: Uint8Array, from: number, to: number): void {
    const len = this.#lineLen + (to - from);
    if (len > this.#maxLine + 2) throw this.#lineTooLong();
    if (len > this.#line.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(len, this.#line.length * 2, 64), this.#maxLine + 2),
      );
      grown.set(this.#line.subarray(0, this.#lineLen));
      this.#line = grown;
    }
    this.#line.set(chunk.subarray(from, to), this.#lineLen);
    this.#lineLen = len;
  }

  #lineTooLong(): RedisProtocolError {
    return new RedisProtocolError(
      `RESP protocol error: header line longer than maxLineLength (${this.#maxLine} bytes)`,
    );
  }

  /** Handles a header line: `buf[start]` is the type byte, `buf[end]` the CR. */
  #header(buf: Uint8Array, start: number, end: number): void {
    const type = buf[start];
    const from = start + 1;
    switch (type) {
      case T_SIMPLE:
        this.#emit(text(buf, from, end));
        return;
      case T_ERROR:
        this.#emit(new RedisReplyError(errorText(buf, from, end)));
        return;
      case T_INTEGER:
        this.#emit(integer(buf, from, end));
        return;
      case T_BULK:
      case T_BULK_ERROR:
      case T_VERBATIM: {
        const n = length(buf, from, end);
        if (n === -1 && type === T_BULK) {
          this.#emit(null);
          return;
        }
        if (n < 0) throw protocolError("negative length", buf, start);
        if (n > this.#maxBulk) {
          throw new RedisProtocolError(
            `RESP protocol error: bulk length ${n} exceeds maxBulkLength (${this.#maxBulk})`,
          );
        }
        this.#bulkType = type;
        this.#bulkLen = n;
        this.#bulkFilled = 0;
        this.#state = S_BULK;
        return;
      }
      case T_ARRAY:
      case T_SET:
      case T_PUSH:
      case T_MAP:
      case T_ATTRIBUTE: {
        const n = length(buf, from, end);
        if (n === -1 && type === T_ARRAY) {
          this.#emit(null);
          return;
        }
        if (n < 0) throw protocolError("negative length", buf, start);
        if (n > this.#maxAggregate) {
          throw new RedisProtocolError(
            `RESP protocol error: aggregate length ${n} exceeds maxAggregateLength (${this.#maxAggregate})`,
          );
        }
        if (this.#stack.length >= this.#maxDepth) {
          throw new RedisProtocolError(
            `RESP protocol error: nesting deeper than maxDepth (${this.#maxDepth})`,
          );
        }
        if (n === 0) {
          if (type !== T_ATTRIBUTE) this.#emit(finish(type, []));
          return;
        }
        const pairs = type === T_MAP || type === T_ATTRIBUTE;
        this.#stack.push({ type, remaining: pairs ? 2 * n : n, items: [] });
        return;
      }
      case T_NULL:
        if (end !== from) throw protocolError("null with a payload", buf, start);
        this.#emit(null);
        return;
      case T_BOOLEAN:
        if (end === from + 1 && buf[from] === 116) this.#emit(true); // t
        else if (end === from + 1 && buf[from] === 102) this.#emit(false); // f
        else throw protocolError("bad boolean", buf, start);
        return;
      case T_DOUBLE:
        this.#emit(double(buf, from, end));
        return;
      case T_BIGNUM:
        this.#emit(bigNumber(buf, from, end));
        return;
      default:
        throw protocolError("unknown type byte", buf, start);
    }
  }

  #bulkDone(payload: Uint8Array): void {
    const type = this.#bulkType;
    if (type === T_BULK) {
      this.#emit(payload);
    } else if (type === T_BULK_ERROR) {
      this.#emit(new RedisReplyError(errorText(payload, 0, payload.length)));
    } else {
      // Verbatim: a 3-byte format and a colon ("txt:", "mkd:") precede the text.
      if (payload.length < 4 || payload[3] !== 58) {
        throw protocolError("verbatim string without a format prefix", payload, 0);
      }
      this.#emit(payload.subarray(4));
    }
  }

  /** Hands a complete value to its parent aggregate, completing parents as they fill. */
  #emit(value: Reply): void {
    const stack = this.#stack;
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        this.#onReply(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      stack.pop();
      // An attribute annotates the value that follows it: drop it, and let
      // that value take its place in the parent.
      if (top.type === T_ATTRIBUTE) return;
      value = finish(top.type, top.items);
    }
  }
}

/**
 * Parses a buffer that holds complete replies (convenient in tests and tools).
 *
 * @param bytes RESP bytes.
 * @param limits Parser limits.
 * @returns The replies, in order.
 * @throws {RedisProtocolError} If the bytes are malformed or end in the middle of a reply.
 *
 * @example
 * ```ts
 * import { parseReplies } from "./parser.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parseReplies(new TextEncoder().encode(":1\r\n#t\r\n_\r\n")), [1, true, null]);
 * ```
 */
export function parseReplies(bytes: Uint8Array, limits?: ParserLimits): Reply[] {
  const out: Reply[] = [];
  const parser = new RespParser((r) => out.push(r), limits);
  parser.feed(bytes);
  if (parser.busy) throw new RedisProtocolError("RESP protocol error: truncated reply");
  return out;
}

function finish(type: number, items: Reply[]): Reply {
  if (type === T_MAP) {
    const map = new Map<Reply, Reply>();
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  }
  if (type === T_PUSH) return new PushReply(items);
  return items;
}

function limit(limits: ParserLimits, name: keyof ParserLimits): number {
  const value = limits[name] ?? DEFAULT_PARSER_LIMITS[name];
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create RespParser: ${name} must be a positive integer: received ${String(value)}`,
    );
  }
  return value;
}

/** Decodes `buf[from, end)`; short ASCII text (the usual "OK", "PONG") skips TextDecoder. */
function text(buf: Uint8Array, from: number, end: number): string {
  const n = end - from;
  if (n === 2 && buf[from] === 79 && buf[from + 1] === 75) return "OK";
  if (n <= 16) {
    let s = "";
    for (let i = from; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return utf8.decode(buf.subarray(from, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(buf.subarray(from, end));
}

/**
 * The most bytes of an error reply kept as its message. An error's text ends up in logs and
 * thrown errors; a hostile server's 500 MB bulk error must not, whole.
 */
const MAX_ERROR_TEXT = 1000;

/** An error reply's text, cut at `MAX_ERROR_TEXT` bytes (its size said) when longer. */
function errorText(buf: Uint8Array, from: number, end: number): string {
  if (end - from <= MAX_ERROR_TEXT) return text(buf, from, end);
  // The decoder drops a UTF-8 sequence cut at the end (no replacement character).
  const head = new TextDecoder("utf-8", { fatal: false }).decode(
    buf.subarray(from, from + MAX_ERROR_TEXT),
    { stream: true },
  );
  return `${head}... (error text cut: ${end - from} bytes)`;
}

/** Parses a RESP integer; a `bigint` when it does not fit a double exactly. */
function integer(buf: Uint8Array, from: number, end: number): number | bigint {
  let i = from;
  const negative = buf[i] === 45;
  if (negative) i++;
  const digits = end - i;
  if (digits < 1 || digits > 20) throw protocolError("bad integer", buf, from - 1);
  let n = 0;
  for (let j = i; j < end; j++) {
    const d = buf[j] - 48;
    if (d < 0 || d > 9) throw protocolError("bad integer", buf, from - 1);
    n = n * 10 + d;
  }
  if (digits <= 15) return negative ? -n : n;
  const big = BigInt(text(buf, from, end));
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) return big;
  return Number(big);
}

/** Parses a length: a non-negative integer or `-1`. Longer than 15 digits is over any limit. */
function length(buf: Uint8Array, from: number, end: number): number {
  if (end - from === 2 && buf[from] === 45 && buf[from + 1] === 49) return -1;
  const digits = end - from;
  if (digits < 1) throw protocolError("bad length", buf, from - 1);
  let n = 0;
  for (let j = from; j < end; j++) {
    const d = buf[j] - 48;
    if (d < 0 || d > 9) throw protocolError("bad length", buf, from - 1);
    n = n * 10 + d;
  }
  if (digits > 15) return Number.MAX_SAFE_INTEGER;
  return n;
}

/**
 * Parses a RESP3 double. The syntax is checked by one linear scan over the bytes (a
 * backtracking regular expression took seconds on a long run of digits), after the length cap.
 */
function double(buf: Uint8Array, from: number, end: number): number {
  if (end - from > MAX_DOUBLE_LENGTH) {
    throw protocolError(`double longer than ${MAX_DOUBLE_LENGTH} bytes`, buf, from - 1);
  }
  const s = text(buf, from, end);
  switch (s.toLowerCase()) {
    case "inf":
    case "+inf":
      return Infinity;
    case "-inf":
      return -Infinity;
    case "nan":
    case "-nan":
      return NaN;
  }
  if (!isDecimal(buf, from, end)) throw protocolError("bad double", buf, from - 1);
  return Number(s);
}

/** `[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?` over `buf[from, end)`, in one pass. */
function isDecimal(buf: Uint8Array, from: number, end: number): boolean {
  let i = from;
  if (i < end && (buf[i] === 43 || buf[i] === 45)) i++; // + -
  let mantissa = 0;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) i++, mantissa++;
  if (i < end && buf[i] === 46) { // .
    i++;
    while (i < end && buf[i] >= 48 && buf[i] <= 57) i++, mantissa++;
  }
  if (mantissa === 0) return false;
  if (i < end && (buf[i] === 101 || buf[i] === 69)) { // e E
    i++;
    if (i < end && (buf[i] === 43 || buf[i] === 45)) i++;
    const digitsFrom = i;
    while (i < end && buf[i] >= 48 && buf[i] <= 57) i++;
    if (i === digitsFrom) return false;
  }
  return i === end;
}

/** Parses a RESP3 big number: `[+-]?digits`, at most `MAX_BIGNUM_LENGTH` bytes. */
function bigNumber(buf: Uint8Array, from: number, end: number): bigint {
  if (end - from > MAX_BIGNUM_LENGTH) {
    throw protocolError(`big number longer than ${MAX_BIGNUM_LENGTH} bytes`, buf, from - 1);
  }
  let i = from;
  if (i < end && (buf[i] === 43 || buf[i] === 45)) i++;
  if (i === end) throw protocolError("bad big number", buf, from - 1);
  for (; i < end; i++) {
    if (buf[i] < 48 || buf[i] > 57) throw protocolError("bad big number", buf, from - 1);
  }
  return BigInt(text(buf, from, end));
}

/** A protocol error quoting (at most 32 bytes of) the offending input. */
function protocolError(what: string, buf: Uint8Array, at: number): RedisProtocolError {
  const end = Math.min(buf.length, at + 32);
  let quoted = "";
  for (let i = at; i < end; i++) quoted += String.fromCharCode(buf[i]);
  return new RedisProtocolError(`RESP protocol error: ${what} at ${JSON.stringify(quoted)}`);
}
