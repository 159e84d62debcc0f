/**
 * The metrics of one instrumented target (see `_names.ts` for the list):
 * asynchronous instruments read the cache's counters in one batch callback
 * at collection time (so an L1 hit costs nothing more), and three
 * synchronous ones record from events: load durations (the `"load"` event),
 * breaker transitions (`"breaker"`) and L2 command durations (the Redis
 * client's command observers).
 *
 * @module
 */
import type { Attributes, BatchResultLike, MeterLike, ObservableLike } from "./_api.ts";
import { DURATION_BUCKETS, METRICS, type MetricSpec } from "./_names.ts";
import { Monotonic, readFigures } from "./_figures.ts";
import type { Target } from "./_target.ts";
import { commandName, l2Observers } from "./_l2_client.ts";

const P = "async_cache";

function options(spec: MetricSpec) {
  return {
    description: spec.description,
    unit: spec.unit,
    ...(spec.kind === "histogram"
      ? { advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } }
      : {}),
  };
}

/**
 * Creates the instruments on `meter` and starts reporting `target`'s figures
 * with `cache.name` `name`.
 *
 * @returns What stops the reporting.
 */
export function meterTarget(meter: MeterLike, target: Target, name: string): () => void {
  const base: Attributes = { "cache.name": name };
  const attrs = (extra: Attributes): Attributes => ({ ...base, ...extra });
  // Every observable made here is read by the one batch callback below.
  const observables: ObservableLike[] = [];
  const observed = (o: ObservableLike): ObservableLike => {
    observables.push(o);
    return o;
  };
  const counter = (spec: MetricSpec) =>
    observed(meter.createObservableCounter(spec.name, options(spec)));
  const gauge = (spec: MetricSpec) =>
    observed(meter.createObservableGauge(spec.name, options(spec)));
  const requests = counter(METRICS.requests);
  const loads = counter(METRICS.loads);
  const loadErrors = counter(METRICS.loadErrors);
  const coalesced = counter(METRICS.coalesced);
  const refreshes = counter(METRICS.refreshes);
  const evictions = counter(METRICS.evictions);
  const invalidations = counter(METRICS.invalidations);
  const l2Errors = counter(METRICS.l2Errors);
  const leaseWaits = counter(METRICS.leaseWaits);
  const leaseTakeovers = counter(METRICS.leaseTakeovers);
  const entries = gauge(METRICS.entries);
  const bytes = gauge(METRICS.bytes);
  const breakerState = gauge(METRICS.breakerState);
  const totals = new Monotonic();
  const callback = (result: BatchResultLike) => {
    const f = readFigures(target);
    if (f === undefined) return;
    const s = f.series;
    const count = (o: ObservableLike, id: string, value: number, extra: Attributes = {}) =>
      result.observe(o, totals.total(id, value), attrs(extra));
    for (const [tier, res, n] of s.requests) {
      count(requests, `r:${tier}:${res}`, n, { [`${P}.tier`]: tier, [`${P}.result`]: res });
    }
    count(loads, "loads", s.loads);
    count(loadErrors, "loadErrors", s.loadErrors);
    count(coalesced, "coalesced", s.coalesced);
    count(refreshes, "refreshes", s.refreshes);
    for (const [reason, n] of s.evictions) {
      count(evictions, `e:${reason}`, n, { [`${P}.reason`]: reason });
    }
    for (const [kind, n] of s.invalidations) {
      count(invalidations, `i:${kind}`, n, { [`${P}.kind`]: kind });
    }
    for (const [kind, n] of s.l2Errors) count(l2Errors, `x:${kind}`, n, { "error.type": kind });
    count(leaseWaits, "leaseWaits", s.leaseWaits);
    count(leaseTakeovers, "leaseTakeovers", s.leaseTakeovers);
    result.observe(entries, f.entries, base);
    result.observe(bytes, f.bytes, base);
    if (f.breaker !== undefined) {
      for (const state of ["closed", "open", "half-open"] as const) {
        result.observe(
          breakerState,
          f.breaker === state ? 1 : 0,
          attrs({ [`${P}.state`]: state.replace("-", "_") }),
        );
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);

  const loadDuration = meter.createHistogram(
    METRICS.loadDuration.name,
    options(METRICS.loadDuration),
  );
  const transitions = meter.createCounter(
    METRICS.breakerTransitions.name,
    options(METRICS.breakerTransitions),
  );
  const okAttrs = attrs({ [`${P}.outcome`]: "ok" });
  const errorAttrs = attrs({ [`${P}.outcome`]: "error" });
  const offs = [
    target.on("load", (e) => loadDuration.record(e.durationMs / 1000, e.ok ? okAttrs : errorAttrs)),
    target.on(
      "breaker",
      (e) => transitions.add(1, attrs({ [`${P}.state`]: e.state.replace("-", "_") })),
    ),
  ];
  const commands = l2Observers(target.internals);
  if (commands !== undefined) {
    const duration = meter.createHistogram(
      METRICS.commandDuration.name,
      options(METRICS.commandDuration),
    );
    const byCommand = new Map<string, Attributes>();
    offs.push(commands.add({
      start(args) {
        const started = performance.now();
        const op = commandName(args[0]);
        return (error) => {
          const seconds = (performance.now() - started) / 1000;
          if (error === undefined) {
            let a = byCommand.get(op);
            if (a === undefined) {
              a = attrs({ "db.system.name": "redis", "db.operation.name": op });
              if (byCommand.size < 256) byCommand.set(op, a);
            }
            duration.record(seconds, a);
          } else {
            duration.record(
              seconds,
              attrs({
                "db.system.name": "redis",
                "db.operation.name": op,
                "error.type": error.name,
              }),
            );
          }
        };
      },
    }));
  }
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    for (const off of offs) off();
  };
}
