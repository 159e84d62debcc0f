/**
 * The service on `Deno.serve`. Run: `deno run -A examples/deno_server.ts`
 * (env: `PORT`, default 8000; `REDIS_URL`, `INSTANCE`, ...: see `service.ts`).
 *
 * @module
 */
import { createService, optionsFromEnv } from "./service.ts";

const service = createService(optionsFromEnv((name) => Deno.env.get(name), "deno"));
const port = Number(Deno.env.get("PORT") ?? 8000);
const server = Deno.serve(
  {
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port,
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`),
  },
  service.fetch,
);

const stop = async () => {
  await server.shutdown();
  await service.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
