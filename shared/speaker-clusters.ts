/**
 * The job's speakers from its ranges' speakers: each range's diarizer found its
 * own (local ids "0", "1", …, one voice vector each); here the voices that
 * belong to one person across ranges are joined under one label, S1, S2, … in
 * the order in which they first speak. Pure and deterministic (the job object
 * runs it again whenever a range completes, and a completed job must keep its
 * labels): the input's order does not matter, only its content.
 *
 * Agglomerative clustering with average linkage over cosine similarity, each
 * speaker weighted by its talk time, so a voice heard for minutes counts more
 * than a few seconds of it. Two speakers of the same range were told apart by
 * that range's diarizer, which heard both: they are presumed different people,
 * a penalty on their similarity rather than a wall, so a split the diarizer
 * made by mistake (or a voice it heard for a second) can still join, and so
 * the count options can always be met.
 */

export interface RangeSpeaker {
  range_index: number;
  local: string;
  vector: readonly number[];
  talk_sec: number;
  first_sec: number;
}

export interface SpeakerCountOptions {
  num_speakers?: number;
  min_speakers?: number;
  max_speakers?: number;
}

export interface ClusterTuning {
  /** Clusters join while their average similarity is at least this (and the counts allow). */
  threshold: number;
  /** Subtracted from the similarity of clusters that hold two speakers of one range. */
  sameRangePenalty: number;
  /** Speakers of one range are presumed different only when each talks at least this long. */
  firmTalkSec: number;
}

/** Chosen by bench/diarization.ts on its tune-* conversations with the logmel-stats voices (bench/results/diarization.json). */
export const DEFAULT_CLUSTER_TUNING: ClusterTuning = { threshold: 0.5, sameRangePenalty: 1, firmTalkSec: 2 };

/** A speaker's weight is its talk time, but a voice of a moment still counts for this much. */
const MIN_WEIGHT_SEC = 0.5;
/**
 * A cluster with less than this share of all talk is, when a count forces
 * merges, presumed a fragment (a voice heard for a few seconds in one range, a
 * cough, a laugh) rather than a person: it joins the cluster it is most like
 * before any two larger ones are joined, as pyannote's clustering reassigns
 * clusters under its minimum size. On the benchmark's 30-minute conversation
 * the fragments were 0–3 s of its 1,400 s of talk; forced to four speakers
 * without this rule, it joined two people and kept them (DER 14.6 → 23.2 %).
 */
const FRAGMENT_SHARE = 0.02;

export function speakerKey(s: Pick<RangeSpeaker, "range_index" | "local">): string {
  return `${s.range_index}:${s.local}`;
}

/** Global labels "S1", "S2", … numbered by first appearance in time; key of the map is `${range_index}:${local}`. */
export function clusterSpeakers(speakers: readonly RangeSpeaker[], options: SpeakerCountOptions = {}): Map<string, string> {
  return clusterSpeakersWith(speakers, options, DEFAULT_CLUSTER_TUNING);
}

