import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from "openapi-typescript";

/**
 * Writes the OpenAPI document GET /openapi.json serves, as `npm start` serves it
 * (http://localhost:8787), and the TypeScript types openapi-typescript makes of
 * it, into a folder (default edge/openapi/generated, ignored by git):
 * openapi.json, which `npm run openapi:lint` lints, and api.d.ts, for
 * openapi-fetch (edge/openapi/client.test.ts). The Worker's app itself is asked
 * for the document, so the file is the served one, not a second description.
 *
 *   tsx scripts/openapi.ts [folder]
 */

// A computed specifier: the edge is type-checked for workerd (edge/tsconfig.json),
// and tsc following a literal one would check it again here as Node code.
const appModule = new URL("../edge/app.ts", import.meta.url).href;
const { app } = (await import(appModule)) as { app: { request(url: string, init: RequestInit, env: Record<string, string>): Promise<Response> } };

// readConfig refuses to run without these secrets; the document does not depend on them.
const env = { API_KEYS: "openapi-document-placeholder", WEBHOOK_SIGNING_KEY: "openapi-document-placeholder-signing-key" };
const response = await app.request("http://localhost:8787/openapi.json", {}, env);
if (response.status !== 200) throw new Error(`GET /openapi.json answered ${response.status}: ${await response.text()}`);
const document = (await response.json()) as OpenAPI3;

const folder = process.argv[2] ?? "edge/openapi/generated";
mkdirSync(folder, { recursive: true });
writeFileSync(join(folder, "openapi.json"), `${JSON.stringify(document, null, 2)}\n`);
// The API rather than the CLI: the CLI lints with redocly.yaml but not its ignore
// file, which is the lint's job (`npm run openapi:lint`), not the generator's.
// defaultNonNullable off: a request field with a default is optional to send
// (the document says so with `required`), and the types should agree.
const types = await openapiTS(document, { defaultNonNullable: false, silent: true });
writeFileSync(join(folder, "api.d.ts"), `${COMMENT_HEADER}${astToString(types)}`);
