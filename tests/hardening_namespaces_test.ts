/**
 * Issue 16, item 12: AgentCache's L2 namespace (`agent`) is reserved. A memoized
 * function named `agent` (or given `name: "agent"` / `"agent:x"`) with a
 * remoteCache is refused, so its clearCache() cannot wipe every user's
 * AgentCache entries; AgentCache itself still uses it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncCache, AsyncLRU, InvalidOptionError } from "../mod.ts";
import { AgentCache } from "../src/agent/mod.ts";
import { checkReservedNamespace } from "../src/cache/_namespaces.ts";
import { MapBackend } from "./_map_backend.ts";

describe("hardening: the agent namespace (issue 16 item 12)", () => {
  test("a memoized function named agent cannot take AgentCache's namespace", () => {
    const remote = new MapBackend();
    assert.throws(
      () =>
        AsyncLRU({ remoteCache: remote })(async function agent(id: number) {
          return id;
        }),
      (e: unknown) => e instanceof InvalidOptionError && /reserved namespace/.test(e.message),
    );
    assert.throws(
      () => AsyncLRU({ remoteCache: remote, name: "agent" })(async (id: number) => id),
      InvalidOptionError,
    );
    assert.throws(
      () => AsyncLRU({ remoteCache: remote, name: "agent:profile" })(async (id: number) => id),
      InvalidOptionError,
    );
    assert.throws(() => checkReservedNamespace("AsyncCache", "namespace", remote, "agent"), {
      name: "InvalidOptionError",
    });
    // Names that merely start with the letters are fine.
    const f = AsyncLRU({ remoteCache: remote, name: "agents" })(async (id: number) => id);
    f.cache.close();
  });

  test("an AsyncCache cannot take the agent namespace of a shared backend", () => {
    const remote = new MapBackend();
    for (const namespace of ["agent", "agent:profile"]) {
      assert.throws(
        () => new AsyncCache({ remoteCache: remote, namespace }),
        (e: unknown) => e instanceof InvalidOptionError && /reserved namespace/.test(e.message),
      );
    }
    new AsyncCache({ namespace: "agent" }).close(); // no shared tier: nothing to reach
  });

  test("AgentCache still uses the reserved namespace", async () => {
    const remote = new MapBackend();
    let calls = 0;
    const tool = AgentCache({ resource: "hardening-profile", ttl: "1h", remoteCache: remote })(
      async function getProfile(id: string) {
        calls++;
        return id + "!";
      },
    );
    assert.equal(await tool("ada"), "ada!");
    assert.equal(await tool("ada"), "ada!");
    assert.equal(calls, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok([...remote.data.keys()].some((k) => k.startsWith("5:agent:")), "stored under agent");
  });
});
