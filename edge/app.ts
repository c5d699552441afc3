import { Hono } from "hono";
import type { AppEnv } from "./app-env.ts";
import { requireApiKey } from "./auth.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { createTranscription } from "./routes/create-transcription.ts";
import {
  cancelTranscription,
  deleteTranscription,
  getTranscript,
  getTranscription,
  listTranscriptions,
} from "./routes/read-transcriptions.ts";
import { claimTasks, completeTask, failTask, heartbeatTask, postTaskSegments, requireMachine, requireTask } from "./routes/machine.ts";

export const app = new Hono<AppEnv>();

app.onError((error) => errorResponse(error));
app.notFound((c) => errorResponse(new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));

app.get("/healthz", (c) => c.json({ ok: true }));

app.use("/v1/transcriptions", requireApiKey);
app.use("/v1/transcriptions/*", requireApiKey);
app.post("/v1/transcriptions", createTranscription);
app.get("/v1/transcriptions", listTranscriptions);
app.get("/v1/transcriptions/:id", getTranscription);
app.delete("/v1/transcriptions/:id", deleteTranscription);
app.post("/v1/transcriptions/:id/cancel", cancelTranscription);
app.get("/v1/transcriptions/:id/transcript", getTranscript);

// Machines: the shared machine token to claim, then each task's own token.
app.post("/v1/machine/claim", requireMachine, claimTasks);
app.use("/v1/machine/tasks/:task_id/*", requireTask);
app.post("/v1/machine/tasks/:task_id/heartbeat", heartbeatTask);
app.post("/v1/machine/tasks/:task_id/segments", postTaskSegments);
app.post("/v1/machine/tasks/:task_id/complete", completeTask);
app.post("/v1/machine/tasks/:task_id/fail", failTask);
