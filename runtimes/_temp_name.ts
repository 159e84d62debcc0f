/**
 * Names of the temp files an atomic write leaves beside its target, and the
 * sweep that removes the ones a killed save left behind. Shared by the three
 * file stores; no runtime API here.
 *
 * @module
 */

/**
 * How old (by modification time) a temp file must be before a save removes
 * it. A younger one may belong to a save still running in another process on
 * the same path: removing it would fail that save's rename.
 */
export const STALE_TEMP_MS = 60_000;

/** The folder part of `path` with its trailing separator (`""` for a bare name), and the name. */
export function splitPath(path: string): { folder: string; name: string } {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1;
  return { folder: path.slice(0, cut), name: path.slice(cut) };
}

/** The folder to open, list or fsync for `path`. */
export function folderOf(path: string): string {
  const { folder } = splitPath(path);
  if (folder === "") return ".";
  // "/" stays "/"; "a/b/" becomes "a/b".
  return folder.length > 1 ? folder.slice(0, -1) : folder;
}

/**
 * The temp file of an atomic write: beside the target (same folder, same
 * filesystem), unique per write: `<path>.<time base 36>-<random hex>.tmp`.
 */
export function tempPathFor(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const hex = random[0].toString(16).padStart(8, "0") + random[1].toString(16).padStart(8, "0");
  return `${path}.${Date.now().toString(36)}-${hex}.tmp`;
}

/** Whether `entry` (a name in the target's folder) is a temp file that {@linkcode tempPathFor} made for `path`. */
export function isTempNameOf(path: string, entry: string): boolean {
  const { name } = splitPath(path);
  if (!entry.startsWith(name + ".") || !entry.endsWith(".tmp")) return false;
  // Letters and digits only between the dots: no other snapshot's name fits.
  return /^[0-9a-z]+-[0-9a-z]+$/.test(entry.slice(name.length + 1, -4));
}

/** The file operations the sweep needs, in a runtime's own API. */
export interface SweepFs {
  /** The names in a folder. */
  list(folder: string): Promise<string[]>;
  /** The modification time of a regular file (not following links), or undefined for anything else. */
  fileModifiedMs(path: string): Promise<number | undefined>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
}

/**
 * Removes the temp files of `path` that are older than {@linkcode STALE_TEMP_MS}:
 * what a save killed between creating its temp file and the rename left behind.
 * Nothing else in the folder is touched. Best effort: an error (a folder that
 * cannot be listed, a file already gone) never fails the save that sweeps.
 */
export async function removeStaleTemps(path: string, fs: SweepFs): Promise<void> {
  const { folder } = splitPath(path);
  let names: string[];
  try {
    names = await fs.list(folderOf(path));
  } catch {
    return;
  }
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const entry of names) {
    if (!isTempNameOf(path, entry)) continue;
    try {
      const modified = await fs.fileModifiedMs(folder + entry);
      if (modified !== undefined && modified < cutoff) await fs.remove(folder + entry);
    } catch {
      // Gone already, or not ours to remove: the save goes on.
    }
  }
}
