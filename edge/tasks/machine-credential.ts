import { openToken, signToken, type TokenKind } from "./signed-token.ts";

/**
 * A machine's own credential, minted by the fleet for each machine it creates
 * and put in that machine's env (MACHINE_CREDENTIAL) at creation. It names the
 * provider and the machine's name, chosen before the create call because the
 * provider's id for the machine is known only after it. The queue binds the
 * name to the provider's id (fleet.ts), so a machine may claim and exit only as
 * itself, and a machine that is gone is shut out: a machine whose media parser
 * was taken over can neither pose as another machine, nor retire one, nor
 * outlive its own machine. Machines the fleet did not start (run by hand) use
 * the shared MACHINE_TOKEN, when the operator sets one.
 */
export interface MachineCredential {
  provider: string;
  name: string;
}

const MACHINE_CREDENTIAL: TokenKind = { version: "mc1", purpose: "longscribe machine credential v1" };

export function isMachineCredential(token: string): boolean {
  return token.startsWith(`${MACHINE_CREDENTIAL.version}.`);
}

export async function mintMachineCredential(edgeSecret: string, credential: MachineCredential): Promise<string> {
  return signToken(edgeSecret, MACHINE_CREDENTIAL, [credential.provider, credential.name]);
}

export async function verifyMachineCredential(edgeSecret: string, token: string): Promise<MachineCredential | null> {
  const fields = await openToken(edgeSecret, MACHINE_CREDENTIAL, token);
  if (fields?.length !== 2) return null;
  const [provider, name] = fields;
  if (typeof provider !== "string" || typeof name !== "string") return null;
  return { provider, name };
}

/** Credentials in a provider's error text (an API that echoes the request's env) are cut out before logging. */
export function redactCredentials(text: string): string {
  return text.replace(/mc1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, "[redacted]");
}
