import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type ConsoleMessage, type Page, type Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { buildWeb } from "../scripts/build-web.ts";
import { SseParser } from "../shared/sse.ts";
import { KEY, Stack } from "./reliability/stack.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, readJsonl, sharedPath } from "./support/shared-data.ts";

/**
 * The web page in a real browser (Debian's chromium, driven by playwright-core)
 * against the local stack: wrangler dev, the supervisor and a whisper-tiny
 * machine. It submits a ../shared/data clip, watches the progress bar move and
 * the transcript arrive, downloads SRT, uploads a local file, and fails on any
 * console error. Screenshots go to reports/web/.
 */
const CHROMIUM = "/usr/bin/chromium";
const need = missingShared("data/formats/excerpt.mp3", "data/formats/excerpt.jsonl", "data/speech/jfk/jfk.wav", "data/longform/en-20min.opus");
if (!existsSync(CHROMIUM)) console.warn(`skipped: ${CHROMIUM} not found; install Debian's chromium (apt-get install chromium), as .ci/run does`);
const SHOTS = join(REPO_ROOT, "reports", "web");

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const x = Number(v) / 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** What watching one job cost the page, from its submission until it showed the job completed. */
interface WatchFigures {
  seconds: number;
  /** The page's API requests in that time, by what they asked for. */
  requests: { job: number; transcript: number; events: number; other: number };
  /** The requests that watching the job takes (job, transcript, events), per minute. */
  watchPerMinute: number;
  /** For each segment, from its merge (when a separate client of the event stream got it) to its line in the page. */
  latencyMs: number[];
  /** The first line showed this long before the job showed completed. */
  firstLineLeadMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** When each segment (by start) came on the job's event stream, read here as a second client would. */
async function mergeTimes(api: string, id: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const response = await fetch(`${api}/v1/transcriptions/${id}/events`, {
    headers: { authorization: `Bearer ${KEY}`, accept: "text/event-stream" },
    signal: AbortSignal.timeout(200_000),
  });
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    for (const e of parser.push(decoder.decode(chunk.value, { stream: true }))) {
      if (e.event === "segments") for (const s of JSON.parse(e.data).segments as Array<{ start_sec: number }>) seen.set(String(s.start_sec), Date.now());
      if (e.event === "status" && /completed|failed|canceled/.test(e.data)) {
        await reader.cancel();
        return seen;
      }
    }
  }
  return seen;
}

/**
 * Watches the page watch a job: its API requests, when each transcript line
 * (by start) first showed and when the status changed, from a
 * MutationObserver in the page; the merge times from a client of our own.
 */
