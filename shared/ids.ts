const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/** `prefix_` + one base32 character per byte (5 bits of each). */
function idOf(prefix: string, bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
}

/** `prefix_` + 24 base32 characters (120 random bits). */
export function newId(prefix: string): string {
  return idOf(prefix, crypto.getRandomValues(new Uint8Array(24)));
}

/**
 * `prefix_` + 24 base32 characters taken from SHA-256 of `parts`: the same parts give
 * the same id (a retried request finds what its first attempt made), in the shape
 * `newId` makes.
 */
export async function derivedId(prefix: string, ...parts: string[]): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.map((p) => `${p.length}:${p}`).join(""))));
  return idOf(prefix, digest.subarray(0, 24));
}

/** What `newId(prefix)` makes, and nothing else. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[${ALPHABET}]{24}$`);
}

export const JOB_ID_PATTERN = idPattern("tr");

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A stable, non-secret name for an API key: its SHA-256, shortened. Jobs are owned by it. */
export async function keyIdOf(apiKey: string): Promise<string> {
  return `key_${(await sha256Hex(apiKey)).slice(0, 32)}`;
}
