/**
 * `AgentCache`: caching for AI-agent tool calls. A read-only tool is wrapped
 * with a `resource` (what it reads, e.g. `"cart"`), a `scope` (who may share
 * an entry) and a `ttl`; a mutating tool is wrapped with `invalidates`, and
 * drops those resources' entries after it succeeds.
 *
 * Key layout (L1 key; in L2 after the backend prefix and `agent:`):
 * `"<resource>":<scope>:"<tool>":<canonical args>`, where `<scope>` is `g`
 * (global), `s"<sessionId>"`, `u"<userId>"` or `f"<value>"` (a scope
 * function). Strings are JSON-quoted, so the prefix of one resource (or of
 * one resource and scope) never matches another's.
 *
 * Resources are tags: every entry carries the tags `agent:"<resource>":` and
 * `agent:"<resource>":<scope>:`. Invalidating a resource (or one scope of
 * it) drops the matching L1 entries of every tool of this process at once
 * and bumps the tag's generation in L2 (O(1)): entries of the old
 * generation are misses in every process, including one written late by a
 * slow tool elsewhere, and processes whose backend reports invalidations
 * (RESP3 tracking) drop their L1 copies before their next call.
 *
 * A tool is identified by its resource and name: creating the same tool
 * again (e.g. once per request) shares the first one's cache instead of
 * adding another, so the registry holds one entry per distinct tool. A
 * second tool of the same resource and name with other options or other
 * code is an `InvalidOptionError` asking for a distinct `name`.
 *
 * @module
 */
import { registerFacade } from "../cache/_probe.ts";
import {
  AsyncCache,
  type CacheEventName,
  cacheInternals,
  type CacheListener,
  type CacheMetrics,
} from "../cache/async_cache.ts";
import type { CacheServingOptions } from "../cache/_serve.ts";
import type { EvictionPolicy } from "../cache/cache_options.ts";
import { Counters } from "../cache/_metrics.ts";
import { type Fn, memoizer, type Site } from "../cache/_memoize.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";
import { resolveCacheOptions } from "../cache/_options.ts";
import { nextStamp, tagKey } from "../remote/_generations.ts";
import { type Duration, parseDuration } from "../time.ts";
import { canonicalKey } from "../cache/keys.ts";
import { AGENT_NAMESPACE } from "../cache/_namespaces.ts";
import type { Clock } from "../time.ts";
import { AgentContextError, InvalidOptionError } from "../errors.ts";
import { type Logger, resolveLogger } from "../logger.ts";
import type { RemoteCacheBackend } from "../remote/remote_backend.ts";
import { type AgentContext, getAgentContext } from "./context.ts";
import { AgentRemote } from "./_remote.ts";

/**
 * Who shares a cached result: `"global"` (everyone), `"session"` or `"user"`
 * (the id from the current {@linkcode AgentContext}), or a function returning
 * the scope value (given the context and the call's arguments).
 */
export type AgentScope =
  | "global"
  | "session"
  | "user"
  | ((context: Readonly<AgentContext> | undefined, args: readonly unknown[]) => string | number);

/** A resource a mutating tool invalidates: all of it, or one scope of it. */
export type Invalidation = string | { resource: string; scope?: AgentScope };

/**
 * Options for {@linkcode AgentCache}. Give `resource` (a cached read tool) or
 * `invalidates` (a mutating tool). A cached tool also takes the serving
 * options of `AsyncCache` (`staleWhileRevalidate`, `grace`, `softTimeout`,
 * `hardTimeout`, `refreshAhead`, `lease`); they apply to its L1 entries
 * (`localTtl` long) and its loads.
 */
