import type { MachineLabel, Metadata, TranscriptionOptions, WebhookEventType } from "../../shared/api.ts";
import type { Segment } from "../../shared/segment.ts";
import type { MediaHint, RangeSpeakerReport } from "../../shared/protocol.ts";
import type { RangeSpeaker } from "../../shared/speaker-clusters.ts";
import type { MediaInfo } from "../media-check.ts";
import type { JobState } from "./job-state.ts";
import { hasSchema } from "./schema.ts";
import type { RangeState } from "./range-state.ts";

/** Typed reads and writes of the job object's tables. No rules live here. */

export interface WebhookConfig {
  url: string;
  events: WebhookEventType[];
}

export interface JobRecord {
  id: string;
  owner: string;
  created_at: number;
  audio_url: string;
  /** An upload of the owner's, read at URLs signed per task, instead of a public audio_url. */
  upload_id: string | null;
  options: TranscriptionOptions;
  webhook: WebhookConfig | null;
  metadata: Metadata | null;
  media: MediaInfo;
  state: JobState;
  plan_machine_sec: number;
  /** What planned the job, for usage; null before it is planned (or planned before machines were labelled). */
  plan_machine: MachineLabel | null;
  last_progress_event_at: number | null;
  /** What the plan learned about the recording, passed to range tasks. */
  plan_media: MediaHint | null;
  /** With language "auto": the language the vote settled on once all ranges were done. */
  settled_language: string | null;
  /** Set when the plan left inner boundaries for range tasks to settle: how far each may move. */
  boundary_search_sec: number | null;
}

/** Where a transcript page ends: (start_sec, range_idx, seq, ord) of its last segment. */
export type SegmentKey = [number, number, number, number];

export type MergeLogEntry = { seq: number; kind: "segments" | "replace"; range_idx: number; start_sec: number; end_sec: number };

export interface RangeRecord {
  idx: number;
  start_sec: number;
  end_sec: number;
  /** False while the boundary before this range is where the plan let it fall (range-leases.ts settle). */
  start_settled: boolean;
  state: RangeState;
}

type JobRow = {
  id: string;
  owner: string;
  created_at: number;
  audio_url: string;
  upload_id: string | null;
  options: string;
  webhook: string | null;
  metadata: string | null;
  media: string;
  state: string;
  plan_machine_sec: number;
  plan_machine: string | null;
  last_progress_event_at: number | null;
  plan_media: string | null;
  settled_language: string | null;
  boundary_search_sec: number | null;
};

type SegmentRow = {
  range_idx: number;
  seq: number;
  ord: number;
  start_sec: number;
  end_sec: number;
  text: string;
  language: string;
  avg_logprob: number;
  no_speech_prob: number;
  compression_ratio: number | null;
  words: string | null;
  merge_seq: number;
  /** As the range's machine named it. */
  speaker: string | null;
  speaker_label: string | null;
};

export class JobStore {
  constructor(private readonly sql: SqlStorage) {}

