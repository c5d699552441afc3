import type { RouteConfig } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TranscriptJson } from "../../shared/api.ts";
import { API_ERROR_CODES, JOB_ERROR_CODES } from "../../shared/error-codes.ts";
import { renderTranscript } from "../../shared/formats/render.ts";
import type { Segment } from "../../shared/segment.ts";
import { app } from "../app.ts";
import { call } from "../test-helpers.ts";
import { ROUTES, WEBHOOKS } from "./routes.ts";

interface Operation {
  operationId?: string;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: unknown;
  responses: Record<string, unknown>;
  security?: unknown[];
}
interface Doc {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { description?: string; properties?: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
}

async function document(): Promise<Doc> {
  const r = await call("GET", "/openapi.json", { key: null });
  expect(r.status).toBe(200);
  return (await r.json()) as Doc;
}

/** Every (zod schema, example) pair a route declares: bodies, responses, and examples kept in a schema's own metadata. */
function examplePairs(route: RouteConfig): Array<{ where: string; schema: z.ZodType; value: unknown }> {
  const pairs: Array<{ where: string; schema: z.ZodType; value: unknown }> = [];
  const media = (
    where: string,
    content: Record<string, { schema?: unknown; example?: unknown; examples?: Record<string, { value: unknown }> }> | undefined,
  ) => {
    for (const [type, m] of Object.entries(content ?? {})) {
      const schema = m.schema as z.ZodType;
      if (!(schema instanceof z.ZodType)) continue;
      const own = z.globalRegistry.get(schema)?.example;
      if (own !== undefined) pairs.push({ where: `${where} ${type} (schema example)`, schema, value: own });
      if (m.example !== undefined) pairs.push({ where: `${where} ${type}`, schema, value: m.example });
      for (const [name, e] of Object.entries(m.examples ?? {})) pairs.push({ where: `${where} ${type} example ${name}`, schema, value: e.value });
    }
  };
  const label = `${route.method.toUpperCase()} ${route.path}`;
  media(`${label} request`, route.request?.body?.content as never);
  for (const [status, response] of Object.entries(route.responses)) media(`${label} ${status}`, (response as { content?: never }).content);
  for (const part of ["params", "query", "headers"] as const) {
    const schema = route.request?.[part];
    if (!(schema instanceof z.ZodObject)) continue;
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const own = z.globalRegistry.get(field)?.example;
      if (own !== undefined) pairs.push({ where: `${label} ${part}.${name}`, schema: field, value: own });
    }
  }
  return pairs;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document of every route the app serves, with its security", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers[0]!.url).toMatch(/^https?:\/\//);
    const served = app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, "{$1}") }));
    expect(served.length).toBeGreaterThanOrEqual(Object.keys(ROUTES).length);
    for (const r of served) expect(doc.paths[r.path]?.[r.method], `${r.method} ${r.path} is served but not documented`).toBeDefined();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) expect(served, `${method} ${path} is documented but not served`).toContainEqual({ method, path });
    }
    expect(doc.paths["/v1/transcriptions"]!.post!.security).toEqual([{ ApiKey: [] }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["ApiKey", "MachineToken", "TaskToken"]);
    // Path parameters are named as in the route.
    expect(doc.paths["/v1/transcriptions/{id}/transcript"]!.get!.parameters!.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      "path:id",
      "query:format",
      "query:partial",
    ]);
  });

  it("names every operation by its ROUTES key and states its security, an empty list for a public one", async () => {
    const doc = await document();
    const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods));
    expect(operations.map((o) => o.operationId).sort()).toEqual(Object.keys(ROUTES).sort());
    for (const o of operations) expect(o.security, `${o.operationId} states no security`).toBeDefined();
    expect(doc.paths["/healthz"]!.get!.security).toEqual([]);
    for (const hook of Object.values(doc.webhooks)) expect(hook.post).toMatchObject({ operationId: expect.any(String), security: [] });
  });

  it("names every error code the API answers with and every code a failed job carries", async () => {
    const doc = await document();
    const error = doc.components.schemas.Error!;
    const codeEnum = (error.properties!.error as { properties: { code: { enum: string[] } } }).properties.code.enum.sort();
    expect(codeEnum).toEqual(Object.keys(API_ERROR_CODES).sort());
    for (const code of Object.keys(API_ERROR_CODES)) expect(error.description).toContain(`\`${code}\``);
    for (const code of Object.keys(JOB_ERROR_CODES)) expect(doc.components.schemas.Transcription!.description).toContain(`\`${code}\``);
    // Each route's error answers sit under the status their codes are answered with.
    const create = doc.paths["/v1/transcriptions"]!.post!.responses;
    expect(Object.keys(create).sort()).toEqual(["200", "202", "400", "401", "404", "409", "410", "413", "422", "429", "500", "503"]);
  });

  it("describes the webhook events, their payload and the signature headers", async () => {
    const doc = await document();
    expect(Object.keys(doc.webhooks).sort()).toEqual(["transcription.canceled", "transcription.completed", "transcription.failed", "transcription.progress"]);
    const hook = doc.webhooks["transcription.completed"]!.post!;
    expect(
      hook
        .parameters!.filter((p) => p.in === "header")
        .map((p) => p.name)
        .sort(),
    ).toEqual(["webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(JSON.stringify(hook.requestBody)).toContain("#/components/schemas/WebhookEvent");
  });

  it("has examples, and every example validates against the schema the API validates with", () => {
    const pairs = [...Object.values(ROUTES), ...WEBHOOKS].flatMap(examplePairs);
    // Bodies, answers, errors and parameters all carry examples.
    expect(pairs.length).toBeGreaterThan(60);
    for (const { where, schema, value } of pairs) {
      const result = schema.safeParse(value);
      expect(result.success, `${where}: ${result.success ? "" : JSON.stringify(result.error.issues)}`).toBe(true);
    }
    // And a broken example would be caught: the check is not vacuous.
    const create = examplePairs(ROUTES.createTranscription).find((p) => p.where.includes("request"))!;
    expect(create.schema.safeParse({ ...(create.value as object), audio_url: 7 }).success).toBe(false);
  });

  it("describes the transcript JSON the API actually renders", async () => {
    const segments: Segment[] = [
      {
        start_sec: 0.5,
        end_sec: 2.25,
        text: " Hello there.",
        language: "en",
        avg_logprob: -0.2,
        no_speech_prob: 0.01,
        words: [{ word: " Hello", start_sec: 0.5, end_sec: 1, probability: 0.9 }],
      },
      { start_sec: 2.5, end_sec: 4, text: " Again.", language: "en", avg_logprob: -0.3, no_speech_prob: 0.02, compression_ratio: 1.1 },
    ];
    for (const format of ["json", "verbose_json"] as const) {
      let text = "";
      for await (const piece of renderTranscript(
        format,
        { language: "en", audio_duration_sec: 5, usage: { machine_sec: 1, cost_usd: 0.001, speedup: 5 } },
        async function* () {
          yield* segments;
        },
      ))
        text += piece;
      expect(TranscriptJson.safeParse(JSON.parse(text)).success, format).toBe(true);
    }
  });
});

describe("uploads outside local mode", () => {
  it("are on wherever the deployment has its upload bucket, and /healthz says so", async () => {
    expect(await (await call("GET", "/healthz", { key: null })).json()).toEqual({ ok: true, uploads: true });
  });
});

describe("GET /docs", () => {
  it("serves the interactive reference over /openapi.json from this Worker's own assets", async () => {
    const r = await call("GET", "/docs", { key: null });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    const html = await r.text();
    expect(html).toContain('url: "/openapi.json"');
    expect(html).toContain('src="/vendor/swagger-ui/swagger-ui-bundle.js"');
    expect(html).not.toContain("http"); // nothing from a CDN
  });
});