export interface AgentCacheOptions extends CacheServingOptions {
  /** What the tool reads, e.g. `"cart"`; `invalidateResource("cart")` drops its entries. */
  resource?: string;
  /** Who shares an entry. Default `"global"`. */
  scope?: AgentScope;
  /** How long a result is cached: ms, or `"5m"`-style. Required with `resource`. */
  ttl?: Duration;
  /**
   * How long this process keeps an L1 copy of an entry it shares through
   * `remoteCache` (at most `ttl`). With a backend that reports invalidations
   * (RedisBackend on RESP3) another process's invalidation drops the copy at
   * once, so this needs no setting; without (RESP2, no `+client|tracking`),
   * it bounds how long such an invalidation can go unseen here. Default:
   * `ttl`. Only with `remoteCache`.
   */
  localTtl?: Duration;
  /** A shared tier that can delete by prefix (a `RedisBackend`). Default: none (this process only). */
  remoteCache?: RemoteCacheBackend;
  /** Most results kept in L1 for this tool. Default 1024. */
  maxsize?: number;
  /** Which results L1 keeps when full: `"lru"` (default) or `"tinylfu"` (see `AsyncCacheOptions.policy`). */
  policy?: EvictionPolicy;
  /** A budget for this tool's L1 in bytes, beside `maxsize`. Default: none. */
  maxBytes?: number;
  /** The size in bytes of a result, for `maxBytes`. Default: its encoded length. */
  sizeOf?(value: unknown, key: string): number;
  /** The tool's name in its keys. Default: the function's (or method's) name. */
  name?: string;
  /** Resources (or resource scopes) to invalidate after the wrapped tool succeeds. */
  invalidates?: readonly Invalidation[];
  /** Where background failures (and failed invalidations) are reported. Default `console`. */
  logger?: Logger;
  /** Time source for TTLs (for tests). */
  clock?: Clock;
}

/** Options for {@linkcode invalidateResource}. */
export interface InvalidateOptions {
  /** Only this scope (resolved in the current context, like a tool's). Default: every scope. */
  scope?: AgentScope;
  /** Also delete in this backend (besides those of this resource's tools in this process). */
  remoteCache?: RemoteCacheBackend;
}

/** Counters of one resource, summed over its tools in this process. */
export interface ResourceMetrics {
  /** Calls answered from L1 or L2. */
  hits: number;
  /** Calls that ran the tool. */
  misses: number;
  /** `hits / (hits + misses)`, 0 before any call. */
  hitRate: number;
  /** Entries in L1 now. */
  size: number;
  /** Invalidations run (by mutating tools or `invalidateResource`). */
  invalidations: number;
  /** Tools registered for this resource. */
  tools: number;
}

/** A wrapped tool: the original's signature (always async), plus cache controls. */
export interface AgentTool<A extends unknown[], R> {
  /** Calls the tool through the cache (or, for a mutating tool, then invalidates). */
  (...args: A): Promise<R>;
  /** The tool's name in its keys. */
  readonly toolName: string;
  /** This tool's cache metrics (all zero for a mutating tool). */
  getMetrics(): CacheMetrics;
  /** Waits for this tool's background L2 writes. */
  flush(): Promise<void>;
  /** Releases the tool; the last copy of a tool closes its cache (never the shared `remoteCache`). */
  close(): Promise<void>;
  /** Listens to the tool's cache events (see `AsyncCache.on`); a mutating tool has none. */
  on<N extends CacheEventName>(name: N, listener: CacheListener<N>): () => void;
}

/** What `AgentCache(options)` returns: a wrapper that is also a method decorator. */
export interface AgentToolWrapper {
  /** Wraps a function. */
  <A extends unknown[], R>(fn: (...args: A) => R): AgentTool<A, Awaited<R>>;
  /** Decorates a class method (the cache is shared by all instances). */
  <This, A extends unknown[], R>(
    method: (this: This, ...args: A) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
  ): (this: This, ...args: A) => Promise<R>;
}

const WHAT = "AgentCache";
const AGENT_NAMES = optionNames<AgentCacheOptions>({
  resource: true,
  scope: true,
  ttl: true,
  localTtl: true,
  remoteCache: true,
  maxsize: true,
  policy: true,
  maxBytes: true,
  sizeOf: true,
  name: true,
  invalidates: true,
  logger: true,
  clock: true,
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
  hardTimeout: true,
  refreshAhead: true,
  lease: true,
});
const INVALIDATE_NAMES = optionNames<InvalidateOptions>({ scope: true, remoteCache: true });
/** The L2 namespace of every agent tool cache (reserved: see `_namespaces.ts`). */
const NAMESPACE = AGENT_NAMESPACE;

/** One distinct tool of a resource: its cache, shared by every copy of the tool. */
interface ToolRecord {
  cache: AsyncCache<unknown>;
  remote: RemoteCacheBackend | undefined;
  /** What two copies of one tool must agree on: options and code. */
  fingerprint: string;
  /** Live copies (wrappers not yet closed). */
  copies: number;
}

