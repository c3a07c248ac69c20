/** Shared bench plumbing: the machine description, a plain table printer and the JSON writer. */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BatchSource } from '../src/hydra/api.js';

export function machine(): { cpu: string; cores: number; memGiB: number; node: string } {
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  console.log(`wrote ${path}`);
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i])).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c] ?? ''))))].join('\n');
}

/** Random-token batches (timing does not depend on the text). */
export function randomTokens(vocab: number, B: number, T: number, stepsPerEpoch: number, salt = 0): BatchSource {
  return {
    B,
    T,
    stepsPerEpoch,
    batch(epoch, step) {
      const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
      let x = (epoch * 7919 + step * 104729 + salt * 15485863) >>> 0;
      for (let i = 0; i < B * T; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        tokens[i] = x % vocab;
        targets[i] = (x >>> 7) % vocab;
      }
      return { tokens, targets };
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median and range of repeated measurements: what every bench reports for a figure it measured more than once. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(xs: number[]): Spread {
  if (xs.length === 0) throw new RangeError('spread: no measurements');
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs };
}

/** "1.23 (1.10–1.31)": the median and the range of the runs. */
export function formatSpread(s: Spread, digits = 2): string {
  return s.runs.length > 1 ? `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : s.median.toFixed(digits);
}

/** Repetitions of a bench's measurement (env REPEATS, default 3): each headline figure is a median over them. */
export function repeats(): number {
  const n = Number(process.env.REPEATS ?? 3);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`REPEATS: expected a whole number ≥ 1, got ${process.env.REPEATS}`);
  return n;
}
