import { parseArgs } from "node:util";
import { ModelFilesError, packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { FloatGraphError } from "../gpu-machine/engine/float-graphs.ts";
import { writeFloatModel } from "../gpu-machine/engine/float-model.ts";

/**
 * `npm run model -- float <model-dir|tiny|base> --to fp32|fp16 --out <dir>`: a float
 * copy of a quantized Whisper export, for execution providers that want float
 * graphs (GPUs). The copy keeps every graph input and output, so the engine and
 * the machine load it like any export (WHISPER_MODEL_DIR=<dir>).
 */
const USAGE = `usage:
  npm run model -- float <model-dir|tiny|base> --to fp32|fp16 --out <dir>`;

function fail(message: string): never {
  process.stderr.write(`model: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: { to: { type: "string", default: "fp32" }, out: { type: "string" } } });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
const [command, source] = positionals;
if (command !== "float") fail(command === undefined ? "give a command: float" : `unknown command "${command}"`);
if (!source) fail("give the quantized model's directory, or tiny or base for the packaged ones");
if (values.to !== "fp32" && values.to !== "fp16") fail(`--to must be fp32 or fp16, not "${values.to}"`);
if (!values.out) fail("give --out <dir> for the float copy");
const dir = source === "tiny" || source === "base" ? (packagedModelDir(source) ?? fail(`sts-whisper-${source} is not installed: run npm install`)) : source;

try {
  const started = performance.now();
  const report = writeFloatModel(dir, values.out, values.to);
  for (const g of report.graphs) {
    process.stderr.write(
      `${g.file}: ${(g.bytes / 1e6).toFixed(1)} MB, ${g.stats.matmuls} MatMul and ${g.stats.convs} Conv dequantized (${(g.stats.parameters / 1e6).toFixed(1)} M weights)\n`,
    );
  }
  process.stderr.write(
    `${values.to} copy written to ${report.out} in ${((performance.now() - started) / 1000).toFixed(1)} s; load it with WHISPER_MODEL_DIR=${report.out}\n`,
  );
} catch (error) {
  if (error instanceof ModelFilesError || error instanceof FloatGraphError) fail(error.message);
  throw error;
}
