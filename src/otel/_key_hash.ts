/**
 * The key hash spans carry instead of the key: 64-bit FNV-1a over the key's
 * UTF-16 code units (equal to FNV-1a of the bytes for ASCII keys), as 16 hex
 * digits. Unseeded, so one key has the same hash in every process and
 * runtime (to find a key's spans across a fleet), and it keeps the keys
 * themselves (user ids, emails) out of traces.
 *
 * @module
 */

/** The hash of `key` (16 lowercase hex digits). */
export function keyHash(key: string): string {
  // Four 16-bit limbs, low first; offset basis 0xcbf29ce484222325.
  let a0 = 0x2325, a1 = 0x8422, a2 = 0x9ce4, a3 = 0xcbf2;
  for (let i = 0; i < key.length; i++) {
    a0 ^= key.charCodeAt(i);
    // h × (2^40 + 0x1b3) mod 2^64: h × 0x1b3, plus h shifted by 40 bits (2 limbs and 8 bits).
    const t0 = a0 * 0x1b3;
    const t1 = a1 * 0x1b3 + (t0 >>> 16);
    const t2 = a2 * 0x1b3 + (a0 << 8) + (t1 >>> 16);
    const t3 = a3 * 0x1b3 + (a1 << 8) + (t2 >>> 16);
    a0 = t0 & 0xffff;
    a1 = t1 & 0xffff;
    a2 = t2 & 0xffff;
    a3 = t3 & 0xffff;
  }
  return hex(a3) + hex(a2) + hex(a1) + hex(a0);
}

function hex(limb: number): string {
  return limb.toString(16).padStart(4, "0");
}
