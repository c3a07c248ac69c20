/**
 * Task timing (run/task-timing.ts): a task's phases partition its time in runShardTask, so bench:grid can compare
 * where a real task's seconds went with what the simulator charges for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { initModel } from '../../src/nn/init.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import { buildRuntime } from '../../src/hydra/run/model-runtime.js';
import { HostTier } from '../../src/hydra/tier/host-tier.js';
import { allocateHostState, viewsOf } from '../../src/hydra/tier/host-state.js';
import { runShardTask } from '../../src/hydra/run/shard-executor.js';
import { phaseClock } from '../../src/hydra/run/task-timing.js';

test('phaseClock: laps book the time since the previous lap to the phase named, and add up to the elapsed time', async () => {
  // The two bounds that say "no time passed here" (between two laps in a row; between the last lap and the caller's
  // reading) are checked on the best of a few tries: on a shared 2-core machine the OS can preempt the process right
  // there for several milliseconds. Time the clock really lost or misbooked would show in every try.
  const tries: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const t0 = performance.now();
    const c = phaseClock();
    await new Promise((r) => setTimeout(r, 20));
    c.lap('forward');
    c.lap('step'); // nothing since the last lap
    await new Promise((r) => setTimeout(r, 10));
    c.lap('forward');
    const elapsed = (performance.now() - t0) / 1000;
    assert.ok(c.phases.forward >= 0.029, `forward ${c.phases.forward}`);
    const total = Object.values(c.phases).reduce((a, b) => a + b, 0);
    assert.ok(total <= elapsed, `phases ${total} exceed the elapsed ${elapsed}`);
    tries.push(`step ${c.phases.step}, phases ${total} vs elapsed ${elapsed}`);
    if (c.phases.step < 0.005 && total >= elapsed - 0.005) return;
  }
  assert.fail(`every try booked time to an empty lap or lost time: ${tries.join('; ')}`);
});

test('runShardTask reports its phases: they add up to the task\'s time, and each kind spends time where it computes', async () => {
  const config = { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 23, dropout: 0.1, tie: true };
  const B = 2, T = 8;
  const be = new JsBackend();
  const rt = buildRuntime(buildGpt2(config), [{ from: 0, to: 3 }, { from: 3, to: 5 }], { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 1 }, clipNorm: 1, totalSteps: 1, seed: 0 }, B, T);
  const views = viewsOf(allocateHostState(rt, new HostTier(), 'm'));
  for (const [name, t] of initModel(rt.model, 0)) views.param(name).set(t.data);
  views.tokens().set(Int32Array.from({ length: B * T }, (_, i) => i % 23));
  views.targets().set(Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 23));
  for (const [kind, shard] of [['F', 0], ['FL', 1], ['B', 0]] as const) {
    // The phases may fall short of the caller's wall time only by what lies outside runShardTask's clock: the call
    // and the await's return. On a shared 2-core machine the OS can preempt the process right there for several
    // milliseconds, so the lower bound is checked on the best of a few runs of the same task; time the clock really
    // missed (a phase without a lap) would be missing from every run.
    let o: Awaited<ReturnType<typeof runShardTask>> | undefined;
    const tries: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const t0 = performance.now();
      o = await runShardTask(be, rt, views, { kind, shard, step: 0 });
      const wall = (performance.now() - t0) / 1000;
      const total = Object.values(o.phases).reduce((a, b) => a + b, 0);
      assert.ok(total <= wall, `${kind}${shard}: phases ${total} exceed the call's ${wall}`);
      tries.push(`${total.toFixed(4)}/${wall.toFixed(4)}`);
      if (total >= 0.9 * wall - 0.002) break;
      assert.ok(attempt < 4, `${kind}${shard}: phases vs the call's wall time, every try short: ${tries.join(', ')}`);
    }
    if (!o) throw new Error('unreachable');
    assert.ok(o.phases.forward > 0 && o.phases.copyIn > 0, `${kind}${shard}: ${JSON.stringify(o.phases)}`);
    assert.equal(o.phases.backward > 0, kind !== 'F', `${kind}${shard}: backward ${o.phases.backward}`);
    // The step phase: the squared norms of the gradients a training task finishes, and shard 0's step (clipping).
    assert.equal(o.phases.step > 0, kind !== 'F', `${kind}${shard}: step ${o.phases.step}`);
  }
});
