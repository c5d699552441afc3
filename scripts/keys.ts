import { keyIdOf } from "../shared/ids.ts";
import { deriveWebhookSecret } from "../shared/webhook-signing.ts";
import { randomToken, readDevVars, writeDevVars } from "./dev-vars.ts";

const USAGE = `usage: npm run keys -- new [--write-dev-vars]

Makes a new API key and prints it with its webhook signing secret. The secret
is shown only here: store it where your webhook receiver can read it.

  --write-dev-vars   also add the key to API_KEYS in .dev.vars (local mode)

The signing secret is derived from WEBHOOK_SIGNING_KEY, read from the
environment or from .dev.vars. In production, add the key to the API_KEYS
secret (comma-separated) with \`wrangler secret put API_KEYS\`.`;

async function main(args: string[]): Promise<number> {
  if (args[0] !== "new" || args.slice(1).some((a) => a !== "--write-dev-vars")) {
    console.error(USAGE);
    return 2;
  }
  const devVars = readDevVars(".dev.vars");
  const master = process.env.WEBHOOK_SIGNING_KEY ?? devVars.get("WEBHOOK_SIGNING_KEY");
  if (!master || master.length < 32) {
    console.error("WEBHOOK_SIGNING_KEY is not set (or shorter than 32 characters): set it in the environment or run `npm start` once to create .dev.vars.");
    return 1;
  }
  const apiKey = randomToken("lsk_");
  const secret = await deriveWebhookSecret(master, await keyIdOf(apiKey));
  if (args.includes("--write-dev-vars")) {
    const keys = (devVars.get("API_KEYS") ?? "").split(",").filter(Boolean);
    devVars.set("API_KEYS", [...keys, apiKey].join(","));
    writeDevVars(".dev.vars", devVars);
  }
  console.log(`API key:                ${apiKey}`);
  console.log(`Webhook signing secret: ${secret}`);
  if (!args.includes("--write-dev-vars")) console.log("Add the key to API_KEYS (comma-separated) to enable it.");
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
