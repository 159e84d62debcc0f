/**
 * The L2 view an agent tool's cache uses: the user's backend, with the full
 * `ttl` on writes while the cache itself keeps L1 copies only `localTtl`
 * long. That bounds how long another process serves an entry from its L1
 * after this one invalidated it in L2. `close()` is a no-op: the backend is
 * shared by every tool and belongs to the application.
 *
 * @module
 */
import { allowReservedNamespace } from "../cache/_namespaces.ts";
import type { Logger } from "../logger.ts";
import {
  type CoherenceMode,
  type InvalidationListener,
  RemoteCacheBackend,
  type RemoteEntry,
  type RemoteSetOptions,
} from "../remote/remote_backend.ts";
import { namespacePrefix } from "../remote/_generations.ts";

/** See the module doc. */
export class AgentRemote extends RemoteCacheBackend {
  readonly #backend: RemoteCacheBackend;
  readonly #ttlMs: number;
  readonly #namespace: string;

  constructor(backend: RemoteCacheBackend, ttlMs: number, namespace: string) {
    super();
    this.#backend = backend;
    this.#ttlMs = ttlMs;
    this.#namespace = namespace;
    allowReservedNamespace(this);
  }

  get(key: string): Promise<unknown> {
    return this.#backend.get(key);
  }
  set(key: string, value: unknown, _ttlMs?: number, options?: RemoteSetOptions): Promise<void> {
    return this.#backend.set(key, value, this.#ttlMs, options);
  }
  delete(key: string): Promise<void> {
    return this.#backend.delete(key);
  }
  async clear(): Promise<void> {
    await this.#backend.deleteByPrefix(namespacePrefix(this.#namespace));
  }
  override deleteByPrefix(prefix: string, doomed?: (value: unknown) => boolean): Promise<number> {
    return this.#backend.deleteByPrefix(prefix, doomed);
  }
  override repair(key: string): Promise<void> {
    return this.#backend.repair(key);
  }
  override checkValue(value: unknown): void {
    this.#backend.checkValue(value);
  }
  override adoptLogger(logger: Logger): void {
    this.#backend.adoptLogger(logger);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  override acquireLease(key: string, ttlMs: number): Promise<boolean> {
    return this.#backend.acquireLease(key, ttlMs);
  }
  override releaseLease(key: string): Promise<void> {
    return this.#backend.releaseLease(key);
  }
  override onInvalidate(listener: InvalidationListener): () => void {
    return this.#backend.onInvalidate(listener);
  }
  override onReady(listener: () => void): () => void {
    return this.#backend.onReady(listener);
  }
  override get coherence(): CoherenceMode {
    return this.#backend.coherence;
  }
  override getGenerations(keys: readonly string[]): Promise<(number | undefined)[]> {
    return this.#backend.getGenerations(keys);
  }
  override bumpGenerations(keys: readonly string[], stamp: number): Promise<void> {
    return this.#backend.bumpGenerations(keys, stamp);
  }
  override initGenerations(keys: readonly string[], stamp: number): Promise<void> {
    return this.#backend.initGenerations(keys, stamp);
  }
  override getMany(keys: readonly string[]): Promise<unknown[]> {
    return this.#backend.getMany(keys);
  }
  override getManyWithTtl(
    keys: readonly string[],
    logger?: Logger,
  ): Promise<(RemoteEntry | undefined)[]> {
    return this.#backend.getManyWithTtl(keys, logger);
  }
}
