import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { REPO_ROOT } from "../test/support/shared-data.ts";

/**
 * The Worker's static assets that are built, not written: public/app.js (the web
 * page's TypeScript, bundled) and public/vendor/swagger-ui (for /docs, from the
 * swagger-ui-dist package, so the reference needs no CDN). Run by npm install,
 * npm start, npm run deploy and the page's browser test.
 */
export async function buildWeb(): Promise<void> {
  const pub = join(REPO_ROOT, "public");
  await build({
    entryPoints: [join(REPO_ROOT, "web", "main.ts")],
    outfile: join(pub, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    sourcemap: "linked",
    logLevel: "warning",
  });
  const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const vendor = join(pub, "vendor", "swagger-ui");
  mkdirSync(vendor, { recursive: true });
  for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) copyFileSync(join(swagger, file), join(vendor, file));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await buildWeb();
