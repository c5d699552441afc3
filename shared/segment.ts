import { z } from "zod";

/** Seconds on the recording's absolute timeline. */
const Seconds = z.number().finite().nonnegative();

/**
 * Who speaks, with diarization: as a machine posts it, the speaker's id local to
 * its range ("0", "1", …); as the transcript serves it, the job's label ("S1", …).
 */
const Speaker = z.string().min(1).max(32);

export const Word = z.strictObject({
  word: z.string().max(200),
  start_sec: Seconds,
  end_sec: Seconds,
  probability: z.number().min(0).max(1),
  speaker: Speaker.optional(),
});
export type Word = z.infer<typeof Word>;

/**
 * One transcribed segment as a machine posts it and as the transcript serves it.
 * Timestamps are absolute (seconds from the start of the recording), never
 * relative to the range or chunk that produced them.
 */
export const Segment = z
  .strictObject({
    start_sec: Seconds,
    end_sec: Seconds,
    text: z.string().max(8_000),
    language: z.string().min(2).max(8),
    avg_logprob: z.number().finite(),
    no_speech_prob: z.number().min(0).max(1),
    compression_ratio: z.number().finite().nonnegative().optional(),
    words: z.array(Word).max(2_000).optional(),
    speaker: Speaker.optional(),
  })
  .refine((s) => s.end_sec >= s.start_sec, { message: "end_sec must not be before start_sec", path: ["end_sec"] });
export type Segment = z.infer<typeof Segment>;
