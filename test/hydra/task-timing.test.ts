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

/**
 * A bound that an OS preemption at the wrong moment can break (a "no time passed here" check) holds on one of five
 * tries: on a shared 2-core machine the process can be preempted for several milliseconds anywhere. Time the clock
 * really lost or misbooked would show in every try. `attempt` checks its strict bounds itself and returns null when
 * the fragile one held, else what it saw.
 */
async function holdsOnSomeTry(what: string, attempt: () => Promise<string | null>): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) {
    const miss = await attempt();
    if (miss === null) return;
    seen.push(miss);
  }
  assert.fail(`${what}, missed on every try: ${seen.join('; ')}`);
}

test('phaseClock: laps book the time since the previous lap to the phase named, and add up to the elapsed time', async () => {
  // The fragile bounds: nothing booked between two laps in a row, nothing lost between the last lap and the reading.
  await holdsOnSomeTry('an empty lap books nothing and the phases add up to the elapsed time', async () => {
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
    return c.phases.step < 0.005 && total >= elapsed - 0.005 ? null : `step ${c.phases.step}, phases ${total} vs elapsed ${elapsed}`;
  });
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
    // The phases may fall short of the caller's wall time only by what lies outside runShardTask's clock (the call and
    // the await's return): the fragile bound, checked on one of a few runs of the same task.
    let o!: Awaited<ReturnType<typeof runShardTask>>;
    await holdsOnSomeTry(`${kind}${shard}: the phases add up to the call's wall time`, async () => {
      const t0 = performance.now();
      o = await runShardTask(be, rt, views, { kind, shard, step: 0 });
      const wall = (performance.now() - t0) / 1000;
      const total = Object.values(o.phases).reduce((a, b) => a + b, 0);
      assert.ok(total <= wall, `${kind}${shard}: phases ${total} exceed the call's ${wall}`);
      return total >= 0.9 * wall - 0.002 ? null : `${total.toFixed(4)}/${wall.toFixed(4)}`;
    });
    assert.ok(o.phases.forward > 0 && o.phases.copyIn > 0, `${kind}${shard}: ${JSON.stringify(o.phases)}`);
    assert.equal(o.phases.backward > 0, kind !== 'F', `${kind}${shard}: backward ${o.phases.backward}`);
    // The step phase: the squared norms of the gradients a training task finishes, and shard 0's step (clipping).
    assert.equal(o.phases.step > 0, kind !== 'F', `${kind}${shard}: step ${o.phases.step}`);
  }
});
