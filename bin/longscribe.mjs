#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader. "tsx" resolves from this
// file's own folder, so it works from any working directory.
import { register } from "tsx/esm/api";

register();
const { runAsProgram } = await import("../cli/longscribe.ts");
await runAsProgram();
