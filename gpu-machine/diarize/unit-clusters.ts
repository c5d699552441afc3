/**
 * Which range speaker each window-local speaker is: the clustering inside one
 * range. A "unit" is one local speaker of one segmentation window with the
 * voice of its clean speech there; an "anchor" is a range speaker already
 * decided (its units are labelled and posted, so it can gain units but never
 * merge with another anchor). As pyannote does with its windows' embeddings:
 * agglomerative clustering by the cosine similarity of talk-weighted
 * centroids, two units of one window never together (the segmentation model
 * heard them as two voices at once).
 */

export interface Anchor {
  speaker: number;
  /** Sum of unit voices weighted by their seconds: the direction is the voice. */
  voice: ArrayLike<number>;
  /** Ids of the units it holds, for links to them. */
  members: readonly number[];
}

export interface Unit {
  id: number;
  window: number;
  /** Unit length. */
  voice: ArrayLike<number>;
  /** Seconds of clean speech the voice was made from. */
  weight: number;
}

export interface UnitClusterOptions {
  /** Clusters join while their centroids are at least this similar. */
  threshold: number;
  /** Added to the similarity of two clusters with units that consecutive windows heard in the same frames. */
  linkBonus: number;
  /** Taken from the similarity of two clusters with units of one window (Infinity: never together). */
  sameWindowPenalty: number;
}

/** Unit id → the anchor's speaker it joins, or a new group (numbered from 0 by the group's first unit, in the order given). */
export type UnitAssignment = { anchor: number } | { group: number };

interface Cluster {
  voice: Float64Array;
  windows: Set<number>;
  anchor: number | null;
  members: number[];
}

export function clusterUnits(
  anchors: readonly Anchor[],
  units: readonly Unit[],
  links: readonly [number, number][],
  options: UnitClusterOptions,
): Map<number, UnitAssignment> {
  const dims = units[0]?.voice.length ?? 0;
  const clusters: Cluster[] = [
    ...anchors.map((a) => ({ voice: Float64Array.from(a.voice), windows: new Set<number>(), anchor: a.speaker, members: [] })),
    ...units.map((u) => ({
      voice: Float64Array.from({ length: dims }, (_, k) => u.voice[k]! * u.weight),
      windows: new Set([u.window]),
      anchor: null,
      members: [u.id],
    })),
  ];
  const indexOfUnit = new Map<number, number>(units.map((u, i) => [u.id, anchors.length + i]));
  anchors.forEach((a, i) => {
    for (const m of a.members) indexOfUnit.set(m, i);
  });
  const n = clusters.length;
  const linked = Array.from({ length: n }, () => new Uint8Array(n));
  for (const [a, b] of links) {
    const [i, j] = [indexOfUnit.get(a), indexOfUnit.get(b)];
    if (i === undefined || j === undefined) continue;
    linked[i]![j] = 1;
    linked[j]![i] = 1;
  }
  const norms = clusters.map((c) => norm(c.voice));
  const similarity = Array.from({ length: n }, () => new Float64Array(n).fill(Number.NEGATIVE_INFINITY));
  const alive = new Set(clusters.keys());
  const refresh = (i: number) => {
    for (const j of alive) {
      if (j === i) continue;
      const [a, b] = [clusters[i]!, clusters[j]!];
      let s = Number.NEGATIVE_INFINITY;
      const apart = sharesWindow(a.windows, b.windows) ? options.sameWindowPenalty : 0;
      if (!(a.anchor !== null && b.anchor !== null) && apart < Number.POSITIVE_INFINITY) {
        s = cosine(a.voice, norms[i]!, b.voice, norms[j]!) + (linked[i]![j] ? options.linkBonus : 0) - apart;
      }
      similarity[i]![j] = s;
      similarity[j]![i] = s;
    }
  };
  for (const i of alive) refresh(i);

  for (;;) {
    let best = Number.NEGATIVE_INFINITY;
    let pair: [number, number] | null = null;
    for (const i of alive) {
      for (const j of alive) {
        if (j <= i) continue;
        if (similarity[i]![j]! > best) [best, pair] = [similarity[i]![j]!, [i, j]];
      }
    }
    if (!pair || best < options.threshold) break;
    const [i, j] = pair;
    const [a, b] = [clusters[i]!, clusters[j]!];
    for (let k = 0; k < dims; k++) a.voice[k]! += b.voice[k]!;
    for (const w of b.windows) a.windows.add(w);
    a.anchor ??= b.anchor;
    a.members.push(...b.members);
    for (let k = 0; k < n; k++) linked[i]![k] = linked[k]![i] = linked[i]![k]! | linked[j]![k]!;
    norms[i] = norm(a.voice);
    alive.delete(j);
    refresh(i);
  }

  const out = new Map<number, UnitAssignment>();
  let group = 0;
  const free = [...alive].filter((i) => clusters[i]!.anchor === null).sort((x, y) => Math.min(...clusters[x]!.members) - Math.min(...clusters[y]!.members));
  for (const i of alive) {
    const anchor = clusters[i]!.anchor;
    if (anchor !== null) for (const m of clusters[i]!.members) out.set(m, { anchor });
  }
  for (const i of free) {
    for (const m of clusters[i]!.members) out.set(m, { group });
    group++;
  }
  return out;
}

function sharesWindow(a: Set<number>, b: Set<number>): boolean {
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  for (const w of small) if (large.has(w)) return true;
  return false;
}

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function cosine(a: Float64Array, na: number, b: Float64Array, nb: number): number {
  if (na === 0 || nb === 0) return 0;
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s / (na * nb);
}
