import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEarlyStopper, validateEarlyStopping, type RungDecision } from '../../../src/hydra/scheduler/early-stopping/index.js';

const brief = (ds: RungDecision[]) => ds.map((d) => `${d.model}@${d.step}:${d.action === 'stop' ? `stop(${d.reason!.threshold})` : `go→${d.horizon}`}`);

/**
 * The hand-worked example (README): ASHA with grace 1, η = 2, 8 steps → rungs at 1, 2, 4. At a rung a model goes on
 * iff it ranks in the top ⌈n/2⌉ of the n results recorded there before it and its own.
 *   rung 1: m0 5.0 (n1 keep1 rank1 go) m1 4.0 (n2 k1 r1 go) m2 6.0 (n3 k2 r3 STOP, cutoff 5.0) m3 3.0 (n4 k2 r1 go)
 *           m4 5.5 (n5 k3 r4 STOP, cutoff 5.0) m5 4.5 (n6 k3 r3 go)
 *   rung 2: m0 4.0 (go) m1 4.5 (n2 k1 r2 STOP, cutoff 4.0) m3 2.5 (n3 k2 r1 go) m5 3.9 (n4 k2 r2 go)
 *   rung 4: m0 3.0 (go) m3 2.0 (n2 k1 r1 go) m5 3.1 (n3 k2 r3 STOP, cutoff 3.0)
 */
const CURVES: Record<number, Record<number, number>> = {
  1: { 0: 5.0, 1: 4.0, 2: 6.0, 3: 3.0, 4: 5.5, 5: 4.5 },
  2: { 0: 4.0, 1: 4.5, 3: 2.5, 5: 3.9 },
  4: { 0: 3.0, 3: 2.0, 5: 3.1 },
};
const ASHA = validateEarlyStopping({ kind: 'asha', grace_steps: 1, reduction_factor: 2, max_steps: 8 });
const EXPECTED = [
  '0@1:go→2', '1@1:go→2', '2@1:stop(5)', '3@1:go→2', '4@1:stop(5)', '5@1:go→2',
  '0@2:go→4', '1@2:stop(4)', '3@2:go→4', '5@2:go→4',
  '0@4:go→8', '3@4:go→8', '5@4:stop(3)',
];

test('ASHA: promotion and stopping decisions match the hand-worked example', () => {
  const s = createEarlyStopper(ASHA)!;
  for (let i = 0; i < 6; i++) assert.equal(s.add(i, 8), 1);
  assert.deepEqual(s.rungsOf(0), [1, 2, 4]);
  const got: RungDecision[] = [];
  for (const step of [1, 2, 4]) for (const [m, v] of Object.entries(CURVES[step])) got.push(...s.report(Number(m), step, v));
  assert.deepEqual(brief(got), EXPECTED);
  const stop = got.find((d) => d.model === 2)!;
  assert.deepEqual(stop.reason, { rule: 'asha', rung: 0, step: 1, metric: 'eval_loss', value: 6, threshold: 5 });
});

test('ASHA: decisions do not depend on the order in which models reach a rung (later models wait for earlier ones)', () => {
  // Arrivals in a scrambled wall-clock order: each model in its own rung order, models shuffled.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 20; trial++) {
    const s = createEarlyStopper(ASHA)!;
    for (let i = 0; i < 6; i++) s.add(i, 8);
    const next = new Map<number, number>([0, 1, 2, 3, 4, 5].map((m) => [m, 1])); // the rung each model reports next
    const got: RungDecision[] = [];
    let guard = 0;
    while (next.size > 0 && guard++ < 1000) {
      const ready = [...next.keys()].filter((m) => !s.waiting().some((w) => w.model === m));
      const m = ready[Math.floor(rand() * ready.length)];
      if (m === undefined) assert.fail(`stalled; waiting: ${JSON.stringify(s.waiting())}`);
      const step = next.get(m)!;
      next.delete(m);
      for (const d of s.report(m, step, CURVES[step][m])) {
        got.push(d);
        if (d.action === 'continue' && d.horizon < 8) next.set(d.model, d.horizon);
      }
    }
    assert.deepEqual(brief(got).sort(), [...EXPECTED].sort(), `trial ${trial}`);
  }
});