interface ResourceRecord {
  tools: Map<string, ToolRecord>;
  invalidations: number;
}

const registry = new Map<string, ResourceRecord>();

function record(resource: string): ResourceRecord {
  let rec = registry.get(resource);
  if (rec === undefined) {
    rec = { tools: new Map(), invalidations: 0 };
    registry.set(resource, rec);
  }
  return rec;
}

const quote = JSON.stringify;

function scopeToken(
  scope: AgentScope,
  args: readonly unknown[],
  where: string,
): string {
  if (scope === "global") return "g";
  const context = getAgentContext();
  if (scope === "session" || scope === "user") {
    const id = scope === "session" ? context?.sessionId : context?.userId;
    if (id === undefined) {
      const field = scope === "session" ? "sessionId" : "userId";
      throw new AgentContextError(
        `${where} has scope "${scope}" but no ${field} is set: call it inside withAgentContext({ ${field} }, fn)`,
      );
    }
    return (scope === "session" ? "s" : "u") + quote(id);
  }
  const value = scope(context, args);
  if (!((typeof value === "string" && value !== "") || typeof value === "number")) {
    throw new AgentContextError(
      `${where}: the scope function returned ${
        value === "" ? "an empty string" : typeof value
      }, not a non-empty string or a number`,
    );
  }
  return "f" + quote(String(value));
}

function checkScope(what: string, scope: unknown): AgentScope {
  if (
    scope === "global" || scope === "session" || scope === "user" || typeof scope === "function"
  ) return scope as AgentScope;
  throw new InvalidOptionError(
    what,
    "scope",
    '"global", "session", "user" or a function',
    scope,
  );
}

function checkResource(what: string, resource: unknown, option = "resource"): string {
  if (typeof resource !== "string" || resource === "") {
    throw new InvalidOptionError(what, option, "a non-empty string", resource);
  }
  return resource;
}

function checkRemote(what: string, remote: unknown): RemoteCacheBackend | undefined {
  if (remote === undefined) return undefined;
  const r = remote as Partial<RemoteCacheBackend>;
  if (typeof r?.getManyWithTtl !== "function" || typeof r.deleteByPrefix !== "function") {
    throw new InvalidOptionError(
      what,
      "remoteCache",
      "a RemoteCacheBackend with deleteByPrefix() (e.g. a RedisBackend)",
      remote,
    );
  }
  return remote as RemoteCacheBackend;
}

function prefixFor(
  resource: string,
  scope: AgentScope | undefined,
  args: readonly unknown[],
  where: string,
): string {
  const base = quote(resource) + ":";
  return scope === undefined ? base : base + scopeToken(scope, args, where) + ":";
}

async function dropPrefix(
  resource: string,
  prefix: string,
  extra: RemoteCacheBackend | undefined,
): Promise<void> {
  const rec = record(resource);
  rec.invalidations++;
  const backends = new Set<RemoteCacheBackend>();
  for (const tool of rec.tools.values()) {
    cacheInternals(tool.cache).dropByPrefix(prefix);
    if (tool.remote !== undefined) backends.add(tool.remote);
  }
  if (extra !== undefined) backends.add(extra);
  const generation = tagKey(`${NAMESPACE}:${prefix}`);
  const stamp = nextStamp();
  await Promise.all([...backends].map((b) => b.bumpGenerations([generation], stamp)));
}

/**
 * Drops a resource's cached tool results: in L1 of every tool of that
 * resource in this process, and everywhere else by bumping the resource's
 * tag generation (O(1)) in every `remoteCache` those tools use, plus
 * `options.remoteCache`.
 *
 * @param resource The resource, e.g. `"cart"`.
 * @param options `scope` to drop one scope only (resolved in the current context), `remoteCache`.
 * @throws {AgentContextError} When `scope` is `"session"`/`"user"` and the context lacks the id.
 * @throws {InvalidOptionError} When `resource` is empty or an option is invalid.
 *
 * @example Dropping one user's entries
 * ```ts
 * import { AgentCache, invalidateResource, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * let loads = 0;
 * const getCart = AgentCache({ resource: "cart", scope: "user", ttl: "10m" })(
 *   async function getCart() { loads++; return ["apple"]; },
 * );
 * await withAgentContext({ userId: "ada" }, async () => {
 *   await getCart();
 *   await invalidateResource("cart", { scope: "user" });
 *   await getCart();
 * });
 * assertEquals(loads, 2);
 * ```
 */
