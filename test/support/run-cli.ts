import type { CliIo } from "../../cli/cli-io.ts";
import { main } from "../../cli/longscribe.ts";

/** Runs the CLI in-process with captured output; env is empty so the host's LONGSCRIBE_* cannot leak in. */
export async function runCli(args: string[], cwd: string, io: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    isTTY: false,
    columns: 80,
    env: {},
    cwd,
    pollMs: 5,
    signal: undefined,
    ...io,
  });
  return { code, stdout, stderr };
}
