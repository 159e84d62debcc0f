/** An in-memory `RemoteCacheBackend` for tests of the cache's use of its L2 tier. */
import { RemoteCacheBackend } from "../mod.ts";

/** A backend over a Map, with optional delay on reads and counters of what it was asked. */
export class MapBackend extends RemoteCacheBackend {
  readonly data = new Map<string, unknown>();
  closes = 0;
  reads = 0;
  /** Set to delay every read by this many ms. */
  readDelayMs = 0;

  async get(key: string): Promise<unknown> {
    this.reads++;
    if (this.readDelayMs > 0) await new Promise((r) => setTimeout(r, this.readDelayMs));
    return this.data.get(key);
  }
  set(key: string, value: unknown): Promise<void> {
    if (typeof value === "function") throw new TypeError("MapBackend: cannot store a function");
    this.data.set(key, value);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.data.delete(key);
    return Promise.resolve();
  }
  clear(): Promise<void> {
    this.data.clear();
    return Promise.resolve();
  }
  override deleteByPrefix(prefix: string, doomed?: (value: unknown) => boolean): Promise<number> {
    let n = 0;
    for (const [key, value] of [...this.data]) {
      if (!key.startsWith(prefix) || (doomed !== undefined && !doomed(value))) continue;
      n += this.data.delete(key) ? 1 : 0;
    }
    return Promise.resolve(n);
  }
  close(): Promise<void> {
    this.closes++;
    return Promise.resolve();
  }
}
