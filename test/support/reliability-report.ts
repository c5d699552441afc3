import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Rows of reports/reliability.md: each reliability case records what it expected
 * and what it saw, then asserts. Node tests append here; edge tests (inside
 * workerd, without a file system) post to https://control.test/report, which the
 * fake internet (in Node) appends the same way. `npm run test:reliability` turns
 * the rows into the table (scripts/reliability-report.ts).
 */
export interface ReliabilityRow {
  suite: string;
  case: string;
  expected: string;
  observed: string;
  pass: boolean;
}

export const REPORT_ROWS_DIR = join(process.cwd(), "reports", "reliability-rows");

export function recordRow(row: ReliabilityRow): void {
  mkdirSync(REPORT_ROWS_DIR, { recursive: true });
  const file = join(REPORT_ROWS_DIR, `${row.suite.replace(/[^a-z0-9-]+/gi, "-").toLowerCase()}.jsonl`);
  appendFileSync(file, `${JSON.stringify({ ...row, at: new Date().toISOString() })}\n`);
}
