// Bundles the page with esbuild into dist/: main.js (src/main.ts and the
// client's browser entry point, @runwire/client/web), index.html, style.css.
// The browser platform makes any node:* import a build error.
import { copyFile, mkdir } from "node:fs/promises";

import { build } from "esbuild";

await mkdir("dist", { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  outfile: "dist/main.js",
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome116", "firefox124", "safari17"],
  sourcemap: true,
  logLevel: "warning",
});
await copyFile("index.html", "dist/index.html");
await copyFile("style.css", "dist/style.css");
console.log("built dist/ (index.html, main.js, style.css)");