  readJob(): JobRecord | null {
    if (!hasSchema(this.sql)) return null;
    const row = this.sql.exec<JobRow>("SELECT * FROM job WHERE one = 1").toArray()[0];
    if (!row) return null;
    return {
      ...row,
      options: JSON.parse(row.options) as TranscriptionOptions,
      webhook: row.webhook === null ? null : (JSON.parse(row.webhook) as WebhookConfig),
      metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Metadata),
      media: JSON.parse(row.media) as MediaInfo,
      state: JSON.parse(row.state) as JobState,
      plan_media: row.plan_media === null ? null : (JSON.parse(row.plan_media) as MediaHint),
      plan_machine: row.plan_machine === null ? null : (JSON.parse(row.plan_machine) as MachineLabel),
    };
  }

  setSettledLanguage(language: string): void {
    this.sql.exec("UPDATE job SET settled_language = ? WHERE one = 1", language);
  }

  /** Each range's own leading language by speech seconds. */
  rangeLanguages(): Array<{ range_idx: number; language: string; sec: number }> {
    return this.sql
      .exec<{ range_idx: number; language: string; sec: number }>(
        `SELECT range_idx, language, sec FROM range_languages r
         WHERE sec = (SELECT MAX(sec) FROM range_languages WHERE range_idx = r.range_idx) ORDER BY range_idx`,
      )
      .toArray();
  }

  setPlanMedia(media: MediaHint): void {
    this.sql.exec("UPDATE job SET plan_media = ? WHERE one = 1", JSON.stringify(media));
  }

  /** Speech seconds per language a range's current attempt reported. */
  addLanguageSeconds(rangeIdx: number, seconds: Record<string, number>, capSec: number): void {
    for (const [language, sec] of Object.entries(seconds)) {
      this.sql.exec(
        "INSERT INTO range_languages (range_idx, language, sec) VALUES (?, ?, ?) ON CONFLICT (range_idx, language) DO UPDATE SET sec = sec + excluded.sec",
        rangeIdx,
        language,
        sec,
      );
    }
    // A range holds no more speech than its audio: a machine reporting more cannot outvote the others.
    const total = this.sql.exec<{ sec: number }>("SELECT COALESCE(SUM(sec), 0) AS sec FROM range_languages WHERE range_idx = ?", rangeIdx).one().sec;
    if (total > capSec) this.sql.exec("UPDATE range_languages SET sec = sec * ? WHERE range_idx = ?", capSec / total, rangeIdx);
  }

  /** The job's language vote: speech seconds per language over all ranges, largest first. */
  languageVote(): Array<{ language: string; sec: number }> {
    return this.sql
      .exec<{ language: string; sec: number }>("SELECT language, SUM(sec) AS sec FROM range_languages GROUP BY language ORDER BY sec DESC, language")
      .toArray();
  }

  countRanges(status: RangeState["status"]): { n: number; audio_sec: number } {
    return this.sql
      .exec<{ n: number; audio_sec: number }>("SELECT COUNT(*) AS n, COALESCE(SUM(end_sec - start_sec), 0) AS audio_sec FROM ranges WHERE status = ?", status)
      .one();
  }

  insertJob(job: JobRecord): void {
    this.sql.exec(
      `INSERT INTO job (one, id, owner, created_at, audio_url, upload_id, options, webhook, metadata, media, state, plan_machine_sec, last_progress_event_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      job.id,
      job.owner,
      job.created_at,
      job.audio_url,
      job.upload_id,
      JSON.stringify(job.options),
      job.webhook === null ? null : JSON.stringify(job.webhook),
      job.metadata === null ? null : JSON.stringify(job.metadata),
      JSON.stringify(job.media),
      JSON.stringify(job.state),
      job.plan_machine_sec,
      job.last_progress_event_at,
    );
  }

  writeState(state: JobState): void {
    this.sql.exec("UPDATE job SET state = ? WHERE one = 1", JSON.stringify(state));
  }

  addPlanMachineSec(sec: number, machine: MachineLabel | null): void {
    this.sql.exec(
      "UPDATE job SET plan_machine_sec = plan_machine_sec + ?, plan_machine = ? WHERE one = 1",
      sec,
      machine === null ? null : JSON.stringify(machine),
    );
  }

  /** Machines holding this job's range leases now. */
  leasedMachineIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT DISTINCT json_extract(state, '$.machine_id') AS id FROM ranges WHERE status = 'leased'")
      .toArray()
      .map((r) => r.id);
  }

  setLastProgressEventAt(at: number): void {
    this.sql.exec("UPDATE job SET last_progress_event_at = ? WHERE one = 1", at);
  }

  /** `unsettled`: the inner boundaries are where they fell, each to be settled by a range task. */
  insertRanges(ranges: ReadonlyArray<{ start_sec: number; end_sec: number }>, initial: RangeState, unsettled = false): void {
    ranges.forEach((r, idx) =>
      this.sql.exec(
        "INSERT INTO ranges (idx, start_sec, end_sec, status, state, start_settled) VALUES (?, ?, ?, ?, ?, ?)",
        idx,
        r.start_sec,
        r.end_sec,
        initial.status,
        JSON.stringify(initial),
        unsettled && idx > 0 ? 0 : 1,
      ),
    );
  }

  /** Moves the boundary before range `idx` to `sec`, for good: the end of the range before it too. */
  settleStart(idx: number, sec: number): void {
    this.sql.exec("UPDATE ranges SET start_sec = ?, start_settled = 1 WHERE idx = ?", sec, idx);
    this.sql.exec("UPDATE ranges SET end_sec = ? WHERE idx = ?", sec, idx - 1);
  }

  setBoundarySearch(sec: number | null): void {
    this.sql.exec("UPDATE job SET boundary_search_sec = ? WHERE one = 1", sec);
  }

  readRanges(): RangeRecord[] {
    return this.rangesWhere("1 = 1", []);
  }

  readRange(idx: number): RangeRecord | null {
    return this.rangesWhere("idx = ?", [idx])[0] ?? null;
  }

  firstPendingRange(): RangeRecord | null {
    return this.rangesWhere("status = 'pending'", [], 1)[0] ?? null;
  }

  /** `where` is always a literal of this file; values go in `params`. A limit of -1 is none, as in SQLite. */
  private rangesWhere(where: string, params: SqlStorageValue[], limit = -1): RangeRecord[] {
    return this.sql
      .exec<{ idx: number; start_sec: number; end_sec: number; state: string; start_settled: number }>(
        `SELECT idx, start_sec, end_sec, state, start_settled FROM ranges WHERE ${where} ORDER BY idx LIMIT ?`,
        ...params,
        limit,
      )
      .toArray()
      .map((r) => ({ ...r, start_settled: r.start_settled === 1, state: JSON.parse(r.state) as RangeState }));
  }

  writeRange(idx: number, state: RangeState): void {
    this.sql.exec("UPDATE ranges SET status = ?, state = ? WHERE idx = ?", state.status, JSON.stringify(state), idx);
  }

  countRangesNot(status: RangeState["status"]): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM ranges WHERE status != ?", status).one().n;
  }

  seenSeqs(rangeIdx: number, attempt: number): Set<number> {
    const rows = this.sql.exec<{ seq: number }>("SELECT seq FROM batches WHERE range_idx = ? AND attempt = ?", rangeIdx, attempt).toArray();
    return new Set(rows.map((r) => r.seq));
  }

  /**
   * A range handed to a new attempt starts over: what the old attempt posted no
   * longer counts. Clients that were shown it are told (a `replace` in the merge log).
   */
  dropRangeSegments(rangeIdx: number): void {
    const shown = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM segments WHERE range_idx = ?", rangeIdx).one().n > 0;
    if (shown) {
      this.sql.exec(
        "INSERT INTO merge_log (kind, range_idx, start_sec, end_sec) SELECT 'replace', idx, start_sec, end_sec FROM ranges WHERE idx = ?",
        rangeIdx,
      );
    }
    this.sql.exec("DELETE FROM range_languages WHERE range_idx = ?", rangeIdx);
    this.sql.exec("DELETE FROM range_speakers WHERE range_idx = ?", rangeIdx);
    this.sql.exec("DELETE FROM segments WHERE range_idx = ?", rangeIdx);
    this.sql.exec("DELETE FROM batches WHERE range_idx = ?", rangeIdx);
  }

  insertBatch(rangeIdx: number, attempt: number, seq: number, at: number, segments: readonly Segment[]): void {
    this.sql.exec("INSERT INTO batches (range_idx, attempt, seq, received_at) VALUES (?, ?, ?, ?)", rangeIdx, attempt, seq, at);
    if (segments.length === 0) return;
    this.sql.exec(
      "INSERT INTO merge_log (kind, range_idx, start_sec, end_sec) VALUES ('segments', ?, ?, ?)",
      rangeIdx,
      Math.min(...segments.map((s) => s.start_sec)),
      Math.max(...segments.map((s) => s.end_sec)),
    );
    const mergeSeq = this.sql.exec<{ seq: number }>("SELECT last_insert_rowid() AS seq").one().seq;
    // One row per statement keeps every statement far below the 100 bound-parameter limit.
    segments.forEach((s, ord) =>
      this.sql.exec(
        `INSERT INTO segments (range_idx, seq, ord, start_sec, end_sec, text, language, avg_logprob, no_speech_prob, compression_ratio, words, merge_seq, speaker)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        rangeIdx,
        seq,
        ord,
        s.start_sec,
        s.end_sec,
        s.text,
        s.language,
        s.avg_logprob,
        s.no_speech_prob,
        s.compression_ratio ?? null,
        s.words ? JSON.stringify(s.words.map(({ speaker: _local, ...w }) => w)) : null,
        mergeSeq,
        s.speaker ?? null,
      ),
    );
  }

  // ---- speakers (speaker-labels.ts) --------------------------------------------

  /** The local speaker of each segment of one post, by its order in the post; only rows that change are written. */
  relabelSegments(rangeIdx: number, seq: number, speakers: readonly (string | null)[]): void {
    const list = JSON.stringify(speakers);
    this.sql.exec(
      `UPDATE segments SET speaker = json_extract(?, '$[' || ord || ']')
       WHERE range_idx = ? AND seq = ? AND speaker IS NOT json_extract(?, '$[' || ord || ']')`,
      list,
      rangeIdx,
      seq,
      list,
    );
  }

  /** A done range's speakers as its machine found them; replaces what an earlier attempt left. */
  replaceRangeSpeakers(rangeIdx: number, speakers: readonly RangeSpeakerReport[]): void {
    this.sql.exec("DELETE FROM range_speakers WHERE range_idx = ?", rangeIdx);
    for (const s of speakers) {
      this.sql.exec(
        "INSERT INTO range_speakers (range_idx, local, vector, talk_sec, first_sec) VALUES (?, ?, ?, ?, ?)",
        rangeIdx,
        s.local,
        JSON.stringify(s.vector),
        s.talk_sec,
        s.first_sec,
      );
    }
  }

  rangeSpeakers(): RangeSpeaker[] {
    return this.sql
      .exec<{ range_idx: number; local: string; vector: string; talk_sec: number; first_sec: number }>(
        "SELECT range_idx, local, vector, talk_sec, first_sec FROM range_speakers ORDER BY range_idx, local",
      )
      .toArray()
      .map((r) => ({ range_index: r.range_idx, local: r.local, vector: JSON.parse(r.vector) as number[], talk_sec: r.talk_sec, first_sec: r.first_sec }));
  }

  /** Writes the job-wide label of every range speaker (`${range_idx}:${local}` → label); ones missing from `labels` lose theirs. */
  setSpeakerLabels(labels: ReadonlyMap<string, string>): void {
    const rows = this.sql.exec<{ range_idx: number; local: string; label: string | null }>("SELECT range_idx, local, label FROM range_speakers").toArray();
    for (const r of rows) {
      const label = labels.get(`${r.range_idx}:${r.local}`) ?? null;
      if (label !== r.label) this.sql.exec("UPDATE range_speakers SET label = ? WHERE range_idx = ? AND local = ?", label, r.range_idx, r.local);
    }
  }

  /** Talk time per job-wide label, in label order (S1, S2, … S10). */
  speakerSummary(): Array<{ label: string; talk_sec: number }> {
    return this.sql
      .exec<{ label: string; talk_sec: number }>(
        "SELECT label, SUM(talk_sec) AS talk_sec FROM range_speakers WHERE label IS NOT NULL GROUP BY label ORDER BY LENGTH(label), label",
      )
      .toArray()
      .map((r) => ({ label: r.label, talk_sec: Math.round(r.talk_sec * 1000) / 1000 }));
  }

  // ---- the merge log (live-events.ts) ------------------------------------------

  lastMergeSeq(): number {
    return this.sql.exec<{ n: number | null }>("SELECT MAX(seq) AS n FROM merge_log").one().n ?? 0;
  }

  mergeLogAfter(seq: number, limit: number): MergeLogEntry[] {
    return this.sql
      .exec<MergeLogEntry>("SELECT seq, kind, range_idx, start_sec, end_sec FROM merge_log WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit)
      .toArray();
  }

  segmentsOfMerge(mergeSeq: number): Segment[] {
    return this.sql.exec<SegmentRow>(`SELECT ${SEGMENT_COLUMNS} FROM segments WHERE merge_seq = ? ORDER BY start_sec, ord`, mergeSeq).toArray().map(toSegment);
  }

  /** A page of the transcript as it stood at merge `upTo`, in transcript order, after the keyset `after`. */
  segmentsPage(after: SegmentKey | null, upTo: number, limit: number): { segments: Segment[]; next: SegmentKey | null } {
    const rows = (
      after === null
        ? this.sql.exec<SegmentRow>(`SELECT ${SEGMENT_COLUMNS} FROM segments WHERE merge_seq <= ? ORDER BY start_sec, range_idx, seq, ord LIMIT ?`, upTo, limit)
        : this.sql.exec<SegmentRow>(
            `SELECT ${SEGMENT_COLUMNS} FROM segments WHERE merge_seq <= ? AND (start_sec, range_idx, seq, ord) > (?, ?, ?, ?) ORDER BY start_sec, range_idx, seq, ord LIMIT ?`,
            upTo,
            ...after,
            limit,
          )
    ).toArray();
    const last = rows[rows.length - 1];
    return { segments: rows.map(toSegment), next: last && rows.length === limit ? [last.start_sec, last.range_idx, last.seq, last.ord] : null };
  }

  /** Up to which merge live clients have been sent everything. */
  sentSeq(): number {
    return this.sql.exec<{ sent_seq: number }>("SELECT sent_seq FROM live").one().sent_seq;
  }

  setSentSeq(seq: number): void {
    this.sql.exec("UPDATE live SET sent_seq = ?", seq);
  }

  /** The language most of the transcript's audio is in. */
  dominantLanguage(): string | null {
    const row = this.sql
      .exec<{ language: string }>("SELECT language FROM segments GROUP BY language ORDER BY SUM(end_sec - start_sec) DESC, language LIMIT 1")
      .toArray()[0];
    return row?.language ?? null;
  }

  /**
   * Segments in transcript order, read a page at a time by keyset, so a
   * 30,000-segment transcript is never held in memory at once.
   */
  *segmentsInOrder(pageSize = 500): Generator<Segment> {
    let after: [number, number, number, number] | null = null;
    for (;;) {
      const rows: SegmentRow[] = (
        after === null
          ? this.sql.exec<SegmentRow>(`SELECT ${SEGMENT_COLUMNS} FROM segments ORDER BY start_sec, range_idx, seq, ord LIMIT ?`, pageSize)
          : this.sql.exec<SegmentRow>(
              `SELECT ${SEGMENT_COLUMNS} FROM segments WHERE (start_sec, range_idx, seq, ord) > (?, ?, ?, ?) ORDER BY start_sec, range_idx, seq, ord LIMIT ?`,
              ...after,
              pageSize,
            )
      ).toArray();
      for (const r of rows) yield toSegment(r);
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return;
      after = [last.start_sec, last.range_idx, last.seq, last.ord];
    }
  }
}

/** A segment row with the job-wide label of its speaker, if its range's speakers are labelled yet. */
const SEGMENT_COLUMNS = "*, (SELECT label FROM range_speakers rs WHERE rs.range_idx = segments.range_idx AND rs.local = segments.speaker) AS speaker_label";

function toSegment(r: SegmentRow): Segment {
  const speaker = r.speaker_label ?? undefined;
  const words = r.words !== null ? (JSON.parse(r.words) as NonNullable<Segment["words"]>) : null;
  return {
    start_sec: r.start_sec,
    end_sec: r.end_sec,
    text: r.text,
    language: r.language,
    avg_logprob: r.avg_logprob,
    no_speech_prob: r.no_speech_prob,
    ...(r.compression_ratio !== null ? { compression_ratio: r.compression_ratio } : {}),
    ...(words !== null ? { words: speaker === undefined ? words : words.map((w) => ({ ...w, speaker })) } : {}),
    ...(speaker !== undefined ? { speaker } : {}),
  };
}
