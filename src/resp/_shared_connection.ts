/**
 * What the shared connection of a `RedisClient` refuses to carry: commands
 * whose replies are not one per command (the subscribe family, `MONITOR`)
 * and commands that change the connection under every other caller
 * (`CLIENT REPLY`, `RESET`, a `HELLO` that switches protocol or identity).
 *
 * @module
 */
import type { Command } from "./encoder.ts";
import { decodeUtf8 } from "./parser.ts";

/**
 * Commands whose replies are not one per command, in order: push messages
 * (RESP3) or a message stream (RESP2) follow. On the shared connection they
 * would hand the next command's reply to the wrong caller.
 */
const DEDICATED_COMMANDS = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
]);

/**
 * Commands that change the connection under every other caller: `CLIENT REPLY OFF|SKIP`
 * silences replies (the next caller would get the wrong one), `RESET` and `HELLO` (with
 * another protocol, `AUTH` or `SETNAME`) drop the authentication, database, tracking or
 * protocol the handshake set up.
 */
const STATE_COMMANDS = new Set(["RESET"]);

/** The upper-cased name if `args` is refused on the shared connection; cheap for every other command. */
export function dedicatedCommand(args: Command, protocol: number): string | undefined {
  const name = args[0];
  let length: number;
  let first: number;
  if (typeof name === "string") {
    length = name.length;
    first = name.charCodeAt(0);
  } else if (name instanceof Uint8Array) {
    length = name.length;
    first = name[0];
  } else return undefined;
  // HELLO, RESET (5 letters) to PUNSUBSCRIBE (12), starting with C, H, M, P, R, S or U.
  if (length < 5 || length > 12) return undefined;
  const c = first | 0x20;
  if (
    c !== 0x63 && c !== 0x68 && c !== 0x6d && c !== 0x70 && c !== 0x72 && c !== 0x73 &&
    c !== 0x75
  ) return undefined;
  const upper = (typeof name === "string" ? name : decodeUtf8(name as Uint8Array)).toUpperCase();
  if (DEDICATED_COMMANDS.has(upper) || STATE_COMMANDS.has(upper)) return upper;
  // HELLO alone, or naming the protocol in use, only reads server information: allowed;
  // another protocol, AUTH or SETNAME changes the connection.
  if (upper === "HELLO") {
    if (args.length > 2) return "HELLO";
    if (args.length === 2) {
      const p = args[1];
      const text = p instanceof Uint8Array ? decodeUtf8(p) : String(p);
      if (text !== String(protocol)) return "HELLO";
    }
  }
  if (upper === "CLIENT" && args.length > 1) {
    const sub = args[1];
    const text = typeof sub === "string" ? sub : sub instanceof Uint8Array ? decodeUtf8(sub) : "";
    if (text.toUpperCase() === "REPLY") return "CLIENT REPLY";
  }
  return undefined;
}