export function clusterSpeakersWith(speakers: readonly RangeSpeaker[], options: SpeakerCountOptions, tuning: ClusterTuning): Map<string, string> {
  // One order whatever the caller's: by range, then first speech, then id.
  const sorted = [...speakers].sort((a, b) => a.range_index - b.range_index || a.first_sec - b.first_sec || compareText(a.local, b.local));
  for (let i = 1; i < sorted.length; i++) {
    if (speakerKey(sorted[i]!) === speakerKey(sorted[i - 1]!)) throw new RangeError(`speaker ${speakerKey(sorted[i]!)} is given twice`);
  }
  const n = sorted.length;
  const { lower, upper } = countBounds(options, n);
  const pairs = new PairTable(n);
  const unit = sorted.map((s) => toUnit(s.vector));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) pairs.set(i, j, dot(unit[i]!, unit[j]!), conflicts(sorted[i]!, sorted[j]!, tuning));
  }
  const weight = sorted.map((s) => Math.max(MIN_WEIGHT_SEC, s.talk_sec));
  // An infinite penalty still ranks the pairs it applies to (by similarity) when the counts force one of them.
  const penalty = Math.min(tuning.sameRangePenalty, 1e6);
  const merges = dendrogram(pairs, weight, penalty);

  // Greedy agglomeration joins the best pair first; for this linkage that is the
  // dendrogram's merges by descending score (children before their parents), cut where the rules say.
  const parent = Array.from({ length: n }, (_, i) => i);
  const root = (i: number): number => {
    if (parent[i] !== i) parent[i] = root(parent[i]!);
    return parent[i]!;
  };
  const join = (a: number, b: number): boolean => {
    const [ra, rb] = [root(a), root(b)];
    if (ra === rb) return false;
    parent[rb] = ra;
    return true;
  };
  let clusters = n;
  // As the threshold says, but never below the counts' lower bound.
  for (const m of merges) {
    if (clusters <= lower || m.score < tuning.threshold) break;
    if (join(m.a, m.b)) clusters--;
  }
  // More than the counts allow: what the threshold refused, fragments first.
  if (clusters > upper) {
    const link = (x: readonly number[], y: readonly number[]) =>
      linkage(
        x,
        y,
        weight,
        (i, j) => dot(unit[i]!, unit[j]!),
        (i, j) => conflicts(sorted[i]!, sorted[j]!, tuning),
      );
    const score = (x: readonly number[], y: readonly number[]) => {
      const l = link(x, y);
      return l.similarity - (l.conflict ? penalty : 0);
    };
    const talk = (list: readonly number[]) => list.reduce((t, i) => t + sorted[i]!.talk_sec, 0);
    const fragment = FRAGMENT_SHARE * talk([...sorted.keys()]);
    while (clusters > upper) {
      const groups = currentGroups(n, root);
      // The smallest fragment (ties: the earliest, as groups come by first member), to the cluster it is most like.
      let small: number[] | null = null;
      let least = fragment;
      for (const g of groups) {
        const t = talk(g);
        if (t < least) [small, least] = [g, t];
      }
      if (!small) break;
      let into: number[] | null = null;
      let best = Number.NEGATIVE_INFINITY;
      for (const g of groups) {
        if (g === small) continue;
        const s = score(small, g);
        if (s > best) [into, best] = [g, s];
      }
      join(into![0]!, small[0]!);
      clusters--;
    }
    // Then the closest clusters, as greedy average linkage would join them from here.
    const groups = currentGroups(n, root);
    const table = new PairTable(groups.length);
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const l = link(groups[i]!, groups[j]!);
        table.set(i, j, l.similarity, l.conflict);
      }
    }
    const groupWeight = groups.map((g) => g.reduce((t, i) => t + weight[i]!, 0));
    for (const m of dendrogram(table, groupWeight, penalty)) {
      if (clusters <= upper) break;
      if (join(groups[m.a]![0]!, groups[m.b]![0]!)) clusters--;
    }
  }

  const groups = new Map<number, { first: number; lowest: number; list: number[] }>();
  for (let i = 0; i < n; i++) {
    const r = root(i);
    const g = groups.get(r) ?? { first: Number.POSITIVE_INFINITY, lowest: i, list: [] };
    g.first = Math.min(g.first, sorted[i]!.first_sec);
    g.list.push(i);
    groups.set(r, g);
  }
  const ordered = [...groups.values()].sort((x, y) => x.first - y.first || x.lowest - y.lowest);
  const labels = new Map<string, string>();
  ordered.forEach((g, k) => {
    for (const m of g.list) labels.set(speakerKey(sorted[m]!), `S${k + 1}`);
  });
  return labels;
}

interface Merge {
  score: number;
  a: number;
  b: number;
}

/** Two speakers of one range that each talk long enough are presumed two people. */
function conflicts(a: RangeSpeaker, b: RangeSpeaker, tuning: ClusterTuning): boolean {
  return a.range_index === b.range_index && a.talk_sec >= tuning.firmTalkSec && b.talk_sec >= tuning.firmTalkSec;
}

/** The clusters as lists of members, each in index order, the lists by their first member. */
function currentGroups(n: number, root: (i: number) => number): number[][] {
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = root(i);
    const list = members.get(r);
    if (list) list.push(i);
    else members.set(r, [i]);
  }
  return [...members.values()];
}

/** Weighted average linkage of two clusters, and whether they hold two people of one range (the dendrogram's terms). */
function linkage(
  x: readonly number[],
  y: readonly number[],
  weight: readonly number[],
  similarity: (i: number, j: number) => number,
  conflict: (i: number, j: number) => boolean,
): { similarity: number; conflict: boolean } {
  let sum = 0;
  let total = 0;
  let apart = false;
  for (const i of x) {
    for (const j of y) {
      sum += weight[i]! * weight[j]! * similarity(i, j);
      total += weight[i]! * weight[j]!;
      apart ||= conflict(i, j);
    }
  }
  return { similarity: sum / total, conflict: apart };
}

