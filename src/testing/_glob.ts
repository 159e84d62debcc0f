/**
 * Redis glob patterns (`SCAN MATCH`, `KEYS`) as RegExps over latin1 keys,
 * for the fake Redis.
 *
 * Internal.
 *
 * @module
 */
import { enc, latin1 } from "./resp_wire.ts";

/**
 * A Redis glob (`*`, `?`, `[abc]`, `[^a]`, `\x`) as a RegExp over latin1 keys.
 * The pattern arrives as UTF-8 text, so it is converted to latin1 bytes first.
 */
export function globToRegExp(glob: string): RegExp {
  const g = latin1(enc.encode(glob));
  let re = "^";
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "\\" && i + 1 < g.length) re += escapeRe(g[++i]);
    else if (c === "[") {
      const close = g.indexOf("]", i + 2);
      if (close === -1) {
        re += "\\[";
      } else {
        let body = g.slice(i + 1, close);
        const negate = body.startsWith("^");
        if (negate) body = body.slice(1);
        re += `[${negate ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`;
        i = close;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(re + "$");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