async function startProbe(page: Page, api: string) {
  const requests: Array<{ method: string; path: string; at: number }> = [];
  const onRequest = (r: Request) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith("/v1/")) requests.push({ method: r.method(), path: `${url.pathname}${url.search}`, at: Date.now() });
  };
  page.on("request", onRequest);
  await page.evaluate(() => {
    const probe = { lines: {} as Record<string, number>, status: {} as Record<string, number> };
    (window as unknown as { probe: typeof probe }).probe = probe;
    const list = document.querySelector("#segments")!;
    new MutationObserver(() => {
      for (const b of list.querySelectorAll<HTMLElement>(".seg")) probe.lines[b.dataset.start!] ??= Date.now();
    }).observe(list, { childList: true });
    const badge = document.querySelector("#job-status")!;
    new MutationObserver(() => (probe.status[badge.textContent ?? ""] ??= Date.now())).observe(badge, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  const submittedAt = Date.now();
  let merges: Promise<Map<string, number>> = Promise.resolve(new Map());
  return {
    /** Starts reading the job's events as a second client, once its id shows. */
    follow: (id: string) => {
      // A failure here shows as no latencies measured.
      merges = mergeTimes(api, id).catch(() => new Map());
    },
    finish: async (id: string): Promise<WatchFigures> => {
      page.off("request", onRequest);
      const { lines, status } = await page.evaluate(
        () => (window as unknown as { probe: { lines: Record<string, number>; status: Record<string, number> } }).probe,
      );
      const completedAt = status.completed ?? Number.NaN;
      const during = requests.filter((r) => r.at < completedAt);
      const job = `/v1/transcriptions/${id}`;
      const count = (test: (path: string) => boolean) => during.filter((r) => test(r.path)).length;
      const figures = {
        job: count((p) => p === job),
        transcript: count((p) => p.startsWith(`${job}/transcript`)),
        events: count((p) => p.startsWith(`${job}/events`)),
      };
      const seconds = (completedAt - submittedAt) / 1000;
      const merged = await merges;
      return {
        seconds,
        requests: { ...figures, other: during.length - figures.job - figures.transcript - figures.events },
        watchPerMinute: ((figures.job + figures.transcript + figures.events) * 60) / seconds,
        latencyMs: Object.entries(lines).flatMap(([start, at]) => (merged.has(start) ? [at - merged.get(start)!] : [])),
        firstLineLeadMs: completedAt - Math.min(...Object.values(lines)),
      };
    },
  };
}

const describeFigures = (f: WatchFigures) =>
  `${f.seconds.toFixed(1)} s watched; requests job ${f.requests.job}, transcript ${f.requests.transcript}, events ${f.requests.events} ` +
  `(${f.watchPerMinute.toFixed(1)} per minute), other ${f.requests.other}; merge → line median ${median(f.latencyMs).toFixed(0)} ms, ` +
  `max ${Math.max(...f.latencyMs).toFixed(0)} ms over ${f.latencyMs.length} segments; first line ${(f.firstLineLeadMs / 1000).toFixed(1)} s before completed`;

describe.skipIf(need.missing || !existsSync(CHROMIUM))("the web page, in Chromium, against the local stack", () => {
  let stack: Stack;
  let media: MediaServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  let streamed: WatchFigures | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildWeb();
    media = await startMediaServer({
      "/excerpt.mp3": { file: sharedPath("data", "formats", "excerpt.mp3") },
      "/long.opus": { file: sharedPath("data", "longform", "en-20min.opus") },
    });
    // Batch 1: a post per micro chunk, so the bar moves in steps a person (and this test) can see.
    stack = await Stack.start({
      model: packagedModelDir("tiny")!,
      maxMachines: 1,
      leaseSec: 20,
      idleExitSec: 60,
      audioSecPerMachine: 3600,
      machineEnv: { WHISPER_BATCH: "1" },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
    page.on("console", (m: ConsoleMessage) => m.type() === "error" && consoleErrors.push(`${m.text()} (${m.location().url})`));
    page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await media?.close();
  });

  it("submits a link, shows the progress bar moving and the transcript growing, and downloads SRT", async () => {
    await page.goto(`${stack.api}/`);
    await expect(page.title()).resolves.toContain("longscribe");
    // Every form control has a label a screen reader can read.
    const unlabelled = await page.$$eval("input, select", (els) =>
      els.filter((e) => (e as HTMLInputElement).labels?.length === 0 && !e.getAttribute("aria-label")).map((e) => e.id),
    );
    expect(unlabelled).toEqual([]);
    await page.screenshot({ path: join(SHOTS, "1-empty.png"), fullPage: true });

    // The key, by keyboard: typed, then Enter submits its form; it is kept for later visits.
    await page.focus("#api-key");
    await page.keyboard.type(KEY);
    await page.keyboard.press("Enter");
    await expect(page.locator("#key-status").textContent()).resolves.toContain("Saved");
    expect(await page.evaluate(() => localStorage.getItem("longscribe.api_key"))).toBe(KEY);

    // A bad link is refused in words, before and by the API.
    await page.fill("#audio-url", "ftp://example.com/a.mp3");
    await page.click("#submit");
    await expect(page.locator("#form-error").textContent()).resolves.toContain("http:// or https://");
    await page.fill("#audio-url", `${media.url("/missing.mp3")}`);
    await page.click("#submit");
    await page.waitForFunction(() => /HTTP 404/.test(document.querySelector("#form-error")?.textContent ?? ""), null, { timeout: 20_000 });
    // The browser logs that refused request itself; nothing else may be logged.
    expect(consoleErrors).toEqual([expect.stringMatching(/status of 422 .*\/v1\/transcriptions\)$/)]);
    consoleErrors.length = 0;

    await page.fill("#audio-url", media.url("/excerpt.mp3"));
    await page.selectOption("#language", "en");
    await page.focus("#audio-url");
    const probe = await startProbe(page, stack.api);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#job:not([hidden])");
    const jobId = (await page.locator("#job-id").textContent())!;
    probe.follow(jobId);

    const seen = new Set<number>();
    const segmentCounts = new Set<number>();
    let shotMidway = false;
    const deadline = Date.now() + 150_000;
    for (;;) {
      const { value, status, segments } = await page.evaluate(() => ({
        value: Number(document.querySelector("#progress")?.getAttribute("aria-valuenow")),
        status: document.querySelector("#job-status")?.textContent ?? "",
        segments: document.querySelectorAll("#segments li").length,
      }));
      seen.add(value);
      segmentCounts.add(segments);
      if (!shotMidway && value > 0 && value < 100) {
        await page.screenshot({ path: join(SHOTS, "2-progress.png"), fullPage: true });
        shotMidway = true;
      }
      if (status === "completed") break;
      // "" only before the first poll has drawn the panel.
      expect(["", "queued", "planning", "running"], `status ${status}: ${await page.locator("#job-error").textContent()}`).toContain(status);
      if (Date.now() > deadline) throw new Error(`not completed in time; progress seen ${[...seen].join(", ")}\n${stack.logs().slice(-4000)}`);
      await page.waitForTimeout(250);
    }
    // The bar moved: at least one value strictly between empty and full, then full.
    expect(
      [...seen].some((v) => v > 0 && v < 100),
      `progress values seen: ${[...seen].join(", ")}`,
    ).toBe(true);
    expect(seen.has(100)).toBe(true);
    // The transcript grew while the job ran: more than one non-zero count was shown.
    expect([...segmentCounts].filter((n) => n > 0).length, `segment counts seen: ${[...segmentCounts].join(", ")}`).toBeGreaterThan(1);
    await page.waitForSelector("#downloads:not([hidden])");
    await page.waitForSelector('#segments[aria-busy="false"]', { timeout: 10_000 });
    await expect(page.locator("#progress-text").textContent()).resolves.toMatch(/^Done: 1:10 of audio/);
    await page.screenshot({ path: join(SHOTS, "3-done.png"), fullPage: true });

    // The lines came from the live events: while the job ran, the page read the job once and
    // opened one stream, and never fetched the transcript; lines showed before it completed.
    streamed = await probe.finish(jobId);
    expect(streamed.requests, describeFigures(streamed)).toMatchObject({ job: 1, transcript: 0, events: 1 });
    expect(streamed.firstLineLeadMs).toBeGreaterThan(0);
    expect(streamed.latencyMs.length).toBeGreaterThan(1);

    // The transcript is the recording's speech.
    const shown = await page.$$eval("#segments .seg span", (spans) => spans.map((s) => s.textContent ?? "").join(" "));
    const reference = readJsonl<{ text: string }>(sharedPath("data", "formats", "excerpt.jsonl"))
      .map((u) => u.text)
      .join(" ");
    expect(wordErrorRate([{ reference, hypothesis: shown }]).wer).toBeLessThan(0.5);

    // A line plays the recording from its start.
    const second = page.locator("#segments .seg").nth(1);
    const start = Number(await second.getAttribute("data-start"));
    await second.click();
    await page.waitForFunction((s) => Math.abs((document.querySelector("#player") as HTMLAudioElement).currentTime - s) < 1.5, start, { timeout: 10_000 });

    // SRT download: a file named for the job, with numbered cues.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('#downloads button[data-format="srt"]')]);
    expect(download.suggestedFilename()).toMatch(/^tr_[0-9a-z]+\.srt$/);
    const srt = readFileSync((await download.path())!, "utf8");
    expect(srt).toMatch(/^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S/);
    expect(srt.split("\n\n").filter((c) => c.trim()).length).toBe(await page.locator("#segments li").count());

    // Contrast of the text people read, against what it sits on, in both colour schemes.
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      const pairs = await page.evaluate(() => {
        const bg = (el: Element | null): string => {
          for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") return c;
          }
          return getComputedStyle(document.body).backgroundColor;
        };
        return ["body", "label", ".hint", "#submit", ".badge", ".seg span", ".seg time", "nav a"].map((sel) => {
          const el = document.querySelector(sel)!;
          return { sel, fg: getComputedStyle(el).color, bg: bg(el) };
        });
      });
      for (const p of pairs) expect(contrast(p.fg, p.bg), `${colorScheme}: ${p.sel}: ${p.fg} on ${p.bg}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: "light" });
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  it("polls as before when the server has no live events, and says what each way costs", async () => {
    // An older server: the events route answers 404.
    await page.route("**/v1/transcriptions/*/events", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ error: { code: "not_found", message: "no route" } }) }),
    );
    try {
      await page.goto(`${stack.api}/`);
      await page.fill("#audio-url", media.url("/excerpt.mp3"));
      await page.selectOption("#language", "en");
      const probe = await startProbe(page, stack.api);
      await page.click("#submit");
      await page.waitForSelector("#job:not([hidden])");
      const jobId = (await page.locator("#job-id").textContent())!;
      probe.follow(jobId);
      await page.waitForFunction(() => document.querySelector("#job-status")?.textContent === "completed", null, { timeout: 150_000 });
      await page.waitForSelector('#segments[aria-busy="false"]', { timeout: 10_000 });
      expect(await page.locator("#segments li").count()).toBeGreaterThan(1);
      const polled = await probe.finish(jobId);
      expect(polled.requests.events).toBe(1);
      expect(polled.requests.job).toBeGreaterThan(3);
      expect(polled.requests.transcript).toBeGreaterThan(0);
      // Figures for the note: the same 70 s excerpt watched both ways.
      console.log(`web page watching a job, polling (events route 404): ${describeFigures(polled)}`);
      if (streamed) console.log(`web page watching a job, live events: ${describeFigures(streamed)}`);
    } finally {
      await page.unroute("**/v1/transcriptions/*/events");
    }
    // The browser logs the refused stream itself; nothing else may be logged.
    expect(consoleErrors.filter((e) => !/status of 404 .*\/events\)$/.test(e))).toEqual([]);
    consoleErrors.length = 0;
  }, 180_000);

  it("uploads a file from this computer (local mode) and transcribes it", async () => {
    await page.goto(`${stack.api}/`);
    await page.check("#src-file");
    await page.setInputFiles("#audio-file", sharedPath("data", "speech", "jfk", "jfk.wav"));
    await page.click("#submit");
    await page.waitForSelector("#job:not([hidden])");
    await page.waitForFunction(() => document.querySelector("#job-status")?.textContent === "completed", null, { timeout: 120_000 });
    // The final transcript is fetched once the completed status is drawn.
    await page.waitForSelector('#segments[aria-busy="false"]', { timeout: 10_000 });
    const text = (await page.locator("#segments").textContent()) ?? "";
    expect(text.toLowerCase()).toContain("ask not what your country can do for you");
    expect(await page.locator("#job-source").textContent()).toContain("/v1/uploads/up_");
    // The recent list shows both jobs, newest first.
    await page.waitForFunction(() => document.querySelectorAll("#recent li").length >= 2);
    await expect(page.locator("#recent li").first().textContent()).resolves.toContain("up_");
    expect(consoleErrors).toEqual([]);
  }, 180_000);

  it("cancels a running job from its Cancel button and keeps what was transcribed", async () => {
    await page.goto(`${stack.api}/`);
    await page.fill("#audio-url", media.url("/long.opus"));
    await page.click("#submit");
    await page.waitForFunction(() => Number(document.querySelector("#progress")?.getAttribute("aria-valuenow")) > 0, null, { timeout: 90_000 });
    await page.click("#cancel");
    await page.waitForFunction(() => document.querySelector("#job-status")?.textContent === "canceled", null, { timeout: 30_000 });
    await expect(page.locator("#progress-text").textContent()).resolves.toContain("Canceled");
    expect(await page.locator("#cancel").isHidden()).toBe(true);
    expect(await page.locator("#downloads").isHidden()).toBe(true);
    // The machine hears of it at its next heartbeat or segment post, and stops.
    const id = (await page.locator("#job-id").textContent())!;
    const stopped = new RegExp(`(stopping|stopped) ${id}\\.r\\d+`);
    for (let i = 0; i < 150 && !stopped.test(stack.logs()); i++) await page.waitForTimeout(200);
    expect(stack.logs()).toMatch(stopped);
    expect(consoleErrors).toEqual([]);
  }, 150_000);

  it("serves the API reference at /docs from its own assets", async () => {
    await page.goto(`${stack.api}/docs`);
    await page.waitForSelector(".swagger-ui .info .title", { timeout: 30_000 });
    await expect(page.locator(".swagger-ui .info .title").textContent()).resolves.toContain("longscribe");
    await expect(page.locator(".opblock-tag-section").count()).resolves.toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: join(SHOTS, "4-docs.png") });
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
