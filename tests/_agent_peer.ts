/**
 * A second process for `agent_cache_test.ts` (always run with Deno): calls a
 * user-scoped `getCart` tool through a Redis shared with the test, and
 * prints `{ cart, loaderRan }` as JSON. Its "database" is a Redis key too.
 *
 * With a fourth argument `invalidate`, it instead adds "plum" to the cart
 * through a mutating tool (which invalidates the user's cart everywhere).
 *
 * Run: `deno run -A tests/_agent_peer.ts <port> <prefix> <userId> [invalidate]`
 */
import process from "node:process";
import { RedisBackend } from "../src/remote/redis_backend.ts";
import { AgentCache, withAgentContext } from "../src/agent/mod.ts";

const [port, prefix, userId, mode] = process.argv.slice(2);
const redis = new RedisBackend({ host: "127.0.0.1", port: Number(port), prefix });
if (mode === "invalidate") {
  const addPlum = AgentCache({
    invalidates: [{ resource: "cart", scope: "user" }],
    remoteCache: redis,
  })(async function addToCart() {
    const raw = await redis.client.command(["GET", `db:cart:${userId}`]);
    const cart = JSON.parse(new TextDecoder().decode(raw as Uint8Array));
    await redis.client.command(["SET", `db:cart:${userId}`, JSON.stringify([...cart, "plum"])]);
  });
  await withAgentContext({ userId }, () => addPlum());
  await redis.close();
  process.stdout.write(JSON.stringify({ cart: [], loaderRan: false }) + "\n");
  process.exit(0);
}
let loaderRan = false;
const getCart = AgentCache({ resource: "cart", scope: "user", ttl: "1m", remoteCache: redis })(
  async function getCart(): Promise<string[]> {
    loaderRan = true;
    const raw = await redis.client.command(["GET", `db:cart:${userId}`]);
    return JSON.parse(new TextDecoder().decode(raw as Uint8Array));
  },
);
const cart = await withAgentContext({ userId }, () => getCart());
await getCart.close();
await redis.close();
process.stdout.write(JSON.stringify({ cart, loaderRan }) + "\n");
