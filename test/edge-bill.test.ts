import { describe, expect, it } from "vitest";
import { CLOUDFLARE_PRICES, edgeBill, idlePolls, perCall, type EdgeUsage, type OpUsage, type Scenario } from "../bench/edge-bill.ts";

/** An operation measured `n` times at these per-call costs. */
const op = (n: number, read: number, written: number, requests = 1, alarms = 0): OpUsage => ({
  n,
  rows_read: n * read,
  rows_written: n * written,
  do_requests: n * requests,
  alarms_set: n * alarms,
});

/** Two job sizes, as the workerd test measures them: range claims read more rows in a bigger job, posts do not. */
const usage: EdgeUsage = {
  "1": {
    ranges: 12,
    database_bytes: 200_000,
    ops: {
      create: op(2, 100, 30, 4),
      plan_claim: op(2, 100, 5, 2),
      plan_complete: op(2, 200, 20, 3),
      range_claim: op(24, 100, 6, 2, 1),
      post: op(60, 50, 60),
      post_followed: op(60, 120, 60),
      heartbeat: op(12, 20, 3),
      heartbeat_followed: op(12, 20, 3),
      range_complete: op(12, 150, 4, 2),
      range_complete_followed: op(12, 190, 5, 2),
      empty_claim: op(2, 2, 0),
      status: op(13, 30, 0),
      transcript: op(1, 3600, 0),
      events_open: op(1, 50, 0, 2),
    },
  },
  "2": {
    ranges: 24,
    database_bytes: 360_000,
    ops: {
      create: op(2, 100, 30, 4),
      plan_claim: op(2, 100, 5, 2),
      plan_complete: op(2, 260, 32, 3),
      range_claim: op(48, 136, 6, 2, 1),
      post: op(120, 50, 60),
      post_followed: op(120, 132, 60),
      heartbeat: op(24, 20, 3),
      heartbeat_followed: op(24, 20, 3),
      range_complete: op(24, 210, 4, 2),
      range_complete_followed: op(24, 250, 5, 2),
      empty_claim: op(2, 2, 0),
      status: op(25, 42, 0),
      transcript: op(1, 7200, 0),
      events_open: op(1, 50, 0, 2),
    },
  },
};

const scenario: Scenario = {
  audio_hours: 1,
  client: "poll",
  poll_sec: 5,
  rtf: 300,
  range_sec: 300,
  segment_sec: 4,
  segments_per_post: 16,
  lease_sec: 60,
  audio_sec_per_machine: 3600,
  max_machines: 8,
  plan_sec_per_audio_hour: 2,
  idle_exit_sec: 120,
  shards: 1,
  awake_after_sec: 10,
  machine_usd_per_hour: 0.43,
};

describe("the edge's bill per job (bench/edge-bill.ts)", () => {
  it("counts a machine's empty claims from its last task to its exit as its runtime polls", () => {
    // 200 + 400 + 800 + 1,600 ms, then every 2 s until 120 s have passed.
    expect(idlePolls(120)).toBe(4 + Math.ceil((120_000 - 3_000) / 2_000));
    expect(idlePolls(1)).toBe(3);
  });

  it("draws each operation's cost as a line through the two job sizes, alarms counted as rows written", () => {
    expect(perCall(usage, "range_claim", 12)).toEqual({ rows_read: 100, rows_written: 7, do_requests: 2 });
    // 3 rows more per range: 288 ranges read 100 + 3 × 276.
    expect(perCall(usage, "range_claim", 288).rows_read).toBeCloseTo(928);
    expect(perCall(usage, "post", 288)).toEqual({ rows_read: 50, rows_written: 60, do_requests: 1 });
    expect(() => perCall(usage, "no_such_op", 12)).toThrow(/no measurement/);
  });

  it("prices a 1-hour job polled every 5 s from its counts", () => {
    const b = edgeBill(usage, scenario);
    // 12 ranges on 1 machine at 300×: 2 s of plan, then 12 s of ranges.
    expect({ ranges: b.ranges, machines: b.machines, wall_sec: b.wall_sec }).toEqual({ ranges: 12, machines: 1, wall_sec: 14 });
    const idle = idlePolls(120);
    const polls = Math.ceil(14 / 5);
    // create, plan claim + complete, 12 × (claim + 5 posts + complete), idle claims, polls, transcript, the exit notice.
    expect(b.worker_requests).toBe(1 + 2 + 12 * 7 + idle + polls + 1 + 1);
    const written = 30 + 5 + 20 + 12 * 7 + 12 * 5 * 60 + 12 * 4;
    expect(b.rows_written).toBe(written);
    expect(b.usd.rows_written).toBeCloseTo(written / 1e6);
    const read = 100 + 100 + 200 + 12 * 100 + 60 * 50 + 12 * 150 + idle * 2 + polls * 30 + 3600;
    expect(b.rows_read).toBe(read);
    // The job object and its queue shard awake for the job and 10 s after; the key index object twice for 10 s.
    expect(b.do_gb_s).toBeCloseTo((2 * (14 + 10) + 20) * 0.128);
    expect(b.edge_usd).toBeCloseTo(Object.values(b.usd).reduce((s, x) => s + x, 0));
    expect(b.edge_usd_per_audio_hour).toBe(b.edge_usd);
    // 12 s of ranges, 2 s of plan and 120 s idle before exit, at $0.43/h.
    expect(b.machine_usd_per_audio_hour).toBeCloseTo(((12 + 2 + 120) / 3600) * 0.43);
  });

  it("sizes the fleet by the job (8 machines for 24 h), and a follower reads no status and no transcript", () => {
    const poll = edgeBill(usage, { ...scenario, audio_hours: 24 });
    const follow = edgeBill(usage, { ...scenario, audio_hours: 24, client: "follow" });
    expect(poll.machines).toBe(8);
    expect(poll.ranges).toBe(288);
    const polls = Math.ceil(poll.wall_sec / 5);
    // The follower's one stream against the poller's polls and transcript read.
    expect(poll.worker_requests - follow.worker_requests).toBe(polls + 1 - 1);
    // Following reads more per post (the merge pushed to the stream), but not the transcript again.
    const perPostExtra = perCall(usage, "post_followed", 288).rows_read - perCall(usage, "post", 288).rows_read;
    expect(perPostExtra).toBeCloseTo(120 + 1 * (288 - 12) - 50);
    expect(follow.edge_usd_per_audio_hour).toBeCloseTo(follow.edge_usd / 24);
    // A slower poll makes fewer requests; more shards make each empty claim ask more objects.
    expect(edgeBill(usage, { ...scenario, poll_sec: 60 }).worker_requests).toBeLessThan(edgeBill(usage, scenario).worker_requests);
    expect(edgeBill(usage, { ...scenario, shards: 4 }).do_requests - edgeBill(usage, scenario).do_requests).toBe(3 * idlePolls(120) + 3 * Math.ceil(14 / 10));
  });

  it("uses the list prices it states, with their date", () => {
    expect(CLOUDFLARE_PRICES.source).toMatch(/December 2026/);
    const b = edgeBill(usage, scenario, { ...CLOUDFLARE_PRICES, rows_written_per_million: 2 });
    expect(b.usd.rows_written).toBeCloseTo((2 * b.rows_written) / 1e6);
  });
});
