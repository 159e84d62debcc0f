/**
 * Issue 10 item 4: a custom backend can be coherent too, by reporting
 * invalidations through `onInvalidate` (here a bus shared by two backends
 * over one store, as a pub/sub backend would be); the default stays TTL-only.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, type InvalidationListener } from "../mod.ts";
import { MapBackend } from "./_map_backend.ts";
import { entryKey } from "./_helpers.ts";

/** Two of these share `data` and a bus: a write through one is reported by the other. */
class BusBackend extends MapBackend {
  readonly #bus: Set<BusBackend>;
  readonly #listeners = new Set<InvalidationListener>();
  constructor(bus: Set<BusBackend>, data?: Map<string, unknown>) {
    super();
    this.#bus = bus;
    bus.add(this);
    if (data !== undefined) Object.defineProperty(this, "data", { value: data });
  }
  override set(key: string, value: unknown): Promise<void> {
    const done = super.set(key, value);
    for (const other of this.#bus) if (other !== this) other.#announce([key]);
    return done;
  }
  override onInvalidate(listener: InvalidationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  override get coherence(): "tracking" {
    return "tracking";
  }
  #announce(keys: string[]): void {
    for (const listener of this.#listeners) listener(keys);
  }
}

describe("a custom backend reporting invalidations", () => {
  test("a write through one instance drops the other's L1 copy", async () => {
    const bus = new Set<BusBackend>();
    const first = new BusBackend(bus);
    const second = new BusBackend(bus, first.data);
    const a = new AsyncCache<string>({ remoteCache: first });
    const b = new AsyncCache<string>({ remoteCache: second });
    await a.set("k", "v1");
    await a.flush();
    assert.equal(await b.get("k"), "v1");
    assert.equal(await b.get("k"), "v1");
    assert.equal(b.getMetrics().l1Hits, 1);
    await a.set("k", "v2");
    await a.flush();
    assert.equal(await b.get("k"), "v2");
    assert.equal(b.getMetrics().invalidations, 2); // both writes were announced
    assert.equal(b.getMetrics().coherence, "tracking");
    await a.close();
    await b.close();
  });

  test("the default backend is TTL-only", async () => {
    const shared = new MapBackend();
    const a = new AsyncCache<string>({ remoteCache: shared });
    const b = new AsyncCache<string>({ remoteCache: shared });
    await a.set("k", "v1");
    await a.flush();
    assert.equal(await b.get("k"), "v1");
    shared.data.set(entryKey("k"), "changed behind the caches' backs");
    assert.equal(await b.get("k"), "v1", "no invalidation: L1 keeps its copy until its TTL");
    assert.equal(b.getMetrics().coherence, "ttl");
    await a.close();
    await b.close();
  });
});