/**
 * Every merge of weighted average linkage on the penalised similarity, by the
 * nearest-neighbour chain (Murtagh; O(n²) time for n speakers rather than the
 * O(n³) of rescanning for the best pair after each merge). Valid because the
 * linkage is reducible: a merged cluster is never closer to a third than the
 * closer of its two parts (a weighted mean of similarities, and the same-range
 * flag only spreads). Returned by descending score, each merge after the
 * merges that made its two sides.
 */
function dendrogram(pairs: PairTable, weight: number[], penalty: number): Merge[] {
  const w = [...weight];
  const score = (i: number, j: number) => pairs.similarity(i, j) - (pairs.conflict(i, j) ? penalty : 0);
  const active = new Set(w.keys());
  const chain: number[] = [];
  const merges: Merge[] = [];
  while (active.size > 1) {
    if (chain.length === 0) chain.push(Math.min(...active));
    const a = chain[chain.length - 1]!;
    const previous = chain.length >= 2 ? chain[chain.length - 2]! : -1;
    // Ties go to the chain's previous element (so the chain cannot cycle), then to the lower index.
    let b = previous;
    let best = previous >= 0 ? score(a, previous) : Number.NEGATIVE_INFINITY;
    for (const k of active) {
      if (k === a || k === previous) continue;
      const s = score(a, k);
      if (s > best || (s === best && b !== previous && k < b) || b < 0) [b, best] = [k, s];
    }
    if (b !== previous) {
      chain.push(b);
      continue;
    }
    chain.length -= 2;
    const [keep, gone] = a < b ? [a, b] : [b, a];
    merges.push({ score: best, a: keep, b: gone });
    // Lance–Williams for weighted average linkage: the mean similarity of every pair of members.
    for (const k of active) {
      if (k === keep || k === gone) continue;
      const merged = (w[keep]! * pairs.similarity(keep, k) + w[gone]! * pairs.similarity(gone, k)) / (w[keep]! + w[gone]!);
      pairs.set(keep, k, merged, pairs.conflict(keep, k) || pairs.conflict(gone, k));
    }
    w[keep]! += w[gone]!;
    active.delete(gone);
  }
  // Stable: among equal scores the merge found first (a child of a later one) stays first.
  return merges
    .map((m, order) => ({ m, order }))
    .sort((x, y) => y.m.score - x.m.score || x.order - y.order)
    .map(({ m }) => m);
}

/** How few and how many clusters the options allow: `num_speakers` fixes both; bounds past the speaker count are moot. */
function countBounds(options: SpeakerCountOptions, n: number): { lower: number; upper: number } {
  const lower = Math.max(1, options.num_speakers ?? options.min_speakers ?? 1);
  const upper = Math.max(lower, options.num_speakers ?? options.max_speakers ?? n);
  return { lower: Math.min(lower, n), upper };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toUnit(v: readonly number[]): Float64Array {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return Float64Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}

/** Cosine of two unit vectors; vectors of different lengths (two embedders in one job) share no evidence: 0. */
function dot(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return 0;
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

/**
 * Similarity and the same-range flag of every pair, the upper triangle only:
 * a few thousand speakers in a few tens of MB (float32), as a Worker allows.
 */
class PairTable {
  private readonly values: Float32Array;
  private readonly flags: Uint8Array;

  constructor(private readonly n: number) {
    const size = (n * (n - 1)) / 2;
    this.values = new Float32Array(size);
    this.flags = new Uint8Array(size);
  }

  private index(i: number, j: number): number {
    const [a, b] = i < j ? [i, j] : [j, i];
    return a * this.n - (a * (a + 1)) / 2 + (b - a - 1);
  }

  set(i: number, j: number, similarity: number, conflict: boolean): void {
    const k = this.index(i, j);
    this.values[k] = similarity;
    this.flags[k] = conflict ? 1 : 0;
  }

  similarity(i: number, j: number): number {
    return this.values[this.index(i, j)]!;
  }

  conflict(i: number, j: number): boolean {
    return this.flags[this.index(i, j)] === 1;
  }
}
