import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { HydraEvent } from '../../src/hydra/api.js';
import { createProgress } from '../../src/report/progress.js';

function sink(isTTY: boolean): Writable & { text: () => string; isTTY: boolean } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string; isTTY: boolean; columns: number };
  w.isTTY = isTTY;
  w.columns = 200;
  w.text = () => chunks.join('');
  return w;
}

function stepEvents(model: string, n: number, t0: number): HydraEvent[] {
  return Array.from({ length: n }, (_, i): HydraEvent => ({ type: 'step', t: t0 + i + 1, model, step: i, epoch: 0, loss: 10 - i * 0.1, gradNorm: 1, lr: 1e-3 }));
}

test('not a TTY: plain periodic lines per model, eval and end lines, no escape codes', () => {
  const out = sink(false);
  const p = createProgress({ models: [{ name: 'a', totalSteps: 10 }, { name: 'bb', totalSteps: 10 }], stream: out });
  const events: HydraEvent[] = [
    { type: 'task-start', t: 0, device: 0, model: 'a', kind: 'F', shard: 0, step: 0 },
    ...stepEvents('a', 10, 0),
    { type: 'eval', t: 11, model: 'a', epoch: 0, loss: 8.5, perplexity: Math.exp(8.5), tokens: 100 },
    { type: 'model-end', t: 11, model: 'a', status: 'done' },
    ...stepEvents('bb', 3, 0),
    { type: 'model-end', t: 4, model: 'bb', status: 'diverged', reason: 'loss became NaN at step 3' },
    { type: 'log', t: 5, message: 'hello from the engine' },
  ];
  for (const e of events) p.onEvent(e);
  p.stop();
  const text = out.text();
  assert.doesNotMatch(text, /\x1b/, 'no escape codes');
  const lines = text.trimEnd().split('\n');
  // a: step 1, then every 2 steps (a fifth of 10) before the end, eval, end line.
  const aLines = lines.filter((l) => /\] a /.test(l));
  assert.deepEqual(aLines.map((l) => l.replace(/^\[\s*[\d.]+s\] /, '')), [
    'a   step  1/10  loss 10.0000  ETA 9.0s',
    'a   step  2/10  loss 9.9000  ETA 8.0s',
    'a   step  4/10  loss 9.7000  ETA 6.0s',
    'a   step  6/10  loss 9.5000  ETA 4.0s',
    'a   step  8/10  loss 9.3000  ETA 2.0s',
    'a   eval after epoch 0: loss 8.5000, perplexity 4915',
    'a   step 10/10  loss 9.1000  done',
  ]);
  assert.ok(lines.some((l) => /bb  step  3\/10  loss 9\.8000  diverged: loss became NaN at step 3$/.test(l)));
  assert.ok(lines.includes('hello from the engine'));
});

test('everySteps sets the plain-line interval', () => {
  const out = sink(false);
  const p = createProgress({ models: [{ name: 'm', totalSteps: 6 }], stream: out, everySteps: 3 });
  for (const e of stepEvents('m', 6, 0)) p.onEvent(e);
  p.stop();
  const steps = out.text().trimEnd().split('\n').map((l) => /step (\d)\/6/.exec(l)?.[1]);
  assert.deepEqual(steps, ['1', '3'], 'the final step is reported by the model-end line');
});

test('TTY: live bars show every model with step/total, loss and status', () => {
  const out = sink(true);
  const p = createProgress({ models: [{ name: 'lr=1e-3', totalSteps: 4 }, { name: 'lr=1e-4', totalSteps: 4 }], stream: out });
  for (const e of stepEvents('lr=1e-3', 4, 0)) p.onEvent(e);
  p.onEvent({ type: 'model-end', t: 5, model: 'lr=1e-3', status: 'done' });
  p.onEvent({ type: 'model-end', t: 5, model: 'lr=1e-4', status: 'failed', reason: 'boom' });
  p.stop();
  const text = out.text();
  assert.match(text, /lr=1e-3 .*4\/4 \| loss 9\.7000 \| eval - \| done \| ETA -/);
  assert.match(text, /lr=1e-4 .*0\/4 \| loss - \| eval - \| failed/);
  assert.match(text, /lr=1e-4: failed: boom/);
});
