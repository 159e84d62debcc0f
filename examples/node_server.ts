/**
 * The service on `node:http`, run compiled as the npm package is: `npm run build`
 * puts it in `npm/examples/`, then `node npm/examples/node_server.js`
 * (env: `PORT`, default 8000; `REDIS_URL`, `INSTANCE`, ...: see `service.ts`).
 *
 * @module
 */
import { createServer } from "node:http";
import process from "node:process";
import { createService, optionsFromEnv } from "./service.ts";

const service = createService(optionsFromEnv((name) => process.env[name], "node"));
const server = createServer((req, res) => {
  service.route(req.method ?? "GET", req.url ?? "/").then(
    (r) => {
      res.writeHead(r.status, { "content-type": r.contentType });
      res.end(r.body);
    },
    (error) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    },
  );
});
server.keepAliveTimeout = 30_000;
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8000);
server.listen(port, host, () => console.log(`listening on http://${host}:${port}`));

const stop = () => {
  server.close();
  server.closeAllConnections();
  service.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
