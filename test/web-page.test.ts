import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { buildWeb } from "../scripts/build-web.ts";
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

describe.skipIf(need.missing || !existsSync(CHROMIUM))("the web page, in Chromium, against the local stack", () => {
  let stack: Stack;
  let media: MediaServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

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
    await page.keyboard.press("Enter");
    await page.waitForSelector("#job:not([hidden])");

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