test('ASHA: a model waits at a rung until every earlier model has reported it or ended', () => {
  const s = createEarlyStopper(ASHA)!;
  for (let i = 0; i < 3; i++) s.add(i, 8);
  assert.deepEqual(s.report(2, 1, 1.0), [], 'model 2 waits for 0 and 1');
  assert.deepEqual(brief(s.report(0, 1, 5.0)), ['0@1:go→2']);
  // Model 1 ends without reaching rung 1 (e.g. it diverged): model 2 is judged against model 0 alone.
  assert.deepEqual(brief(s.end(1)), ['2@1:go→2']);
});

test('ASHA brackets: model i plays in bracket i mod brackets, whose rungs start at grace·η^s', () => {
  const s = createEarlyStopper(validateEarlyStopping({ kind: 'asha', grace_steps: 2, reduction_factor: 3, brackets: 2 }))!;
  assert.equal(s.add(0, 60), 2);
  assert.equal(s.add(1, 60), 6);
  assert.deepEqual(s.rungsOf(0), [2, 6, 18, 54]);
  assert.deepEqual(s.rungsOf(1), [6, 18, 54]);
  // Bracket 1's first model never waits for bracket 0's.
  assert.deepEqual(brief(s.report(1, 6, 9)), ['1@6:go→18']);
});

test('median rule: decisions match the hand-worked example', () => {
  // grace 2, interval 2, min_samples 2, 8 steps → rungs 2, 4, 6.
  //   rung 2: m0 5 go (0 peers) · m1 4 go (1 peer) · m2 6: peers' averages {5, 4}, median 4.5 → STOP
  //           m3 5: averages {5, 4, 6}, median 5, best 5 not worse → go
  //   rung 4: m0 4 go · m1 3.8 go (1 peer) · m3 4.4: averages m0 (5+4)/2 = 4.5, m1 (4+3.8)/2 = 3.9, median 4.2,
  //           best min(5, 4.4) = 4.4 > 4.2 → STOP
  const s = createEarlyStopper(validateEarlyStopping({ kind: 'median', grace_steps: 2, min_samples: 2 }))!;
  for (let i = 0; i < 4; i++) assert.equal(s.add(i, 8), 2);
  const got = [
    ...s.report(0, 2, 5), ...s.report(1, 2, 4), ...s.report(2, 2, 6), ...s.report(3, 2, 5),
    ...s.report(0, 4, 4), ...s.report(1, 4, 3.8), ...s.report(3, 4, 4.4),
  ];
  assert.deepEqual(brief(got), ['0@2:go→4', '1@2:go→4', '2@2:stop(4.5)', '3@2:go→4', '0@4:go→6', '1@4:go→6', '3@4:stop(4.2)']);
  assert.equal(got[6].reason!.value, 4.4);
});

test("mode max ranks the largest result first", () => {
  const s = createEarlyStopper(validateEarlyStopping({ kind: 'asha', mode: 'max', grace_steps: 1, reduction_factor: 2 }))!;
  s.add(0, 4);
  s.add(1, 4);
  s.report(0, 1, 0.5);
  assert.deepEqual(brief(s.report(1, 1, 0.4)), ['1@1:stop(0.5)']);
});

test('kind none has no stopper; bad settings name the field, the value and what is accepted', () => {
  assert.equal(createEarlyStopper(validateEarlyStopping({ kind: 'none' })), null);
  const bad: [unknown, RegExp][] = [
    [{ kind: 'hyperband' }, /early_stopping\.kind: expected one of none, asha, median, got "hyperband"/],
    [{ kind: 'asha' }, /early_stopping\.grace_steps: expected an integer ≥ 1 \(required with kind asha\), got nothing/],
    [{ kind: 'asha', grace_steps: 2, reduction_factor: 1 }, /early_stopping\.reduction_factor: expected an integer ≥ 2, got 1/],
    [{ kind: 'asha', grace_steps: 4, max_steps: 4 }, /early_stopping\.max_steps: expected an integer > grace_steps \(4\)/],
    [{ kind: 'median', grace_steps: 2, brackets: 2 }, /early_stopping\.brackets: unknown field \(value 2\); accepted with kind median: kind, metric, mode, grace_steps, interval_steps, min_samples/],
    [{ kind: 'asha', grace_steps: 1, metric: 'accuracy' }, /early_stopping\.metric: expected one of eval_loss, got "accuracy"/],
    ['asha', /early_stopping: expected a mapping/],
  ];
  for (const [v, re] of bad) assert.throws(() => validateEarlyStopping(v), re);
});
