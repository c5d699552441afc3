import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env.ts";
import { publicBase } from "../config.ts";
import { WEBHOOKS } from "./routes.ts";

type Document = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;

/** What the document holds besides routes: the webhook events and the security schemes. */
export function describeApi(app: OpenAPIHono<AppEnv>): void {
  for (const hook of WEBHOOKS) app.openAPIRegistry.registerWebhook(hook);
  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key from `npm run keys -- new` (local: printed by `npm start`).",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "MachineToken", {
    type: "http",
    scheme: "bearer",
    description:
      "Machines only: the machine's own MACHINE_CREDENTIAL (given to each machine the edge creates; good only for that machine's id), or the deployment's MACHINE_TOKEN for a machine run by hand.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "TaskToken", {
    type: "http",
    scheme: "bearer",
    description: "The task_token a claim handed out; good for one task attempt.",
  });
}

/** The OpenAPI 3.1 document of the routes `app` serves, for the origin callers reach it at. */
export function openApiDocument(app: OpenAPIHono<AppEnv>, env: Env, requestUrl: string): Document {
  const base = publicBase(env, requestUrl);
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "longscribe",
      version: "1.0.0",
      description:
        'Transcription of long recordings. Send a link to a recording that may last hours, get a job id at once, then poll the job or receive a signed webhook, and download the transcript as JSON, text, SRT or VTT. Errors are JSON `{ "error": { "code", "message", "param"? } }`; see the Error schema for every code.',
    },
    servers: [{ url: base }],
    tags: [
      { name: "Transcriptions", description: "The public API." },
      { name: "OpenAI-compatible", description: "OpenAI's `/v1/audio/transcriptions` and `/v1/audio/translations`, for code written against them." },
      { name: "Uploads", description: "Files sent to the API itself, whole or in resumable parts, for recordings without a public URL." },
      { name: "Machines (internal)", description: "How GPU machines take and report work. Not for API clients." },
      { name: "Service", description: "Liveness, this document and its reference page; no key needed." },
    ],
  });
}
