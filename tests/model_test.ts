/**
 * A short, bounded run of the model-based checker (`tests/_model.ts`): a few
 * fixed seeds, two instances each on its own RedisBackend, tracking on and
 * off, and the reconnect profile (issue 15 item 4, which 801d944 fails on
 * each of these seeds), against a real redis-server. The long run is
 * `npm run check:model`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as lib from "../mod.ts";
import { type Lib, runOnce } from "./_model.ts";
import {
  type RedisServer,
  redisServerAvailable,
  SKIP_MESSAGE,
  startRedisServer,
} from "./_redis_server.ts";

const skip = redisServerAvailable() ? false : SKIP_MESSAGE;

describe("model checker (short run)", { skip }, () => {
  let server: RedisServer;
  before(async () => (server = await startRedisServer()));
  after(() => server?.stop());

  test("seeds 1-3 x 20 ops, reconnect (a tagged set after a reconnect, then invalidateTags)", async () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = await runOnce(lib as unknown as Lib, server.port, {
        seed,
        ops: 20,
        profile: "reconnect",
      }, server);
      assert.deepEqual(r.failures, [], `seed ${seed}`);
    }
  });

  for (const tracking of [true, false]) {
    test(`seeds 1-4 x 60 ops, calm, tracking ${tracking ? "on" : "off"}`, async () => {
      for (let seed = 1; seed <= 4; seed++) {
        const r = await runOnce(lib as unknown as Lib, server.port, {
          seed,
          ops: 60,
          tracking,
          profile: "calm",
        }, server);
        assert.deepEqual(r.failures, [], `seed ${seed}`);
      }
    });
  }
});
