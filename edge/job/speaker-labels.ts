import { speakerCounts, type TranscriptionOptions } from "../../shared/api.ts";
import type { RangeDiarization } from "../../shared/protocol.ts";
import { clusterSpeakers } from "../../shared/speaker-clusters.ts";
import type { JobStore } from "./job-store.ts";

/**
 * Diarization across ranges: each machine found the speakers of its own range
 * only; when a range is done, its speakers join those of every other done range
 * and all are clustered again into job-wide labels (S1, S2, … by first
 * appearance), so a late range or a redo never leaves a label twice. Once the
 * job completes nothing changes them: a completed job's labels are stable.
 * The range's segments first take the speakers its machine settled on at the
 * end (`relabel`); no label was shown before, so nobody saw the ones posted.
 */
export function labelRangeSpeakers(store: JobStore, options: TranscriptionOptions, rangeIdx: number, { speakers = [], relabel = [] }: RangeDiarization): void {
  if (options.diarize !== true) return;
  for (const post of relabel) store.relabelSegments(rangeIdx, post.seq, post.speakers);
  store.replaceRangeSpeakers(rangeIdx, speakers);
  store.setSpeakerLabels(clusterSpeakers(store.rangeSpeakers(), speakerCounts(options)));
}
