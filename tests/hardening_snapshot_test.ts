/**
 * Issue 16, item 11: a planted snapshot is not trusted. A world- or
 * group-writable file, a symlink, or a file owned by another user is logged
 * and ignored (cold start), never loaded.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { AsyncCache, DiskBackend } from "../mod.ts";

describe("hardening: planted snapshots (issue 16 item 11)", () => {
  test("a world-writable or symlinked snapshot is refused: logged, cold start", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ac-snap-"));
    try {
      const file = path.join(dir, "cache.snap");
      const writer = new AsyncCache({ backup: new DiskBackend(file) });
      await writer.ready;
      await writer.set("k", "planted");
      await writer.saveToBackup();
      await writer.close();
      for (const setup of ["0666", "symlink"]) {
        let target = file;
        if (setup === "0666") await fs.chmod(file, 0o666);
        else {
          await fs.chmod(file, 0o600);
          target = path.join(dir, "link.snap");
          await fs.symlink(file, target);
        }
        const warnings: string[] = [];
        const logger = {
          warn: (m: string) => void warnings.push(m),
          error: (m: string) => void warnings.push(m),
        };
        const reader = new AsyncCache({ backup: new DiskBackend(target), logger });
        await reader.ready;
        assert.equal(await reader.get("k"), undefined, `${setup}: not loaded`);
        assert.ok(warnings.some((w) => /not trusted/.test(w)), `${setup}: ${warnings.join("|")}`);
        await reader.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
