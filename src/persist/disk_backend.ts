/**
 * `DiskBackend`: a snapshot of L1 on disk, for a warm cache after a restart.
 *
 * Saves are atomic (the `FileStore` writes a temp file in the same folder,
 * then renames it), so a crash or a kill during a save leaves the previous
 * snapshot intact; saves from one backend run one at a time, in call order.
 * A file that cannot be used (foreign, damaged, truncated, or written by a
 * newer format) is logged and ignored, and is left as it is until the next
 * successful save replaces it.
 *
 * @module
 */
import { BackupError, InvalidOptionError } from "../errors.ts";
import { checkLogger, type Logger } from "../logger.ts";
import { defaultFileStore } from "../../runtimes/files.ts";
import { type FileStore, untrustedReason } from "../file_store.ts";
import { checkOptionNames, optionNames } from "../_option_names.ts";
import { decodeSnapshot, encodeSnapshot } from "./_snapshot.ts";

/** Options for {@linkcode DiskBackend}. */
export interface DiskBackendOptions {
  /** File access; default: the running runtime's (Deno, Bun or Node file APIs). Tests inject a fake. */
  fileStore?: FileStore;
  /** Where unusable snapshots and skipped entries are reported. Default: the logger of the cache it serves. */
  logger?: Logger;
}

const DISK_NAMES = optionNames<DiskBackendOptions>({ fileStore: true, logger: true });

/** An entry read back from a snapshot, with its TTL left at load time. */
export interface BackupEntry {
  /** The cache key. */
  key: string;
  /** The value. */
  value: unknown;
  /** Milliseconds left to live (`Infinity` when the entry has no TTL). */
  ttlMs: number;
}

/** What a save wrote. */
export interface SaveResult {
  /** Entries written. */
  entries: number;
  /** Size of the snapshot file in bytes. */
  bytes: number;
  /** Keys left out because their value cannot be encoded (e.g. a function). */
  skipped: string[];
}

const WHAT = "DiskBackend";

/**
 * A disk snapshot of a cache's L1, loaded when the cache is created and
 * written by `cache.saveToBackup()`.
 *
 * @example Warm start from a snapshot
 * ```ts
 * import { AsyncCache, DiskBackend, type FileStore } from "@async-cache/cache";
 * import { assertEquals } from "@std/assert";
 *
 * // A real app passes only the path; an in-memory store keeps the example self-contained.
 * const files = new Map<string, Uint8Array>();
 * const fileStore: FileStore = {
 *   read: (path) => Promise.resolve(files.get(path)),
 *   writeAtomic: (path, bytes) => Promise.resolve(void files.set(path, bytes)),
 * };
 * const first = new AsyncCache<string>({ backup: new DiskBackend("/var/cache/app.snap", { fileStore }) });
 * await first.set("greeting", "hello", { ttl: "1h" });
 * await first.saveToBackup();
 * await first.close();
 *
 * const second = new AsyncCache<string>({ backup: new DiskBackend("/var/cache/app.snap", { fileStore }) });
 * assertEquals(await second.get("greeting"), "hello"); // waits for the load, then an L1 hit
 * await second.close();
 * ```
 */
export class DiskBackend {
  /** The snapshot file. */
  readonly path: string;
  readonly #files: FileStore;
  readonly #logger: Logger | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Creates the backend; nothing is read until a cache loads it.
   *
   * @param path The snapshot file. Its folder must exist; the temp file of a save is created beside it.
   * @param options See {@linkcode DiskBackendOptions}.
   * @throws {InvalidOptionError} When `path` is empty or an option is of the wrong type.
   */
  constructor(path: string, options: DiskBackendOptions = {}) {
    if (typeof path !== "string" || path === "") {
      throw new InvalidOptionError(WHAT, "path", "a non-empty string", path);
    }
    if (options !== null && typeof options === "object") {
      checkOptionNames(WHAT, options, DISK_NAMES);
    }
    const files = options.fileStore ?? defaultFileStore;
    if (typeof files?.read !== "function" || typeof files.writeAtomic !== "function") {
      throw new InvalidOptionError(WHAT, "fileStore", "a FileStore (read, writeAtomic)", files);
    }
    const logger = checkLogger(WHAT, options.logger);
    this.path = path;
    this.#files = files;
    this.#logger = logger;
  }