export async function invalidateResource(
  resource: string,
  options: InvalidateOptions = {},
): Promise<void> {
  const what = "invalidateResource";
  checkResource(what, resource);
  if (options !== null && typeof options === "object") {
    checkOptionNames(what, options, INVALIDATE_NAMES);
  }
  const scope = options.scope === undefined ? undefined : checkScope(what, options.scope);
  const extra = checkRemote(what, options.remoteCache);
  const prefix = prefixFor(resource, scope, [], `invalidateResource("${resource}")`);
  await dropPrefix(resource, prefix, extra);
}

/**
 * Per-resource counters (hits, misses, hit rate) of the tools in this process.
 *
 * @param resource The resource.
 * @returns Its counters; all zero for a resource no tool uses.
 *
 * @example
 * ```ts
 * import { AgentCache, getResourceMetrics } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * const weather = AgentCache({ resource: "weather", ttl: "10m" })(
 *   async function getWeather(city: string) { return `sunny in ${city}`; },
 * );
 * await weather("Paris");
 * await weather("Paris");
 * const m = getResourceMetrics("weather");
 * assertEquals(m.hits, 1);
 * assertEquals(m.hitRate, 0.5);
 * ```
 */
export function getResourceMetrics(resource: string): ResourceMetrics {
  const rec = registry.get(resource);
  let hits = 0;
  let misses = 0;
  let size = 0;
  for (const tool of rec?.tools.values() ?? []) {
    const m = tool.cache.getMetrics();
    hits += m.hits;
    misses += m.misses;
    size += m.size;
  }
  const total = hits + misses;
  return {
    hits,
    misses,
    hitRate: total === 0 ? 0 : hits / total,
    size,
    invalidations: rec?.invalidations ?? 0,
    tools: rec?.tools.size ?? 0,
  };
}

/**
 * Counters of every resource known in this process, for a dashboard or a log line.
 *
 * @returns A record from resource to {@linkcode ResourceMetrics}.
 *
 * @example
 * ```ts
 * import { AgentCache, listResourceMetrics } from "@async-cache/cache/agent";
 * import { assert } from "@std/assert";
 *
 * AgentCache({ resource: "docs", ttl: "1h" })(async function searchDocs(q: string) { return [q]; });
 * assert("docs" in listResourceMetrics());
 * ```
 */
export function listResourceMetrics(): Record<string, ResourceMetrics> {
  const out: Record<string, ResourceMetrics> = {};
  for (const resource of registry.keys()) out[resource] = getResourceMetrics(resource);
  return out;
}

/**
 * Wraps an agent tool: a read-only one is cached per `resource` and `scope`;
 * a mutating one (`invalidates`) runs, then drops the resources it changed
 * (only when it succeeds). Works as a wrapper and as a method decorator.
 *
 * @param options See {@linkcode AgentCacheOptions}.
 * @returns A wrapper / decorator.
 * @throws {InvalidOptionError} When an option is invalid, when both or neither of
 * `resource` and `invalidates` are given, or when a read tool has no `ttl`.
 *
 * @example Session scope, and a mutating tool
 * ```ts
 * import { AgentCache, withAgentContext } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * const carts = new Map<string, string[]>();
 * let reads = 0;
 * const getCart = AgentCache({ resource: "cart", scope: "session", ttl: "5m" })(
 *   async function getCart() {
 *     reads++;
 *     return [...(carts.get("s1") ?? [])];
 *   },
 * );
 * const addToCart = AgentCache({ invalidates: [{ resource: "cart", scope: "session" }] })(
 *   async function addToCart(item: string) {
 *     carts.set("s1", [...(carts.get("s1") ?? []), item]);
 *   },
 * );
 * await withAgentContext({ sessionId: "s1" }, async () => {
 *   assertEquals(await getCart(), []);
 *   assertEquals(await getCart(), []); // cached
 *   await addToCart("apple");
 *   assertEquals(await getCart(), ["apple"]); // invalidated, read again
 * });
 * assertEquals(reads, 2);
 * ```
 *
 * @example As a method decorator
 * ```ts
 * import { AgentCache } from "@async-cache/cache/agent";
 * import { assertEquals } from "@std/assert";
 *
 * class Tools {
 *   calls = 0;
 *   @AgentCache({ resource: "fx", ttl: "1m" })
 *   async rate(from: string, to: string) {
 *     this.calls++;
 *     return from === to ? 1 : 1.1;
 *   }
 * }
 * const tools = new Tools();
 * await tools.rate("EUR", "USD");
 * await tools.rate("EUR", "USD");
 * assertEquals(tools.calls, 1);
 * ```
 */
