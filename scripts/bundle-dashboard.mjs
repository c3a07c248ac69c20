// Bundles the dashboard page (src/dashboard/client/page.ts with uPlot from node_modules) into one script, and copies
// its stylesheets, into dist/dashboard/. The live page and report.html inline these files: no CDN, no network.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = new URL('../dist/dashboard/', import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('../src/dashboard/client/page.ts', import.meta.url).pathname],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'inline', // uPlot's MIT notice stays in the bundle
  outfile: new URL('page.js', out).pathname,
  logLevel: 'warning',
});
copyFileSync(new URL('../node_modules/uplot/dist/uPlot.min.css', import.meta.url), new URL('uPlot.min.css', out));
copyFileSync(new URL('../src/dashboard/page.css', import.meta.url), new URL('page.css', out));
