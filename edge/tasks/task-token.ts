/**
 * Task tokens: a machine gets one per task it claims and must present it on every
 * post for that task. It names the job, the task, the attempt and the machine that
 * claimed it, signed with HMAC-SHA256 under a key derived from an edge-only secret
 * (WEBHOOK_SIGNING_KEY, the edge's master secret; never MACHINE_TOKEN, which every
 * machine holds and could sign with), so it cannot be forged by a machine, used for
 * another job or task, and the job object refuses it once the attempt has moved on.
 */
export interface TaskClaims {
  job_id: string;
  task_id: string;
  attempt: number;
  machine_id: string;
}

const encoder = new TextEncoder();

async function signingKey(edgeSecret: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(edgeSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  // A key of its own, apart from the webhook secrets derived from the same master.
  const derived = await crypto.subtle.sign("HMAC", base, encoder.encode("longscribe task token v2"));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    // A length base64 cannot have (`tt1.A.B`): a garbled token, not a server error.
    return null;
  }
}

export async function mintTaskToken(edgeSecret: string, claims: TaskClaims): Promise<string> {
  const payload = encoder.encode(JSON.stringify([claims.job_id, claims.task_id, claims.attempt, claims.machine_id]));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await signingKey(edgeSecret), payload));
  return `tt1.${base64url(payload)}.${base64url(mac)}`;
}

/** The claims of a genuine token, or null for anything forged, altered or malformed. */
export async function verifyTaskToken(edgeSecret: string, token: string): Promise<TaskClaims | null> {
  const [version, body, sig] = token.split(".");
  if (version !== "tt1" || !body || !sig) return null;
  const payload = fromBase64url(body);
  const mac = fromBase64url(sig);
  if (!payload || !mac) return null;
  const valid = await crypto.subtle.verify("HMAC", await signingKey(edgeSecret), mac, payload);
  if (!valid) return null;
  const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
  if (!Array.isArray(parsed) || parsed.length !== 4) return null;
  const [job_id, task_id, attempt, machine_id] = parsed as unknown[];
  if (typeof job_id !== "string" || typeof task_id !== "string" || typeof attempt !== "number" || typeof machine_id !== "string") return null;
  return { job_id, task_id, attempt, machine_id };
}
