import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { Handler } from "hono";
import type { AppEnv } from "./app-env.ts";
import { requireApiKey } from "./auth.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { docsPage } from "./openapi/docs-page.ts";
import { describeApi, openApiDocument } from "./openapi/document.ts";
import { ROUTES } from "./openapi/routes.ts";
import { createTranscription } from "./routes/create-transcription.ts";
import { cancelTranscription, deleteTranscription, getTranscript, getTranscription, listTranscriptions } from "./routes/read-transcriptions.ts";
import { jobEvents } from "./routes/job-events.ts";
import { openAiAudio, openAiErrorShape } from "./routes/openai-audio.ts";
import { completeUpload, createUpload, deleteUpload, getUpload, putUploadPart, readUploadContent } from "./routes/uploads.ts";
import {
  claimTasks,
  machineExit,
  completeTask,
  failTask,
  heartbeatTask,
  postTaskSegments,
  requireMachine,
  requireTask,
  settleBoundaries,
} from "./routes/machine.ts";

export const app = new OpenAPIHono<AppEnv>();

app.onError((error) => errorResponse(error));
app.notFound((c) => errorResponse(new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));

/** Mounts handlers on a documented route: nothing is served that the OpenAPI document does not describe. */
function serve(route: RouteConfig, ...handlers: [Handler<AppEnv>, ...Handler<AppEnv>[]]): void {
  app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), route.path.replace(/\{(\w+)\}/g, ":$1"), ...handlers);
}

describeApi(app);
serve(ROUTES.health, (c) => c.json({ ok: true, uploads: c.env.UPLOADS !== undefined }));
serve(ROUTES.openapi, (c) => c.json(openApiDocument(app, c.env, c.req.url)));
serve(ROUTES.docs, (c) => c.html(docsPage()));

app.use("/v1/transcriptions", requireApiKey);
app.use("/v1/transcriptions/*", requireApiKey);
serve(ROUTES.createTranscription, createTranscription);
serve(ROUTES.listTranscriptions, listTranscriptions);
serve(ROUTES.getTranscription, getTranscription);
serve(ROUTES.deleteTranscription, deleteTranscription);
serve(ROUTES.cancelTranscription, cancelTranscription);
serve(ROUTES.getTranscript, getTranscript);
serve(ROUTES.getTranscriptionEvents, jobEvents);
// Uploads: the key's own; their content by signed URL, without a key (machines have none).
serve(ROUTES.createUpload, requireApiKey, createUpload);
serve(ROUTES.readUploadContent, readUploadContent);
serve(ROUTES.putUploadPart, requireApiKey, putUploadPart);
serve(ROUTES.getUpload, requireApiKey, getUpload);
serve(ROUTES.completeUpload, requireApiKey, completeUpload);
serve(ROUTES.deleteUpload, requireApiKey, deleteUpload);

// OpenAI's audio routes, with OpenAI's error shape.
app.use("/v1/audio/*", openAiErrorShape);
serve(ROUTES.openaiTranscriptions, requireApiKey, openAiAudio("transcribe"));
serve(ROUTES.openaiTranslations, requireApiKey, openAiAudio("translate"));

// Machines: their own credential (or the shared token) to claim, then each task's own token.
serve(ROUTES.claim, requireMachine, claimTasks);
serve(ROUTES.exit, requireMachine, machineExit);
app.use("/v1/machine/tasks/:task_id/*", requireTask);
serve(ROUTES.heartbeat, heartbeatTask);
serve(ROUTES.segments, postTaskSegments);
serve(ROUTES.complete, completeTask);
serve(ROUTES.fail, failTask);
serve(ROUTES.settleBoundaries, settleBoundaries);
