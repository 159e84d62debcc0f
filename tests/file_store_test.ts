/**
 * The runtimes' file stores on the real file system, each in its own runtime
 * (`defaultFileStore` is Deno's under deno test, Bun's under bun test, Node's
 * under node --test), plus the Node store through each runtime's node:fs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Buffer } from "node:buffer";
import type { FileStore } from "../src/file_store.ts";
import { bunFileStore, defaultFileStore, denoFileStore, nodeFileStore } from "../runtimes/files.ts";
import { runtimeName } from "../runtimes/mod.ts";
import { createDenoFileStore, type DenoFile, type DenoFs } from "../runtimes/file_store_deno.ts";
import { type BunFs, createBunFileStore } from "../runtimes/file_store_bun.ts";
import {
  createNodeFileStore,
  type NodeFileHandle,
  type NodeFs,
} from "../runtimes/file_store_node.ts";
import * as fsp from "node:fs/promises";
import { AsyncCache } from "../mod.ts";
import { DiskBackend } from "../src/persist/disk_backend.ts";

const own = { deno: denoFileStore, bun: bunFileStore, node: nodeFileStore }[runtimeName];
const stores: [string, FileStore][] = runtimeName === "node"
  ? [["node", nodeFileStore]]
  : [[runtimeName, own], ["node:fs in " + runtimeName, nodeFileStore]];

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "async-cache-files-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const hourAgo = (): Date => new Date(Date.now() - 3_600_000);

test(`defaultFileStore is the ${runtimeName} store`, () => {
  assert.equal(defaultFileStore, own);
});

for (const [name, store] of stores) {
  describe(`FileStore (${name}) on disk`, () => {
    test("a new snapshot is created with mode 0600", async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        await store.writeAtomic(path, new Uint8Array([1, 2, 3]));
        assert.equal(mode(path).toString(8), "600");
        assert.deepEqual(await store.read(path), new Uint8Array([1, 2, 3]));
      });
    });

    test("replacing a world-readable snapshot leaves it 0600", async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        writeFileSync(path, "old", { mode: 0o644 });
        assert.equal(mode(path).toString(8), "644");
        await store.writeAtomic(path, new Uint8Array([4]));
        assert.equal(mode(path).toString(8), "600");
        assert.deepEqual(readFileSync(path), Buffer.from([4]));
      });
    });

    test("stale temp files of a killed save are removed by the next save", async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        const stale = [
          "cache.snap.m3x1k2-a1b2c3d4.tmp", // today's name: <path>.<time36>-<random>.tmp
          "cache.snap.lzz0-0f1e2d3c4b5a6978.tmp",
        ];
        for (const f of stale) {
          writeFileSync(join(dir, f), "partial");
          utimesSync(join(dir, f), hourAgo(), hourAgo());
        }
        await store.writeAtomic(path, new Uint8Array([9]));
        assert.deepEqual(readdirSync(dir).sort(), ["cache.snap"]);
      });
    });

    test("other files, and temp files of other snapshots, are never removed", async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        const others = [
          "cache.snap.bak",
          "cache.snap.tmp",
          "cache.snap.notes.tmp",
          "cache.snap.m3x1k2-a1b2.tmp.keep",
          "cache.snapx.m3x1k2-a1b2.tmp",
          "other.snap.m3x1k2-a1b2.tmp",
          "xcache.snap.m3x1k2-a1b2.tmp",
          "notes.tmp",
        ];
        for (const f of others) {
          writeFileSync(join(dir, f), "keep me");
          utimesSync(join(dir, f), hourAgo(), hourAgo());
        }
        // A folder that looks like one of our temp files is not ours either.
        mkdirSync(join(dir, "cache.snap.m3x1k2-d1.tmp"));
        await store.writeAtomic(path, new Uint8Array([9]));
        assert.deepEqual(
          readdirSync(dir).sort(),
          ["cache.snap", "cache.snap.m3x1k2-d1.tmp", ...others].sort(),
        );
      });
    });

    test("a fresh temp file (a save still running elsewhere) is left alone", async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        writeFileSync(join(dir, "cache.snap.m3x1k2-a1b2c3d4.tmp"), "in flight");
        await store.writeAtomic(path, new Uint8Array([9]));
        assert.deepEqual(readdirSync(dir).sort(), ["cache.snap", "cache.snap.m3x1k2-a1b2c3d4.tmp"]);
      });
    });

    test("a path without a folder writes in the working folder", async () => {
      await inTempDir(async (dir) => {
        const cwd = process.cwd();
        process.chdir(dir);
        try {
          await store.writeAtomic("bare.snap", new Uint8Array([7]));
          assert.equal(mode(join(dir, "bare.snap")).toString(8), "600");
          assert.deepEqual(readdirSync(dir), ["bare.snap"]);
        } finally {
          process.chdir(cwd);
        }
      });
    });
  });
}

describe("DiskBackend snapshots", () => {
  test("are 0600 on disk", async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, "cache.snap");
      const cache = new AsyncCache<string>({ backup: new DiskBackend(path) });
      await cache.set("token", "secret");
      await cache.saveToBackup();
      await cache.close();
      assert.equal(mode(path).toString(8), "600");
    });
  });
});

// ------------------------------------------------ the order of the steps

type Step = [op: string, path: string, detail?: unknown];

/** node:fs/promises, recording each step of a write. */
function recordingNodeFs(log: Step[]): NodeFs {
  const wrap = (h: NodeFileHandle, path: string): NodeFileHandle => ({
    fd: h.fd,
    write: (b, o, l) => h.write(b, o, l),
    sync: () => (log.push(["sync", path]), h.sync()),
    close: () => h.close(),
  });
  return {
    readFile: (p) => fsp.readFile(p),
    open: async (p, flags, mode) => {
      log.push(["open", p, mode === undefined ? flags : `${flags} ${mode.toString(8)}`]);
      return wrap(await fsp.open(p, flags, mode), p);
    },
    rename: (a, b) => (log.push(["rename", b, a]), fsp.rename(a, b)),
    unlink: (p) => (log.push(["unlink", p]), fsp.unlink(p)),
    readdir: (p) => fsp.readdir(p),
    lstat: (p) => fsp.lstat(p),
  };
}

