/**
 * The connection handshake of a `RedisClient`: `HELLO 3` with credentials
 * and name in one round trip, falling back to `AUTH` + RESP2 when the server
 * refuses it, then `SELECT`, `CLIENT SETNAME` and `CLIENT TRACKING` as
 * needed. Replies to `HELLO` and `AUTH` are judged by their error code and
 * reported by that code alone: a server may echo the arguments it was sent
 * (the password among them).
 *
 * @module
 */
import { RedisAuthError, RedisConnectionError, RedisReplyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Command, CommandArg } from "./encoder.ts";
import type { Reply } from "./parser.ts";

/** What the handshake needs to know of the client. */
export interface HandshakeSettings {
  password: string | undefined;
  username: string | undefined;
  clientName: string | undefined;
  db: number;
  /** The protocol asked for (3: try `HELLO 3` first). */
  protocol: 2 | 3;
  trackingArgs: readonly string[] | undefined;
  /** Where the server is, for messages. */
  where: string;
  logger: Logger | undefined;
}

/** Warnings said once per client (across reconnects). */
export interface HandshakeWarnings {
  tracking: boolean;
  setname: boolean;
}

/**
 * Replies that mean the credentials are wrong or missing. `NOPERM` is not one:
 * a user without permission for a command is correctly authenticated, and
 * retrying its password would never help.
 */
const AUTH_CODES = new Set(["WRONGPASS", "NOAUTH"]);
/** What the credential codes mean, said in our words (the server's may echo arguments). */
const AUTH_HINTS: Record<string, string> = {
  WRONGPASS: "wrong username or password, or the user is disabled",
  NOAUTH: "the server wants a password",
};

/** `text` with every occurrence of `secret` replaced by `***` (nothing to do without one). */
export function scrubSecret(text: string, secret: string | undefined): string {
  return secret === undefined || secret === "" ? text : text.split(secret).join("***");
}

/**
 * Runs the handshake over `send` (commands on the connection being set up);
 * resolves the protocol spoken and whether tracking is on.
 *
 * @throws {RedisAuthError} When the server refuses the credentials.
 * @throws {RedisConnectionError} When another setup command fails.
 */
export async function handshake(
  send: (commands: Command[]) => Promise<Reply>[],
  s: HandshakeSettings,
  warned: HandshakeWarnings,
): Promise<{ protocol: 2 | 3; tracking: boolean }> {
  const password = s.password;
  const name = s.clientName;
  let protocol: 2 | 3 = 2;
  let authenticated = password === undefined;
  let named = name === undefined;
  if (s.protocol === 3) {
    // One round trip for protocol, credentials and name. SETNAME inside HELLO
    // needs no `client|setname` permission, so a least-privilege user keeps its name.
    const hello: CommandArg[] = ["HELLO", "3"];
    if (password !== undefined) hello.push("AUTH", s.username ?? "default", password);
    if (name !== undefined) hello.push("SETNAME", name);
    const [helloReply] = send([hello]);
    const reply = await helloReply;
    if (reply instanceof RedisReplyError) {
      // NOPROTO, or "unknown command" (Redis < 6, or HELLO renamed), or NOAUTH from a
      // Redis < 6 that wants AUTH before any command it does not know: fall back to
      // RESP2. Decided from the code alone: the text may echo our arguments (the
      // password among them), so it is never quoted, and a password that contains
      // the word "password" cannot turn a refusal into an auth failure.
      // NOAUTH is a credentials problem only when we sent none.
      if (reply.code === "WRONGPASS" || (reply.code === "NOAUTH" && password === undefined)) {
        throw authError(s, "HELLO", reply);
      }
      s.logger?.debug?.(
        `Redis at ${s.where} refused HELLO 3 (${codeOf(s, reply)}); using RESP2`,
      );
    } else {
      protocol = 3;
      authenticated = named = true;
    }
  }
  const setup: Command[] = [];
  if (!authenticated) {
    setup.push(
      s.username !== undefined ? ["AUTH", s.username, password!] : ["AUTH", password!],
    );
  }
  if (s.db !== 0) setup.push(["SELECT", s.db]);
  if (!named) setup.push(["CLIENT", "SETNAME", name!]);
  const tracking = s.trackingArgs !== undefined && protocol === 3;
  if (tracking) setup.push(["CLIENT", "TRACKING", "ON", ...s.trackingArgs!]);
  let trackingOn = tracking;
  if (s.trackingArgs !== undefined && !tracking && !warned.tracking) {
    warned.tracking = true;
    s.logger?.warn(
      `Redis at ${s.where} speaks RESP2 only: no server-assisted invalidation; ` +
        `L1 copies of shared entries live until their TTL`,
    );
  }
  if (setup.length > 0) {
    const replies = await Promise.all(send(setup));
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i];
      if (!(reply instanceof RedisReplyError)) continue;
      const command = String(setup[i][0]);
      if (command === "AUTH" || AUTH_CODES.has(reply.code)) {
        throw authError(s, command, reply);
      }
      if (command === "CLIENT" && setup[i][1] === "TRACKING") {
        trackingOn = false;
        if (!warned.tracking) {
          warned.tracking = true;
          s.logger?.warn(
            `Redis at ${s.where} refused CLIENT TRACKING (${scrubFor(s, reply.message)}); ` +
              `L1 copies of shared entries live until their TTL (grant +client|tracking to fix)`,
          );
        }
        continue;
      }
      if (command === "CLIENT") {
        // The name is a courtesy to operators: a user without `client|setname`
        // (least privilege) still gets a working connection.
        if (!warned.setname) {
          warned.setname = true;
          s.logger?.warn(
            `Redis at ${s.where} refused CLIENT SETNAME (${scrubFor(s, reply.message)}); ` +
              `continuing without a connection name (set clientName: null to skip it)`,
          );
        }
        continue;
      }
      throw new RedisConnectionError(
        `Redis connection setup failed: ${setup[i].slice(0, 2).join(" ")} answered ${
          scrubFor(s, reply.message)
        }`,
        { cause: new RedisReplyError(scrubFor(s, reply.message)) },
      );
    }
  }
  return { protocol, tracking: trackingOn };
}

/**
 * The error for refused credentials. Only the reply's code is kept, in the message and in
 * the cause: a refusal may echo the arguments it was sent, and Redis cuts the echo at 128
 * bytes, so scrubbing the whole password out of it could still leave a prefix of it.
 */
function authError(s: HandshakeSettings, command: string, reply: RedisReplyError): RedisAuthError {
  const code = codeOf(s, reply);
  const hint = AUTH_HINTS[code] ?? "the server's text is not quoted: it may echo the password";
  return new RedisAuthError(`Redis refused the credentials (${command}): ${code} (${hint})`, {
    cause: new RedisReplyError(code),
  });
}

/** A reply's code when it looks like one (`WRONGPASS`, `ERR`), else a neutral word. */
function codeOf(s: HandshakeSettings, reply: RedisReplyError): string {
  const code = reply.code;
  return /^[A-Z][A-Z_-]{0,31}$/.test(code) ? scrubFor(s, code) : "an error";
}

/** `text` with the client's password masked. */
function scrubFor(s: HandshakeSettings, text: string): string {
  return scrubSecret(text, s.password);
}
