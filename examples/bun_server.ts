/**
 * The service on `Bun.serve`. Run: `bun examples/bun_server.ts`
 * (env: `PORT`, default 8000; `REDIS_URL`, `INSTANCE`, ...: see `service.ts`).
 *
 * @module
 */
import process from "node:process";
import { createService, optionsFromEnv } from "./service.ts";

/** The few members of Bun's API used here (no bun-types in the shared type check). */
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Promise<Response>;
  }): { hostname: string; port: number; stop(closeActive?: boolean): Promise<void> | void };
};

const service = createService(optionsFromEnv((name) => process.env[name], "bun"));
const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 8000),
  fetch: service.fetch,
});
console.log(`listening on http://${server.hostname}:${server.port}`);

const stop = async () => {
  await server.stop();
  await service.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
