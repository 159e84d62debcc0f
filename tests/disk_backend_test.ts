/**
 * DiskBackend + AsyncCache `backup`: warm start, TTLs across the restart,
 * unusable files (logged, ignored, kept), serialised and atomic saves, and a
 * save killed midway by SIGKILL (a real child process, real files).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { AsyncCache, InvalidOptionError, RemoteCacheBackend } from "../mod.ts";
import { DiskBackend } from "../src/persist/disk_backend.ts";
import { BackupError } from "../src/errors.ts";
import { SNAPSHOT_VERSION } from "../src/persist/_snapshot.ts";
import { entryKey, RecordingLogger, repoRoot } from "./_helpers.ts";
import { FakeClock } from "../src/testing/fake_clock.ts";
import { MemoryFileStore } from "./fakes/memory_file_store.ts";

const PATH = "/data/cache.snap";

function setup(clock?: FakeClock) {
  const files = new MemoryFileStore();
  const log = new RecordingLogger();
  const make = <V = unknown>(maxsize = 100) =>
    new AsyncCache<V>({
      maxsize,
      clock,
      backup: new DiskBackend(PATH, { fileStore: files, logger: log }),
    });
  return { files, log, make };
}

async function savedSnapshot(): Promise<Uint8Array> {
  const { files, make } = setup();
  const cache = make();
  await cache.set("a", 1);
  await cache.set("b", { nested: [1, 2] });
  await cache.saveToBackup();
  await cache.close();
  return files.files.get(PATH)!;
}

describe("DiskBackend: warm start", () => {
  test("a new cache starts with the saved entries; reads wait for the load", async () => {
    const { files, make } = setup();
    const first = make();
    const value = {
      when: new Date(0),
      tags: new Set(["x"]),
      big: 2n ** 80n,
      map: new Map([[1, null]]),
      bytes: new Uint8Array([0, 255]),
      nothing: null,
    };
    await first.set("user:1", value);
    await first.set("n", 42);
    await first.set("weird \u0000 key \ud83d\ude00", "ok");
    await first.saveToBackup();
    await first.close();
    assert.equal(files.writes, 1);

    const second = make();
    let loaderRuns = 0;
    // Issued before the load finished: it waits, then hits L1.
    const got = await second.get("user:1", { loader: () => (loaderRuns++, undefined) });
    assert.deepEqual(got, value);
    assert.equal(loaderRuns, 0);
    assert.equal(await second.get("n"), 42);
    assert.equal(await second.get("weird \u0000 key \ud83d\ude00"), "ok");
    assert.equal(second.getMetrics().size, 3);
    assert.equal(second.getMetrics().misses, 0);
    await second.close();
  });

  test("ready resolves once loaded; recency and maxsize are kept", async () => {
    const { make } = setup();
    const first = make<number>();
    for (const k of ["a", "b", "c", "d", "e"]) await first.set(k, k.charCodeAt(0));
    await first.get("a"); // most recently used now
    await first.saveToBackup();

    const small = make<number>(3);
    await small.ready;
    assert.equal(small.getMetrics().size, 3);
    assert.equal(await small.get("a"), 97);
    assert.equal(await small.get("e"), 101);
    assert.equal(await small.get("d"), 100);
    assert.equal(await small.get("b"), undefined, "least recently used entries are left out");
    await small.set("z", 0); // evicts the least recently used: "a" (read before "e" and "d")
    assert.equal(await small.get("a"), undefined);
    assert.equal(small.getMetrics().evictions, 1);
    await small.close();
    await first.close();
  });

  test("a set, delete or clear during the load wins over the snapshot", async () => {
    const { files, make } = setup();
    const first = make<string>();
    await first.set("kept", "old");
    await first.set("overwritten", "old");
    await first.set("deleted", "old");
    await first.saveToBackup();
    await first.close();

    let open!: () => void;
    files.readGate = new Promise((r) => (open = r)); // the load is held until open()
    const second = make<string>();
    await second.set("overwritten", "new");
    await second.delete("deleted");
    const early = second.get("kept"); // waits for the load
    open();
    assert.equal(await early, "old");
    await second.ready;
    assert.equal(await second.get("kept"), "old");
    assert.equal(await second.get("overwritten"), "new");
    assert.equal(await second.get("deleted"), undefined);
    await second.close();

    let open3!: () => void;
    files.readGate = new Promise((r) => (open3 = r));
    const third = make<string>();
    await third.clear();
    open3();
    await third.ready;
    assert.equal(third.getMetrics().size, 0);
    await third.close();
  });

  test("no snapshot yet: empty, nothing logged, nothing written", async () => {
    const { files, log, make } = setup();
    const cache = make();
    await cache.ready;
    assert.equal(cache.getMetrics().size, 0);
    assert.deepEqual(log.warnings, []);
    assert.equal(files.writes, 0);
    await cache.close();
  });

  test("disk for cold start, the remote tier for sharing", async () => {
    class MapBackend extends RemoteCacheBackend {
      data = new Map<string, unknown>();
      gets = 0;
      get(key: string) {
        this.gets++;
        return Promise.resolve(this.data.get(key));
      }
      set(key: string, value: unknown) {
        this.data.set(key, value);
        return Promise.resolve();
      }
      delete(key: string) {
        this.data.delete(key);
        return Promise.resolve();
      }
      clear() {
        this.data.clear();
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
    }
    const shared = new MapBackend();
    const files = new MemoryFileStore();
    const make = () =>
      new AsyncCache<string>({
        remoteCache: shared,
        backup: new DiskBackend(PATH, { fileStore: files }),
      });
    const a = make();
    await a.set("config", "dark");
    await a.saveToBackup();
    await a.close();
    shared.data.set(entryKey("other"), "from-l2");
    const b = make();
    shared.gets = 0;
    assert.equal(await b.get("config"), "dark");
    assert.equal(shared.gets, 1, "with a shared tier, a snapshot entry is checked against L2 once");
    assert.equal(await b.get("config"), "dark");
    assert.equal(shared.gets, 1, "then it is an L1 hit");
    assert.equal(await b.get("other"), "from-l2");
    assert.equal(b.getMetrics().l2Hits, 2); // "config" (validated) and "other"
    await b.close();
  });
});

describe("DiskBackend: TTLs", () => {
  test("remaining TTLs carry over; time while down counts; expired entries are skipped", async () => {
    const clock = new FakeClock();
    const { make } = setup(clock);
    const first = make<string>();
    await first.set("long", "L", { ttl: "10s" });
    await first.set("short", "S", { ttl: 1000 });
    await first.set("forever", "F");
    clock.advance(500);
    await first.saveToBackup();
    await first.close();

    clock.advance(2000); // the process was down for 2 s
    const second = make<string>();
    await second.ready;
    assert.equal(second.getMetrics().size, 2, "the expired entry is not loaded");
    assert.equal(await second.get("short"), undefined);
    clock.advance(7400); // long had 9.5 s left at save, 7.5 s at load
    assert.equal(await second.get("long"), "L");
    clock.advance(200);
    assert.equal(await second.get("long"), undefined);
    clock.advance(1e9);
    assert.equal(await second.get("forever"), "F");
    await second.close();
  });
});

describe("DiskBackend: unusable files are logged, ignored and kept", () => {
  const cases: [string, (good: Uint8Array) => Uint8Array, RegExp][] = [
    ["truncated", (good) => good.slice(0, Math.floor(good.length / 2)), /truncated/],
    ["truncated header", (good) => good.slice(0, 4), /truncated/],
    ["empty", () => new Uint8Array(0), /truncated header \(0 bytes\)/],
    ["corrupt", (good) => {
      const bad = good.slice();
      bad[bad.length - 3] ^= 0xff;
      return bad;
    }, /checksum/],
    ["garbage", () => new TextEncoder().encode("{ this is not a snapshot }"), /not an async-cache/],
    ["future version", (good) => {
      const bad = good.slice();
      bad[6] = SNAPSHOT_VERSION + 1;
      return bad;
    }, /newer/],
    ["trailing bytes", (good) => new Uint8Array([...good, 0]), /after the end/],
  ];
  for (const [name, damage, reason] of cases) {
    test(name, async () => {
      const bad = damage(await savedSnapshot());
      const { files, log, make } = setup();
      files.files.set(PATH, bad);
      const cache = make();
      assert.equal(await cache.get("a"), undefined);
      assert.equal(cache.getMetrics().size, 0, "the cache starts empty");
      assert.equal(log.warnings.length, 1);
      assert.match(log.warnings[0], reason);
      assert.match(log.warnings[0], /\/data\/cache\.snap/);
      await cache.set("fresh", 1);
      assert.deepEqual(files.files.get(PATH), bad, "untouched until the next save");
      assert.equal(files.writes, 0);

      await cache.saveToBackup();
      await cache.close();
      const next = make();
      assert.equal(await next.get("fresh"), 1, "the next successful save replaces it");
      await next.close();
    });
  }

  test("a read error is logged and the cache starts empty", async () => {
    const { files, log, make } = setup();
    files.failReads = new Error("EACCES: permission denied");
    const cache = make();
    await cache.ready;
    assert.equal(cache.getMetrics().size, 0);
    assert.match(log.warnings[0], /cannot be read \(EACCES/);
    await cache.close();
  });
});

describe("DiskBackend: saves", () => {
  test("concurrent saves run one at a time, in call order", async () => {
    const { files, make } = setup();
    const cache = make<number>();
    let open!: () => void;
    files.gate = new Promise((r) => (open = r));
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 3; i++) {
      await cache.set("n", i);
      saves.push(cache.saveToBackup());
    }
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(files.active, 1, "only one write at a time");
    open();
    await Promise.all(saves);
    assert.equal(files.maxActive, 1);
    assert.equal(files.writes, 3);
    await cache.close();
    const next = make<number>();
    assert.equal(await next.get("n"), 3, "the last save landed last");
    await next.close();
  });

  test("a failed save rejects with BackupError and keeps the old snapshot", async () => {
    const { files, make } = setup();
    const cache = make<string>();
    await cache.set("k", "old");
    await cache.saveToBackup();
    const before = files.files.get(PATH);
    await cache.set("k", "new");
    files.failNextWrite = new Error("ENOSPC: no space left on device");
    await assert.rejects(cache.saveToBackup(), (error: Error) => {
      assert.equal(error.name, "BackupError");
      assert.ok(error instanceof BackupError);
      assert.match(error.message, /\/data\/cache\.snap.*ENOSPC/);
      return true;
    });
    assert.deepEqual(files.files.get(PATH), before);
    await cache.saveToBackup(); // the queue keeps working after a failure
    await cache.close();
    const next = make<string>();
    assert.equal(await next.get("k"), "new");
    await next.close();
  });

  test("values the envelope cannot hold are left out, with a warning", async () => {
    const { log, make } = setup();
    const cache = make<unknown>();
    await cache.set("fn", () => 1);
    await cache.set("ok", "fine");
    await cache.saveToBackup();
    assert.match(log.warnings[0], /1 entry left out.*"fn"/);
    await cache.close();
    const next = make();
    assert.equal(await next.get("ok"), "fine");
    assert.equal(await next.get("fn"), undefined);
    await next.close();
  });

  test("errors are named", async () => {
    await assert.rejects(new AsyncCache().saveToBackup(), { name: "BackupError" });
    assert.throws(() => new DiskBackend(""), InvalidOptionError);
    assert.throws(
      () => new DiskBackend("x", { fileStore: {} as never }),
      { name: "InvalidOptionError", message: /fileStore/ },
    );
    assert.throws(
      () => new AsyncCache({ backup: {} as never }),
      { name: "InvalidOptionError", message: /backup/ },
    );
  });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("DiskBackend on the real file system", () => {
  test("the runtime's file store saves and loads, and leaves no temp file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "async-cache-disk-"));
    try {
      const path = join(dir, "cache.snap");
      const make = () => new AsyncCache<string>({ backup: new DiskBackend(path) });
      const a = make();
      await a.set("k", "v");
      await a.saveToBackup();
      await a.set("k", "v2");
      await a.saveToBackup();
      await a.close();
      assert.deepEqual(readdirSync(dir), ["cache.snap"]);
      const b = make();
      assert.equal(await b.get("k"), "v2");
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("SIGKILL during a large save leaves the previous snapshot loadable", async () => {
    const root = repoRoot();
    const dir = mkdtempSync(join(tmpdir(), "async-cache-kill-"));
    try {
      const path = join(dir, "cache.snap");
      const old = new AsyncCache<string>({ backup: new DiskBackend(path) });
      await old.set("marker", "old snapshot");
      await old.saveToBackup();
      await old.close();
      const oldBytes = readFileSync(path);

      let killedMidway = false;
      for (let attempt = 0; attempt < 3 && !killedMidway; attempt++) {
        const child = spawn(
          join(root, "node_modules", ".bin", "deno"),
          ["run", "-A", join(root, "tests", "_save_child.ts"), path, "20000"],
          { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
        );
        const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
        let out = "";
        let err = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (err += d));
        try {
          const deadline = Date.now() + 60_000;
          // Wait for the first save to start, then for its temp file to appear.
          while (!out.includes("saving 0")) {
            if (child.exitCode !== null || Date.now() > deadline) {
              throw new Error(`child did not start saving: ${err}`);
            }
            await sleep(5);
          }
          while (!readdirSync(dir).some((f) => f.endsWith(".tmp"))) {
            if (out.includes("saved 0") || Date.now() > deadline) break;
            await sleep(1);
          }
          kill(child);
          await exited;
        } finally {
          kill(child);
          await exited;
        }
        const leftovers = readdirSync(dir).filter((f) => f.endsWith(".tmp"));
        if (!out.includes("saved 0") && leftovers.length > 0) killedMidway = true;
        // Whatever happened, the snapshot is whole: the old one, or a complete new one.
        const cache = new AsyncCache<unknown>({ maxsize: Infinity, backup: new DiskBackend(path) });
        await cache.ready;
        const size = cache.getMetrics().size;
        if (killedMidway) {
          assert.deepEqual(readFileSync(path), oldBytes, "the old snapshot is byte-identical");
          assert.equal(await cache.get("marker"), "old snapshot");
        } else {
          assert.ok(size === 1 || size === 20001, `a whole snapshot (${size} entries)`);
        }
        await cache.close();
        for (const f of leftovers) rmSync(join(dir, f));
      }
      assert.ok(killedMidway, "the child was killed during a save");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, "SIGKILL");
  } catch { /* already gone */ }
}