  /**
   * Reads the snapshot. Never rejects: a missing file is an empty list, an
   * unusable one is logged and read as empty (and left untouched).
   *
   * @param now The reading cache's clock; TTLs shrink by the time since the save.
   * @param logger The reading cache's logger, used when this backend has none of its own.
   * @returns Live entries, most recently used first.
   */
  async load(now: number, logger?: Logger): Promise<BackupEntry[]> {
    let bytes: Uint8Array | undefined;
    try {
      const info = this.#files.inspect && await this.#files.inspect(this.path);
      if (info === undefined && this.#files.inspect) return [];
      const refused = info ? untrustedReason(info) : undefined;
      if (refused !== undefined) {
        this.#ignore(`is not trusted: it ${refused}`, logger);
        return [];
      }
      bytes = await this.#files.read(this.path);
    } catch (error) {
      this.#ignore(`cannot be read (${message(error)})`, logger);
      return [];
    }
    if (bytes === undefined) return [];
    let snapshot;
    try {
      snapshot = decodeSnapshot(bytes);
    } catch (error) {
      this.#ignore(`is not usable: ${message(error)}`, logger);
      return [];
    }
    // A clock that went backwards (another machine, another origin) ages nothing.
    const elapsed = Math.max(0, now - snapshot.savedAt);
    const out: BackupEntry[] = [];
    for (const [key, value, ttlMs] of snapshot.entries) {
      const left = ttlMs === Infinity ? Infinity : ttlMs - elapsed;
      if (left > 0) out.push({ key, value, ttlMs: left });
    }
    return out;
  }

  /**
   * Writes a snapshot atomically. The entries are encoded now; the write
   * waits for earlier saves of this backend to finish, so saves land in call order.
   *
   * @param entries `[key, value, ttlMs]`, most recently used first (`Infinity` for no TTL).
   * @param now The cache's clock, stored so that TTLs keep running while the process is down.
   * @param limit Most entries to write (the loading cache's `maxsize`). Default: all.
   * @param logger The saving cache's logger, used when this backend has none of its own.
   * @returns What was written.
   * @throws {BackupError} (as a rejection) When the file cannot be written; the old snapshot is intact.
   */
  save(
    entries: Iterable<readonly [key: string, value: unknown, ttlMs: number]>,
    now: number,
    limit = Infinity,
    logger?: Logger,
  ): Promise<SaveResult> {
    let encoded;
    try {
      encoded = encodeSnapshot(entries, now, limit);
    } catch (error) {
      return Promise.reject(
        new BackupError(`Cannot save the backup to ${this.path}: ${message(error)}`, {
          cause: error,
        }),
      );
    }
    if (encoded.skipped.length > 0) {
      (this.#logger ?? logger ?? console).warn(
        `async-cache: ${encoded.skipped.length} entr${
          encoded.skipped.length === 1 ? "y" : "ies"
        } left out of the backup ${this.path}: the value cannot be encoded (first key: ${
          JSON.stringify(encoded.skipped[0])
        })`,
      );
    }
    const run = async (): Promise<SaveResult> => {
      try {
        await this.#files.writeAtomic(this.path, encoded.bytes);
      } catch (error) {
        throw new BackupError(`Cannot save the backup to ${this.path}: ${message(error)}`, {
          cause: error,
        });
      }
      return { entries: encoded.count, bytes: encoded.bytes.length, skipped: encoded.skipped };
    };
    const done = this.#queue.then(run, run);
    this.#queue = done.catch(() => {});
    return done;
  }

  /** Resolves when every save started so far has finished (whatever its outcome). */
  async idle(): Promise<void> {
    let seen;
    do {
      seen = this.#queue;
      await seen;
    } while (seen !== this.#queue);
  }

  #ignore(why: string, logger: Logger | undefined): void {
    (this.#logger ?? logger ?? console).warn(
      `async-cache: the backup ${this.path} ${why}; starting with an empty cache (the file is kept until the next successful save)`,
    );
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
