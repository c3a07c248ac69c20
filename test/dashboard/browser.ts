/**
 * A real headless browser for the dashboard tests: Debian's chromium (`apt-get install chromium`, as .ci/run does)
 * driven by playwright-core; nothing is downloaded. HYDRA_CHROMIUM names another executable.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.HYDRA_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`the dashboard's browser tests need chromium at ${CHROMIUM}: apt-get install chromium (or set HYDRA_CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** Every request the page makes, and page errors (a script error fails the test). */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => void requests.push(r.url()));
  page.on('pageerror', (e) => void errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (window.hydraDashboard?.rendered ?? 0) > 0);
  return { page, requests, errors };
}

/** What the page shows: the table's cells by model, curve points per model, timeline bars, the header. */
export interface PageReading {
  rows: Record<string, Record<string, string>>;
  /** Non-null points of each model's training-loss series, by model. */
  curvePoints: Record<string, number>;
  /** The raw losses the page folded from the events, by model. */
  losses: Record<string, (number | null)[]>;
  bars: number;
  header: string;
}

export function readPage(page: Page): Promise<PageReading> {
  return page.evaluate(() => {
    const rows: Record<string, Record<string, string>> = {};
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('#table tbody tr')) {
      const cells: Record<string, string> = {};
      for (const td of tr.querySelectorAll<HTMLTableCellElement>('td')) cells[td.dataset.col!] = td.innerText.trim();
      rows[tr.dataset.model!] = cells;
    }
    const d = window.hydraDashboard!;
    const plot = d.charts.loss.plot!;
    const curvePoints: Record<string, number> = {};
    const losses: Record<string, (number | null)[]> = {};
    d.view.models.forEach((m, i) => {
      curvePoints[m.name] = (plot.data[i + 1] as (number | null)[]).filter((v) => v !== null && v !== undefined).length;
      losses[m.name] = m.losses;
    });
    return { rows, curvePoints, losses, bars: document.querySelectorAll('#timeline rect.task').length, header: document.getElementById('header')!.innerText };
  });
}
