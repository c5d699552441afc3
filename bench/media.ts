/**
 * Media pipeline figures, one run on this machine (`npm run bench:media`):
 * per container, for range 6 (1800–2100 s) of an hour-long file: bytes read from
 * the origin vs the range's share of the file, time to the first chunk, decode
 * throughput (× real time), and the peak RSS of a child process that streams a
 * 60-minute range to a consumer that reads slowly.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { statSync } from "node:fs";
import { hourLong, LONG_FORMATS } from "../test/support/media-files.ts";
import { startMediaServer } from "../test/support/media-server.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { MediaSource } from "../gpu-machine/media/media-source.ts";
import { microChunks } from "../gpu-machine/media/micro-chunks.ts";

if (process.argv[2] === "--rss-child") {
  const [url] = process.argv.slice(3) as [string];
  const source = await MediaSource.open(url);
  let n = 0;
  for await (const c of microChunks(await source.stream(0, 3600), { rangeIndex: 0 })) {
    n += c.samples.length;
    await new Promise((r) => setTimeout(r, 5)); // a consumer slower than the decoder
  }
  await source.close();
  process.stdout.write(JSON.stringify({ samples: n, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const bins = resolveBinaries();
const files: Record<string, { file: string }> = {};
for (const f of LONG_FORMATS) files[`/hour.${f}`] = { file: await hourLong(f) };
const server = await startMediaServer(files);
console.log(`ffmpeg: ${bins.source} (${bins.ffmpeg})`);
console.log("format | bytes read / share | first chunk ms | decode × real time");
for (const f of LONG_FORMATS) {
  const path = `/hour.${f}`;
  const probe = await MediaSource.open(server.url(path));
  const info = await probe.probe();
  await probe.close();
  server.reset();
  const t0 = performance.now();
  const source = await MediaSource.open(server.url(path), { known: { container: info.container, durationSec: info.durationSec!, channels: info.channels } });
  let first = -1;
  for await (const c of microChunks(await source.stream(1800, 2100), { rangeIndex: 6 })) {
    if (first < 0) first = performance.now() - t0;
    void c;
  }
  const secs = (performance.now() - t0) / 1000;
  await source.close();
  const share = (statSync(files[path]!.file).size * 300) / info.durationSec!;
  console.log(`${f} | ${(server.bytesSent(path) / share).toFixed(2)} | ${first.toFixed(0)} | ${(300 / secs).toFixed(0)}`);
}
const { stdout: out } = await promisify(execFile)(process.execPath, ["--import", "tsx", "bench/media.ts", "--rss-child", server.url("/hour.flac")], {
  encoding: "utf8",
});
console.log(`60-minute FLAC range streamed to a slow consumer: ${out}`);
await server.close();
