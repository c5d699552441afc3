import { describe, expect, it } from "vitest";
import { type ClusterTuning, clusterSpeakers, clusterSpeakersWith, DEFAULT_CLUSTER_TUNING, type RangeSpeaker } from "./speaker-clusters.ts";
import { mulberry32 as random } from "./mulberry32.ts";

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rand = random(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const DIMS = 16;

/** A voice: a random unit direction. */
function voice(seed: number): number[] {
  const rand = random(seed);
  const v = Array.from({ length: DIMS }, () => rand() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The voice as one range heard it: the direction plus noise of the given size, unit length. */
function heard(v: number[], noise: number, seed: number): number[] {
  const rand = random(seed);
  const w = v.map((x) => x + noise * (rand() * 2 - 1));
  const n = Math.hypot(...w);
  return w.map((x) => x / n);
}

function speaker(range: number, local: string, vector: number[], first: number, talk = 60): RangeSpeaker {
  return { range_index: range, local, vector, talk_sec: talk, first_sec: first };
}

/** Three people over four ranges of 300 s: A in every range, B in ranges 0–2, C only in 1 and 3. */
function conversation(noise = 0.15): RangeSpeaker[] {
  const [a, b, c] = [voice(1), voice(2), voice(3)];
  return [
    speaker(0, "0", heard(b, noise, 10), 2),
    speaker(0, "1", heard(a, noise, 11), 5),
    speaker(1, "0", heard(a, noise, 12), 300),
    speaker(1, "1", heard(c, noise, 13), 320),
    speaker(1, "2", heard(b, noise, 14), 350),
    speaker(2, "0", heard(b, noise, 15), 601),
    speaker(2, "1", heard(a, noise, 16), 640),
    speaker(3, "0", heard(c, noise, 17), 900),
    speaker(3, "1", heard(a, noise, 18), 905),
  ];
}

describe("clusterSpeakers", () => {
  it("joins one voice across ranges and numbers the people by when they first speak", () => {
    const labels = clusterSpeakers(conversation());
    // B speaks first (range 0 at 2 s), then A (5 s), then C (320 s).
    expect(Object.fromEntries(labels)).toEqual({
      "0:0": "S1",
      "0:1": "S2",
      "1:0": "S2",
      "1:1": "S3",
      "1:2": "S1",
      "2:0": "S1",
      "2:1": "S2",
      "3:0": "S3",
      "3:1": "S2",
    });
  });

  it("gives the same labels whatever order the speakers come in", () => {
    const input = conversation(0.3);
    const reference = [...clusterSpeakers(input)].sort();
    for (let seed = 1; seed <= 20; seed++) expect([...clusterSpeakers(shuffled(input, seed))].sort()).toEqual(reference);
  });

  it("is deterministic when voices tie exactly", () => {
    const v = voice(7);
    const same = [speaker(0, "0", v, 0), speaker(1, "0", v, 300), speaker(2, "0", v, 600), speaker(3, "0", v, 900)];
    const first = [...clusterSpeakers(same, { num_speakers: 2 })];
    for (let seed = 1; seed <= 10; seed++) expect([...clusterSpeakers(shuffled(same, seed), { num_speakers: 2 })]).toEqual(first);
    expect(new Set(first.map(([, l]) => l))).toEqual(new Set(["S1", "S2"]));
  });

  it("keeps two speakers of one range apart even when their voices are alike", () => {
    // The range diarizer heard two people; the voices are close but not the same (cosine ≈ 0.9).
    const a = voice(21);
    const near = heard(a, 0.35, 22);
    const input = [speaker(0, "0", a, 0), speaker(0, "1", near, 10)];
    const cosine = a.reduce((s, x, k) => s + x * near[k]!, 0);
    expect(cosine).toBeGreaterThan(DEFAULT_CLUSTER_TUNING.threshold);
    expect(cosine).toBeLessThan(DEFAULT_CLUSTER_TUNING.threshold + DEFAULT_CLUSTER_TUNING.sameRangePenalty);
    expect(Object.fromEntries(clusterSpeakers(input))).toEqual({ "0:0": "S1", "0:1": "S2" });
    // The same two voices from two ranges are one person.
    expect(Object.fromEntries(clusterSpeakers([speaker(0, "0", a, 0), speaker(1, "0", near, 300)]))).toEqual({ "0:0": "S1", "1:0": "S1" });
  });

  it("lets a voice heard for a moment join another speaker of its range", () => {
    const a = voice(31);
    const blip = speaker(0, "1", heard(a, 0.1, 32), 40, 0.8);
    const labels = clusterSpeakers([speaker(0, "0", a, 0), blip]);
    expect(labels.get("0:1")).toBe("S1");
  });

  it("merges down to num_speakers, choosing the closest voices", () => {
    const labels = clusterSpeakers(conversation(), { num_speakers: 2 });
    expect(new Set(labels.values()).size).toBe(2);
    // Whatever joins, each person's own ranges stay together.
    for (const group of [
      ["0:1", "1:0", "2:1", "3:1"],
      ["0:0", "1:2", "2:0"],
      ["1:1", "3:0"],
    ]) {
      expect(new Set(group.map((k) => labels.get(k))).size).toBe(1);
    }
  });

  it("stops merging at min_speakers and goes on merging down to max_speakers", () => {
    const one = voice(41);
    // Four ranges of one person: the threshold alone makes one speaker.
    const single = [0, 1, 2, 3].map((r) => speaker(r, "0", heard(one, 0.1, 50 + r), r * 300));
    expect(new Set(clusterSpeakers(single).values()).size).toBe(1);
    expect(new Set(clusterSpeakers(single, { min_speakers: 3 }).values()).size).toBe(3);
    // Four strangers: the threshold keeps four; max_speakers 2 forces two.
    const strangers = [0, 1, 2, 3].map((r) => speaker(r, "0", voice(60 + r), r * 300));
    expect(new Set(clusterSpeakers(strangers).values()).size).toBe(4);
    expect(new Set(clusterSpeakers(strangers, { max_speakers: 2 }).values()).size).toBe(2);
    expect(new Set(clusterSpeakers(strangers, { min_speakers: 1, max_speakers: 3 }).values()).size).toBe(3);
  });

  it("when a count forces merges, joins a fragment of a voice to another before joining two people", () => {
    const [a, c] = [
      [1, 0, 0, 0],
      [0.3, Math.sqrt(1 - 0.09), 0, 0],
    ];
    const [b1, b2] = [
      [0, 0, 1, 0],
      [0, 0, 0.45, Math.sqrt(1 - 0.45 ** 2)],
    ];
    const input = [
      speaker(0, "0", a, 0),
      speaker(0, "1", b1, 10),
      speaker(1, "0", c, 300),
      speaker(1, "1", b2, 310),
      // Three seconds of a voice like nobody's, in a range of its own.
      speaker(2, "0", [0, 0, 0, -1], 600, 3),
    ];
    // Unforced, five clusters: the threshold joins none of them.
    expect(new Set(clusterSpeakers(input).values()).size).toBe(5);
    const labels = clusterSpeakers(input, { num_speakers: 3 });
    expect(new Set(labels.values()).size).toBe(3);
    // B's two halves are the closest pair (0.45); A and C (0.3) stay two people, the fragment joins someone.
    expect(labels.get("0:1")).toBe(labels.get("1:1"));
    expect(labels.get("0:0")).not.toBe(labels.get("1:0"));
  });

  it("meets num_speakers even against the same-range rule", () => {
    const input = [speaker(0, "0", voice(71), 0), speaker(0, "1", voice(72), 5), speaker(0, "2", voice(73), 9)];
    const labels = clusterSpeakers(input, { num_speakers: 1 });
    expect(new Set(labels.values())).toEqual(new Set(["S1"]));
  });

  it("cannot make more speakers than were found", () => {
    const labels = clusterSpeakers(conversation(), { num_speakers: 20 });
    expect(new Set(labels.values()).size).toBe(9);
    expect(clusterSpeakers([], { num_speakers: 2 }).size).toBe(0);
  });

  it("with a hard same-range rule, never joins two speakers of one range unless counts force it", () => {
    const hard = { ...DEFAULT_CLUSTER_TUNING, sameRangePenalty: Number.POSITIVE_INFINITY };
    const v = voice(81);
    const input = [speaker(0, "0", v, 0), speaker(0, "1", v, 5)];
    expect(new Set(clusterSpeakersWith(input, {}, hard).values()).size).toBe(2);
    expect(new Set(clusterSpeakersWith(input, { max_speakers: 1 }, hard).values()).size).toBe(1);
  });

  it("refuses a speaker given twice", () => {
    const v = voice(91);
    expect(() => clusterSpeakers([speaker(0, "0", v, 0), speaker(0, "0", v, 1)])).toThrow(RangeError);
  });

  it("joins what greedy average linkage joins, pair by best pair", () => {
    // The plain O(n³) algorithm the nearest-neighbour chain stands in for; when a count
    // forces merges past the threshold, a fragment (under 2 % of all talk) goes first.
    const greedy = (input: RangeSpeaker[], tuning: ClusterTuning, lower: number, upper: number): string[][] => {
      let clusters = input.map((s) => ({ members: [s], weight: Math.max(0.5, s.talk_sec) }));
      const cos = (a: RangeSpeaker, b: RangeSpeaker) => a.vector.reduce((t, x, k) => t + x * b.vector[k]!, 0);
      const firm = (a: RangeSpeaker, b: RangeSpeaker) =>
        a.range_index === b.range_index && a.talk_sec >= tuning.firmTalkSec && b.talk_sec >= tuning.firmTalkSec;
      const score = (x: (typeof clusters)[number], y: (typeof clusters)[number]) => {
        let sum = 0;
        let conflict = false;
        for (const a of x.members) {
          for (const b of y.members) {
            sum += Math.max(0.5, a.talk_sec) * Math.max(0.5, b.talk_sec) * cos(a, b);
            conflict ||= firm(a, b);
          }
        }
        return sum / (x.weight * y.weight) - (conflict ? tuning.sameRangePenalty : 0);
      };
      while (clusters.length > lower) {
        let best: [number, number, number] = [Number.NEGATIVE_INFINITY, -1, -1];
        for (let i = 0; i < clusters.length; i++)
          for (let j = i + 1; j < clusters.length; j++) if (score(clusters[i]!, clusters[j]!) > best[0]) best = [score(clusters[i]!, clusters[j]!), i, j];
        if (best[0] < tuning.threshold && clusters.length <= upper) break;
        if (best[0] < tuning.threshold) {
          const talk = (c: (typeof clusters)[number]) => c.members.reduce((t, m) => t + m.talk_sec, 0);
          const all = input.reduce((t, m) => t + m.talk_sec, 0);
          const small = clusters.filter((c) => talk(c) < 0.02 * all).sort((x, y) => talk(x) - talk(y))[0];
          if (small) {
            const i = clusters.indexOf(small);
            best = [Number.NEGATIVE_INFINITY, i, -1];
            for (let j = 0; j < clusters.length; j++) if (j !== i && score(small, clusters[j]!) > best[0]) best = [score(small, clusters[j]!), i, j];
          }
        }
        const [, i, j] = best;
        const merged = { members: [...clusters[i]!.members, ...clusters[j]!.members], weight: clusters[i]!.weight + clusters[j]!.weight };
        clusters = clusters.filter((_, k) => k !== i && k !== j).concat(merged);
      }
      return clusters.map((c) => c.members.map((m) => `${m.range_index}:${m.local}`).sort()).sort();
    };
    const partition = (labels: Map<string, string>) => {
      const byLabel = new Map<string, string[]>();
      for (const [key, label] of labels) byLabel.set(label, [...(byLabel.get(label) ?? []), key]);
      return [...byLabel.values()].map((keys) => keys.sort()).sort();
    };
    for (let seed = 1; seed <= 12; seed++) {
      const rand = random(seed);
      const people = [0, 1, 2, 3, 4].map((p) => voice(seed * 100 + p));
      const input: RangeSpeaker[] = [];
      for (let r = 0; r < 8; r++) {
        const present = shuffled([0, 1, 2, 3, 4], seed * 10 + r).slice(0, 1 + Math.floor(rand() * 3));
        present.forEach((p, l) => input.push(speaker(r, String(l), heard(people[p]!, 0.6, seed * 1000 + r * 10 + l), r * 300 + l * 7, 1 + 100 * rand())));
      }
      const tuning = { ...DEFAULT_CLUSTER_TUNING, threshold: 0.3 + 0.4 * rand() };
      expect(partition(clusterSpeakersWith(input, {}, tuning)), `seed ${seed}`).toEqual(greedy(input, tuning, 1, input.length));
      expect(partition(clusterSpeakersWith(input, { max_speakers: 3 }, tuning)), `seed ${seed}, max 3`).toEqual(greedy(input, tuning, 1, 3));
    }
  });

  it("clusters a few thousand speakers quickly", () => {
    // Twelve voices at right angles, each heard with noise.
    const people = Array.from({ length: 12 }, (_, p) => Array.from({ length: DIMS }, (_, k) => (k === p ? 1 : 0)));
    const input: RangeSpeaker[] = [];
    for (let r = 0; r < 1000; r++) {
      for (let l = 0; l < 3; l++) {
        const p = (r * 3 + l * 5) % people.length;
        input.push(speaker(r, String(l), heard(people[p]!, 0.2, r * 10 + l), r * 300 + l * 20));
      }
    }
    const started = performance.now();
    const labels = clusterSpeakers(input);
    const ms = performance.now() - started;
    expect(labels.size).toBe(3000);
    expect(new Set(labels.values()).size).toBe(12);
    expect(ms).toBeLessThan(15_000);
  });
});