export function AgentCache(options: AgentCacheOptions): AgentToolWrapper {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(WHAT, "options", "an object", options);
  }
  checkOptionNames(WHAT, options, AGENT_NAMES);
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new InvalidOptionError(WHAT, "name", "a non-empty string", options.name);
  }
  const remote = checkRemote(WHAT, options.remoteCache);
  const logger = resolveLogger(WHAT, options.logger);
  if ((options.resource === undefined) === (options.invalidates === undefined)) {
    throw new InvalidOptionError(
      WHAT,
      "resource",
      "given for a cached (read-only) tool, or else invalidates for a mutating tool (exactly one of them)",
      options.resource,
    );
  }
  return options.invalidates !== undefined
    ? mutatingTool(options, remote, logger)
    : cachedTool(options, remote);
}

function toolName(options: AgentCacheOptions, name: string): string {
  const tool = options.name ?? name;
  if (tool === "") {
    throw new InvalidOptionError(
      WHAT,
      "name",
      "given for an anonymous function (the tool's name is part of its keys)",
      undefined,
    );
  }
  return tool;
}

function cachedTool(
  options: AgentCacheOptions,
  remote: RemoteCacheBackend | undefined,
): AgentToolWrapper {
  const resource = checkResource(WHAT, options.resource);
  const scope = checkScope(WHAT, options.scope ?? "global");
  if (options.ttl === undefined) {
    throw new InvalidOptionError(
      WHAT,
      "ttl",
      'a duration such as "5m" for a cached tool',
      undefined,
    );
  }
  const ttl = parseDuration(options.ttl, WHAT, "ttl");
  let localTtl = ttl;
  if (options.localTtl !== undefined) {
    if (remote === undefined) {
      throw new InvalidOptionError(
        WHAT,
        "localTtl",
        "given only with a remoteCache",
        options.localTtl,
      );
    }
    localTtl = Math.min(ttl, parseDuration(options.localTtl, WHAT, "localTtl"));
  }
  const maxsize = options.maxsize ?? 1024;
  const serving: CacheServingOptions = {
    staleWhileRevalidate: options.staleWhileRevalidate,
    grace: options.grace,
    softTimeout: options.softTimeout,
    hardTimeout: options.hardTimeout,
    refreshAhead: options.refreshAhead,
    lease: options.lease,
  };
  const store = { policy: options.policy, maxBytes: options.maxBytes, sizeOf: options.sizeOf };
  resolveCacheOptions(WHAT, {
    maxsize,
    ...store,
    logger: options.logger,
    clock: options.clock,
    remoteCache: remote,
    ...serving,
  });
  const base = quote(resource) + ":";
  const scopeKind = typeof scope === "function" ? `fn:${scope}` : scope;

  const make = (fn: Fn, site: Site) => {
    const tool = toolName(options, site.name);
    const where = `AgentCache tool "${tool}" (resource "${resource}")`;
    const rec = record(resource);
    const fingerprint = JSON.stringify([
      scopeKind,
      ttl,
      localTtl,
      maxsize,
      store.policy,
      store.maxBytes,
      String(store.sizeOf),
      serving,
      String(fn),
    ]);
    let shared = rec.tools.get(tool);
    if (shared !== undefined && (shared.fingerprint !== fingerprint || shared.remote !== remote)) {
      throw new InvalidOptionError(
        WHAT,
        "name",
        `unique per resource: resource "${resource}" already has a tool "${tool}" with other options or code; give this one a distinct name`,
        tool,
      );
    }
    if (shared === undefined) {
      shared = {
        cache: new AsyncCache<unknown>({
          maxsize,
          ...store,
          defaultTtl: localTtl,
          remoteCache: remote && new AgentRemote(remote, ttl, NAMESPACE),
          namespace: NAMESPACE,
          logger: options.logger,
          clock: options.clock,
          ...serving,
        }),
        remote,
        fingerprint,
        copies: 0,
      };
      rec.tools.set(tool, shared);
    }
    shared.copies++;
    const { cache } = shared;
    const toolPart = ":" + quote(tool) + ":";
    const resourceTag = `${NAMESPACE}:${base}`;
    const wrapped = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      let key: string;
      let scopeTag: string;
      try {
        const token = scopeToken(scope, args, where);
        scopeTag = `${NAMESPACE}:${base}${token}:`;
        key = base + token + toolPart + canonicalKey(args);
      } catch (error) {
        return Promise.reject(error);
      }
      return cache.get(key, { loader: () => fn.apply(this, args), tags: [resourceTag, scopeTag] });
    };
    let closed = false;
    const record_ = shared;
    registerFacade(wrapped, cache);
    Object.defineProperties(wrapped, {
      name: { value: tool },
      toolName: { value: tool },
      getMetrics: { value: () => cache.getMetrics() },
      on: {
        value: <N extends CacheEventName>(name: N, listener: CacheListener<N>) =>
          cache.on(name, listener),
      },
      flush: { value: () => cache.flush() },
      close: {
        value: async () => {
          if (closed) return;
          closed = true;
          if (--record_.copies > 0) return;
          if (rec.tools.get(tool) === record_) rec.tools.delete(tool);
          await cache.close();
        },
      },
    });
    return { fn: wrapped };
  };
  return memoizer(WHAT, make) as AgentToolWrapper;
}

