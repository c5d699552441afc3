import type { PlanTask, RangeTask, Task } from "../../shared/protocol.ts";
import type { RunningConfig } from "../config.ts";
import type { ChunkEngine } from "../engine/whisper-engine.ts";
import type { FfmpegBinaries } from "../media/ffmpeg-binaries.ts";
import { MediaSource } from "../media/media-source.ts";
import { microChunks, type MicroChunk } from "../media/micro-chunks.ts";
import { plan, settleEdge } from "../media/plan.ts";
import { loadSpeechDetector } from "../media/speech-detector.ts";
import { transcribeChunks } from "../transcribe-chunks.ts";
import type { EdgeClient } from "./edge-client.ts";
import { RangeSpeakers } from "./range-speakers.ts";

export interface TaskContext {
  client: EdgeClient;
  engine: ChunkEngine;
  binaries: FfmpegBinaries;
  config: RunningConfig;
  signal: AbortSignal;
}

/** Probes the recording and posts its plan with the completion. */
export async function runPlan(task: PlanTask, ctx: TaskContext): Promise<void> {
  const started = performance.now();
  const result = await plan(task.media_url, {
    binaries: ctx.binaries,
    macroChunkSec: task.options.macro_chunk_sec,
    origin: { allowPrivate: ctx.config.ALLOW_PRIVATE_MEDIA },
    maxAudioSec: ctx.config.MAX_AUDIO_SEC,
    settleAtMost: ctx.config.PLAN_SETTLES_AT_MOST,
    signal: ctx.signal,
  });
  ctx.signal.throwIfAborted();
  await ctx.client.complete(task, {
    machine_sec: (performance.now() - started) / 1000,
    plan: {
      duration_sec: result.durationSec,
      ranges: result.ranges.map((r) => ({ start_sec: r.startSec, end_sec: r.endSec })),
      media: { container: result.container, duration_sec: result.durationSec, channels: result.channels, version: result.version },
      ...(result.unsettledSearchSec !== null ? { unsettled_search_sec: result.unsettledSearchSec } : {}),
    },
  });
}

/** Stops the chunk stream as soon as the task is called off. */
async function* untilAborted(chunks: AsyncIterable<MicroChunk>, signal: AbortSignal): AsyncGenerator<MicroChunk> {
  for await (const chunk of chunks) {
    signal.throwIfAborted();
    yield chunk;
  }
}

/** Streams exactly the range, posts segments batch by batch, then completes. */
export async function runRange(task: RangeTask, ctx: TaskContext): Promise<void> {
  const started = performance.now();
  const known = task.media ? { container: task.media.container, durationSec: task.media.duration_sec, channels: task.media.channels } : undefined;
  const source = await MediaSource.open(task.media_url, {
    binaries: ctx.binaries,
    origin: { expect: task.media?.version ?? null, allowPrivate: ctx.config.ALLOW_PRIVATE_MEDIA },
    ...(known ? { known } : {}),
  });
  let speakers: RangeSpeakers | null = null;
  try {
    const detector = await loadSpeechDetector(ctx.config);
    const { start_sec: startSec, end_sec: endSec } = await settledEdges(task, source, ctx);
    const stream = await source.stream(startSec, endSec);
    const maxSec = task.options.micro_chunk_sec;
    const chunks = microChunks(stream, { rangeIndex: task.range_index, minSec: Math.min(ctx.config.MICRO_CHUNK_MIN_SEC, maxSec / 2), maxSec, detector });
    speakers = task.options.diarize === true ? await RangeSpeakers.start(ctx.config) : null;
    let seq = 0;
    await transcribeChunks(
      untilAborted(speakers ? speakers.observe(chunks) : chunks, ctx.signal),
      ctx.engine,
      {
        language: task.language ?? "auto",
        task: task.options.task ?? "transcribe",
        batchSize: ctx.config.WHISPER_BATCH,
        beamSize: ctx.config.WHISPER_BEAM_SIZE,
        // Diarization splits segments where the speaker changes, at word boundaries.
        wordTimestamps: task.options.word_timestamps || speakers !== null,
        prompt: task.options.prompt ?? "",
        temperature: task.options.temperature ?? 0,
        signal: ctx.signal,
      },
      async (batch) => {
        ctx.signal.throwIfAborted();
        const segments = speakers ? await speakers.label(batch.segments, batch.throughSec, task.options.word_timestamps) : batch.segments;
        await ctx.client.segments(task, {
          seq: seq++,
          segments,
          audio_sec_done: Math.max(0, batch.throughSec - startSec),
          language_sec: batch.languageSec,
        });
      },
    );
    const found = speakers ? await speakers.finish() : null;
    ctx.signal.throwIfAborted();
    await ctx.client.complete(task, {
      machine_sec: (performance.now() - started) / 1000,
      // One label call per post, so the k-th call's segments are the post of seq k.
      ...(found ? { speakers: found.speakers, relabel: found.relabel.map((speakers, seq) => ({ seq, speakers })) } : {}),
    });
  } finally {
    await speakers?.close();
    await source.close();
  }
}

/** The range's edges: as handed out, or, where the plan left them, settled with its neighbours first. */
async function settledEdges(task: RangeTask, source: MediaSource, ctx: TaskContext): Promise<{ start_sec: number; end_sec: number }> {
  if (!task.settle) return { start_sec: task.start_sec, end_sec: task.end_sec };
  const total = task.media?.duration_sec ?? (await source.duration()).durationSec;
  const { search_sec: search } = task.settle;
  const [start, end] = await Promise.all([
    task.settle.start ? settleEdge(source, task.start_sec, total, search) : undefined,
    task.settle.end ? settleEdge(source, task.end_sec, total, search) : undefined,
  ]);
  ctx.signal.throwIfAborted();
  return ctx.client.settle(task, { ...(start !== undefined ? { start_sec: start } : {}), ...(end !== undefined ? { end_sec: end } : {}) });
}

export function runTask(task: Task, ctx: TaskContext): Promise<void> {
  switch (task.kind) {
    case "plan":
      return runPlan(task, ctx);
    case "range":
      return runRange(task, ctx);
    default:
      return task satisfies never;
  }
}
