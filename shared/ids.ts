const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/** `prefix_` + 24 base32 characters (120 random bits). */
export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
}

/**
 * `prefix_` + 24 base32 characters taken from SHA-256 of `parts`: the same parts give
 * the same id (a retried request finds what its first attempt made), in the shape
 * `newId` makes.
 */
export async function derivedId(prefix: string, ...parts: string[]): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.map((p) => `${p.length}:${p}`).join(""))));
  let out = "";
  for (const b of digest.subarray(0, 24)) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
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