function mutatingTool(
  options: AgentCacheOptions,
  remote: RemoteCacheBackend | undefined,
  logger: Logger,
): AgentToolWrapper {
  const cachedOnly = [
    "ttl",
    "localTtl",
    "scope",
    "maxsize",
    "staleWhileRevalidate",
    "grace",
    "softTimeout",
    "hardTimeout",
    "refreshAhead",
    "lease",
  ] as const;
  for (const option of cachedOnly) {
    if (options[option] !== undefined) {
      throw new InvalidOptionError(
        WHAT,
        option,
        "left out for a mutating tool (one with invalidates): it is never cached",
        options[option],
      );
    }
  }
  const list = options.invalidates;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionError(WHAT, "invalidates", "a non-empty array of resources", list);
  }
  const targets = list.map((item: Invalidation) => {
    if (typeof item === "string") return { resource: checkResource(WHAT, item, "invalidates") };
    const resource = checkResource(WHAT, item?.resource, "invalidates[].resource");
    const scope = item.scope === undefined ? undefined : checkScope(WHAT, item.scope);
    return { resource, scope };
  });

  const make = (fn: Fn, site: Site) => {
    const tool = toolName(options, site.name);
    const where = `AgentCache mutating tool "${tool}"`;
    const wrapped = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
      // Resolved first: a missing context fails before the mutation, not after it.
      const prefixes = targets.map((t) => prefixFor(t.resource, t.scope, args, where));
      const result = await fn.apply(this, args);
      const outcomes = await Promise.allSettled(
        targets.map((t, i) => dropPrefix(t.resource, prefixes[i], remote)),
      );
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i];
        // The mutation happened: report a failed L2 invalidation, do not turn it into a failure.
        if (outcome.status === "rejected") {
          logger.error(
            `async-cache: ${where} succeeded but invalidating "${
              targets[i].resource
            }" in the remote cache failed; other processes may serve stale entries until their TTL:`,
            outcome.reason,
          );
        }
      }
      return result;
    };
    Object.defineProperties(wrapped, {
      name: { value: tool },
      toolName: { value: tool },
      getMetrics: { value: () => NO_METRICS() },
      on: { value: () => () => {} },
      flush: { value: () => Promise.resolve() },
      close: { value: () => Promise.resolve() },
    });
    return { fn: wrapped };
  };
  return memoizer(WHAT, make) as AgentToolWrapper;
}

/** The metrics of a tool that caches nothing: all zero. */
function NO_METRICS(): CacheMetrics {
  return new Counters().snapshot(
    { size: 0, bytes: 0, evictions: 0, expirations: 0 },
    undefined,
    "none",
    "none",
  );
}
