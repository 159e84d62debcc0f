/** The temp file of an atomic write: beside the target (same folder, same filesystem), unique per write. */
export function tempPathFor(path: string): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return `${path}.${Date.now().toString(36)}-${rand}.tmp`;
}
