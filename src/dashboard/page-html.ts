/**
 * The dashboard page as one HTML document: the bundled script (uPlot + src/dashboard/client) and stylesheets from
 * dist/dashboard/ inlined, and the job's data embedded as JSON. The live server and report.html serve this same
 * document; a Content-Security-Policy forbids the report any network access (the live page may reach its server).
 */
import { readFileSync } from 'node:fs';
import type { PageData } from './page-data.js';

let assets: { js: string; css: string } | undefined;

/** The bundle built by scripts/bundle-dashboard.mjs (`npm run build`). */
function loadAssets(): { js: string; css: string } {
  if (!assets) {
    const dir = new URL('../../dashboard/', import.meta.url);
    const read = (name: string) => {
      try {
        return readFileSync(new URL(name, dir), 'utf8');
      } catch {
        throw new Error(`the dashboard page is not built (${new URL(name, dir).pathname} is missing): run npm run build`);
      }
    };
    assets = { js: read('page.js'), css: `${read('uPlot.min.css')}\n${read('page.css')}` };
  }
  return assets;
}

function escHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function pageHtml(data: PageData): string {
  const { js, css } = loadAssets();
  // Inside <script>, only '</script' (and '<!--') can end the element early: escape every '<'.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const connect = data.mode === 'live' ? "'self'" : "'none'";
  const title = `${data.meta?.name ?? 'hydra job'} — hydra ${data.mode === 'live' ? 'dashboard' : 'report'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ${connect}">
<title>${escHtml(title)}</title>
<style>${css}</style>
</head>
<body>
<header id="header"></header>
<div class="controls"><button id="stop" hidden>Stop the job</button> <span id="stop-status"></span></div>
<section><h2>Models</h2><div id="table"></div></section>
<section><h2>Loss</h2>
<label>smoothing <select id="smoothing"><option value="0">none</option><option value="0.6" selected>0.6</option><option value="0.9">0.9</option></select></label>
<div id="loss"></div><div id="evals"></div></section>
<section><h2>Devices</h2><div id="timeline"></div><div id="memory"></div></section>
<section><h2>Host tier</h2><div id="host-memory"></div></section>
<section><h2>Events</h2><div id="log"></div></section>
<footer>${data.mode === 'report' ? 'report' : 'page'} generated ${escHtml(data.generatedAt)} by hydra-dl from the job's events</footer>
<script id="hydra-data" type="application/json">${json}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`;
}
