/**
 * Every metric the instrumentation reports: name, instrument, UCUM unit and
 * meaning, in one table (read by `instrument`, by `prometheusText` and by
 * the tests that keep docs/OBSERVABILITY.md true). All names start with
 * {@linkcode METRIC_PREFIX}.
 *
 * @module
 */

/** The prefix of every metric name (and of the attributes this package defines). */
export const METRIC_PREFIX = "async_cache";

/** The instrumentation scope reported to the meter and tracer providers. */
export const SCOPE_NAME = "@async-cache/cache";

/** An instrument's kind. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** One metric. */
export interface MetricSpec {
  /** The OpenTelemetry name (dotted, lowercase). */
  name: string;
  /** The instrument (counters and gauges are observed at collection; histograms recorded). */
  kind: MetricKind;
  /** UCUM unit. */
  unit: string;
  /** What it counts, with its attributes. */
  description: string;
}

/** Histogram bucket boundaries, in seconds (0.1 ms to 10 s). */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const m = (name: string, kind: MetricKind, unit: string, description: string): MetricSpec => ({
  name: `${METRIC_PREFIX}.${name}`,
  kind,
  unit,
  description,
});

/** The short keys of {@linkcode METRICS}. */
export type MetricKey =
  | "requests"
  | "loads"
  | "loadErrors"
  | "loadDuration"
  | "coalesced"
  | "refreshes"
  | "evictions"
  | "entries"
  | "bytes"
  | "commandDuration"
  | "l2Errors"
  | "invalidations"
  | "breakerState"
  | "breakerTransitions"
  | "leaseWaits"
  | "leaseTakeovers";

/** The metrics, by short key. */
export const METRICS: { readonly [K in MetricKey]: MetricSpec } = {
  requests: m(
    "requests",
    "counter",
    "{request}",
    "Reads, by the tier that was asked (async_cache.tier: l1, l2) and what it had (async_cache.result: hit, miss; stale: answered with an entry past its TTL, also counted as a miss of that tier)",
  ),
  loads: m("loads", "counter", "{load}", "Loader runs (a batch counts each key it loads)"),
  loadErrors: m("load.errors", "counter", "{error}", "Loader runs that threw or rejected"),
  loadDuration: m(
    "load.duration",
    "histogram",
    "s",
    "How long loader runs took (async_cache.outcome: ok, error)",
  ),
  coalesced: m(
    "coalesced",
    "counter",
    "{request}",
    "Reads that joined a load already in flight for the same key",
  ),
  refreshes: m(
    "refreshes",
    "counter",
    "{refresh}",
    "Background loads started to refresh an entry (stale-while-revalidate, refreshAhead)",
  ),
  evictions: m(
    "l1.evictions",
    "counter",
    "{entry}",
    "L1 entries dropped (async_cache.reason: size, bytes, expired, rejected at admission)",
  ),
  entries: m("l1.entry.count", "gauge", "{entry}", "Live entries in L1"),
  bytes: m(
    "l1.size",
    "gauge",
    "By",
    "The sum of L1's entry sizes (counted with maxBytes; else 0)",
  ),
  commandDuration: m(
    "l2.command.duration",
    "histogram",
    "s",
    "L2 round trips, by command (db.operation.name), with error.type on failure",
  ),
  l2Errors: m(
    "l2.errors",
    "counter",
    "{error}",
    "Failed L2 operations (error.type: timeout, connection, reply, protocol, auth, codec, other)",
  ),
  invalidations: m(
    "invalidations",
    "counter",
    "{invalidation}",
    "Invalidations received from L2 (async_cache.kind: key, tag, namespace, flush)",
  ),
  breakerState: m(
    "l2.breaker.state",
    "gauge",
    "{state}",
    "1 for the L2 circuit breaker's current state (async_cache.state: closed, open, half_open), 0 for the others",
  ),
  breakerTransitions: m(
    "l2.breaker.transitions",
    "counter",
    "{transition}",
    "L2 circuit breaker state changes (async_cache.state: the new state)",
  ),
  leaseWaits: m(
    "lease.waits",
    "counter",
    "{wait}",
    "Misses that waited for another instance's lease instead of loading",
  ),
  leaseTakeovers: m(
    "lease.takeovers",
    "counter",
    "{lease}",
    "Leases taken over after the holder never wrote the value",
  ),
};

/** The span names. */
export const SPANS: { readonly load: string; readonly loader: string } = {
  /** A read that missed L1: its L2 lookup and its load (one per flight; joiners are counted on it). */
  load: `${METRIC_PREFIX}.load`,
  /** The loader's call, inside `load` (the user's own spans nest under it). */
  loader: `${METRIC_PREFIX}.loader`,
};
