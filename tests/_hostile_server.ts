/**
 * A tiny TCP server on loopback that answers RESP commands however a test likes: the hostile,
 * old or misconfigured servers of the hardening tests. Commands are parsed with the project's
 * own reply parser (a command is an array of bulk strings, which is a valid reply).
 */
import { createServer, type Server, type Socket } from "node:net";
import { replyToString, RespParser } from "../src/resp/parser.ts";

/** What a handler returns: raw RESP text to write, or `undefined` to say nothing. */
export type HostileHandler = (args: string[], socket: Socket) => string | Uint8Array | undefined;

/** A running hostile server. */
export interface HostileServer {
  readonly port: number;
  /** Every command received, in order, across connections. */
  readonly commands: string[][];
  /** How many connections were accepted. */
  readonly connections: () => number;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (a free port) that answers each command with `handler`. */
export async function startHostileServer(handler: HostileHandler): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const commands: string[][] = [];
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    const parser = new RespParser((reply) => {
      const args = (reply as Uint8Array[]).map((a) => replyToString(a) ?? "");
      commands.push(args);
      const out = handler(args, socket);
      if (out !== undefined && !socket.destroyed) socket.write(out);
    });
    socket.on("data", (chunk: Uint8Array) => {
      try {
        parser.feed(new Uint8Array(chunk));
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    commands,
    connections: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
