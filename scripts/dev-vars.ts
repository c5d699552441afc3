import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Reads and writes wrangler's .dev.vars (KEY=value lines), the local stand-in for secrets. */

export function readDevVars(path: string): Map<string, string> {
  const vars = new Map<string, string>();
  if (!existsSync(path)) return vars;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!);
  }
  return vars;
}

export function writeDevVars(path: string, vars: Map<string, string>): void {
  const body = [...vars].map(([k, v]) => `${k}="${v}"`).join("\n");
  writeFileSync(path, `# Local secrets for wrangler dev; not committed.\n${body}\n`, { mode: 0o600 });
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomToken(prefix: string, length = 32): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return `${prefix}${out}`;
}