/** The Deno namespace, recording each step of a write. */
function recordingDeno(log: Step[]): DenoFs {
  const d = (globalThis as unknown as { Deno: DenoFs }).Deno;
  const wrap = (f: DenoFile, path: string): DenoFile => ({
    write: (b) => f.write(b),
    sync: () => (log.push(["sync", path]), f.sync()),
    close: () => f.close(),
  });
  return {
    build: d.build,
    readFile: (p) => d.readFile(p),
    open: async (p, options) => {
      log.push(["open", p, "mode" in options ? `wx ${options.mode.toString(8)}` : "r"]);
      return wrap(await d.open(p, options), p);
    },
    rename: (a, b) => (log.push(["rename", b, a]), d.rename(a, b)),
    remove: (p) => (log.push(["unlink", p]), d.remove(p)),
    readDir: (p) => d.readDir(p),
    lstat: (p) => d.lstat(p),
  };
}

function recordingStores(log: Step[]): [string, FileStore][] {
  const node = createNodeFileStore(recordingNodeFs(log));
  if (runtimeName === "deno") {
    return [["deno", createDenoFileStore(() => recordingDeno(log))], ["node:fs in deno", node]];
  }
  if (runtimeName === "bun") {
    const bun = (globalThis as unknown as { Bun: BunFs }).Bun;
    return [["bun", createBunFileStore(() => bun, recordingNodeFs(log))], ["node:fs in bun", node]];
  }
  return [["node", node]];
}

describe("FileStore write steps", () => {
  for (const [name] of recordingStores([])) {
    test(`${name}: temp 0600, fsync, rename, then fsync of the folder`, async () => {
      // A fresh log per test: rebuild the store around it.
      const log: Step[] = [];
      const mine = new Map(recordingStores(log)).get(name)!;
      await inTempDir(async (dir) => {
        const path = join(dir, "cache.snap");
        await mine.writeAtomic(path, new Uint8Array([1, 2]));
        const steps = log.map((
          [op, p, detail],
        ) => [
          op,
          p === path ? "<path>" : p === dir ? "<dir>" : /\.tmp$/.test(p) ? "<tmp>" : p,
          detail,
        ]);
        assert.deepEqual(steps, [
          ["open", "<tmp>", "wx 600"],
          ["sync", "<tmp>", undefined],
          ["rename", "<path>", log[2][2]],
          ["open", "<dir>", "r"],
          ["sync", "<dir>", undefined],
        ]);
        assert.equal(log[2][2], log[0][1], "the temp file written is the one renamed");
        assert.deepEqual(await mine.read(path), new Uint8Array([1, 2]));
      });
    });
  }
});
