import { parseArgs } from "node:util";
import { readConfig } from "./config.ts";
import { MediaError } from "./media/errors.ts";
import { resolveBinaries } from "./media/ffmpeg-binaries.ts";
import { MediaSource } from "./media/media-source.ts";
import { microChunks } from "./media/micro-chunks.ts";
import { plan } from "./media/plan.ts";
import { loadSpeechDetector } from "./media/speech-detector.ts";

/**
 * `npm run machine -- <command>`: the machine's pieces, by hand.
 *   plan <url> [--macro-chunk-sec N]
 *   chunks <url> --from S --to E [--min-sec N] [--max-sec N] [--no-vad]
 */
const USAGE = `usage:
  npm run machine -- plan <url> [--macro-chunk-sec N]
  npm run machine -- chunks <url> --from S --to E [--min-sec N] [--max-sec N] [--no-vad]`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      "macro-chunk-sec": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "min-sec": { type: "string" },
      "max-sec": { type: "string" },
      "no-vad": { type: "boolean" },
    },
  });
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError("give exactly one media URL");
  if (!/^https?:\/\//i.test(url)) throw new UsageError(`${url} is not an http(s) URL; serve local files over HTTP (for example \`npx http-server\`) and pass that URL`);
  const config = readConfig({
    ...process.env,
    ...(values["macro-chunk-sec"] !== undefined ? { MACRO_CHUNK_SEC: values["macro-chunk-sec"] } : {}),
    ...(values["min-sec"] !== undefined ? { MICRO_CHUNK_MIN_SEC: values["min-sec"] } : {}),
    ...(values["max-sec"] !== undefined ? { MICRO_CHUNK_MAX_SEC: values["max-sec"] } : {}),
    ...(values["no-vad"] ? { VAD: "off" } : {}),
  });
  const binaries = resolveBinaries(config);

  switch (command) {
    case "plan": {
      const result = await plan(url, { binaries, macroChunkSec: config.MACRO_CHUNK_SEC });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    case "chunks": {
      const from = seconds(values.from, "--from");
      const to = seconds(values.to, "--to");
      if (!(to > from)) throw new UsageError("--to must be after --from");
      const detector = await loadSpeechDetector(config);
      const source = await MediaSource.open(url, { binaries });
      try {
        const stream = await source.stream(from, to);
        const chunks = microChunks(stream, { rangeIndex: 0, minSec: config.MICRO_CHUNK_MIN_SEC, maxSec: config.MICRO_CHUNK_MAX_SEC, detector });
        for await (const c of chunks) {
          const { samples: _, ...meta } = c;
          process.stdout.write(`${JSON.stringify({ ...meta, durationSec: (c.endSample - c.startSample) / 16000 })}\n`);
        }
        const s = stream.summary;
        process.stdout.write(
          `${JSON.stringify({ bytesRead: source.originStats.bytes, originRequests: source.originStats.requests, retries: source.originStats.retries, fileBytes: source.sizeBytes, samples: s.samples, shortfallSec: s.shortfallSec, firstSampleMs: s.firstSampleMs })}\n`,
        );
      } finally {
        await source.close();
      }
      return;
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "give a command");
  }
}

function seconds(v: string | undefined, name: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} needs a number of seconds ≥ 0`);
  return n;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof MediaError) {
    process.stderr.write(`error (${error.code}${error.retryable ? ", worth retrying later" : ""}): ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
