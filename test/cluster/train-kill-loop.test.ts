/**
 * Issue 16 item 6, single-machine crash safety: `hydra train` with `checkpoint_every: N` SIGKILLed at random moments
 * (≥ 5 kills), resumed with --resume after each, ends bitwise equal to an uninterrupted run. After each kill the
 * resume starts from the last checkpoint written (never an older one) and loses at most N steps. Finally the newest
 * checkpoint of a model is torn (truncated): the resume detects it (checksums) and uses the previous one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { hydra, hydraOk, sleep, tempDir, weightsOf, writeGrid } from './harness.js';

const N = 3;
const KILLS = Number(process.env.KILL_LOOP_KILLS ?? 5);

type Event = { type: string; model?: string; step?: number; message?: string };

function eventsFrom(file: string, offset: number): Event[] {
  const text = readFileSync(file, 'utf8').slice(offset);
  // A kill may cut the last line short; events.jsonl is written a line at a time.
  return text.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Event);
}

test(`hydra train killed with SIGKILL ${KILLS} times at random moments, resumed each time: bitwise equal`, { timeout: 240_000 }, async () => {
  const dir = tempDir('hydra-kill9-');
  const config = writeGrid(dir, { grid: { lr: [1e-2, 1e-3], batch_size: [2] }, steps: 60, checkpoint_every: N, segment_steps: undefined });
  await hydraOk(['train', config, '--progress', 'lines'], dir);
  const names = (JSON.parse(readFileSync(join(dir, 'single', 'results.json'), 'utf8')) as { models: { name: string; losses: number[] }[] }).models;

  const out = join(dir, 'killed');
  const events = join(out, 'events.jsonl');
  let kills = 0;
  let offset = 0;
  const resumedAt = new Map<string, number>();
  const before = { lastStep: new Map<string, number>(), durable: new Map<string, number>() };
  while (kills < KILLS) {
    const run = hydra(['train', config, '--out', out, '--progress', 'lines', ...(kills > 0 ? ['--resume'] : [])], dir);
    // Kill at a random moment once this run has trained at least one step (the first run: once a checkpoint
    // exists, since --resume refuses a job without any).
    let trained = false;
    while (!trained && run.child.exitCode === null) {
      await sleep(50);
      try {
        trained = eventsFrom(events, offset).some((e) => e.type === (kills === 0 ? 'checkpoint' : 'step'));
      } catch {
        /* not created yet */
      }
    }
    // A short random delay: a step takes tens of milliseconds on a quiet machine, so a long one lets a run finish.
    await sleep(Math.random() * 150);
    if (run.child.exitCode !== null) assert.fail(`the run finished before kill ${kills + 1}; make the job longer:\n${run.out()}`);
    run.child.kill('SIGKILL');
    await run.exited;
    kills++;
    const mine = eventsFrom(events, offset);
    // This run resumed each model where the previous kill left it: never before its last written checkpoint.
    for (const e of mine) {
      const m = e.type === 'log' ? /^(.*): resumed from .* at step (\d+)/.exec(e.message ?? '') : null;
      if (m) resumedAt.set(m[1], Number(m[2]));
    }
    if (kills > 1) {
      for (const { name } of names) {
        const resumed = resumedAt.get(name) ?? 0;
        const durable = before.durable.get(name) ?? 0;
        const lost = (before.lastStep.get(name) ?? -1) + 1 - resumed;
        assert.ok(resumed >= durable, `${name}: resumed at ${resumed} though a checkpoint at ${durable} had been written`);
        assert.ok(lost <= N, `${name}: kill ${kills - 1} lost ${lost} steps (checkpoint_every ${N})`);
      }
    }
    for (const e of mine) {
      if (e.model === undefined || e.step === undefined) continue;
      if (e.type === 'step') before.lastStep.set(e.model, Math.max(before.lastStep.get(e.model) ?? -1, e.step));
      if (e.type === 'checkpoint') before.durable.set(e.model, Math.max(before.durable.get(e.model) ?? 0, e.step));
    }
    offset = statSync(events).size;
  }

  // A torn newest checkpoint: detected, and the previous one is used. It needs a model with two checkpoints; on a
  // loaded machine every resumed run may have been killed before writing a second one, or while replacing one (the
  // newest renamed to `.last`, its successor not yet written). Then resumed runs are killed as soon as the files show
  // a model with both, until one does (a few attempts: each kill can again land inside a replacement).
  const ckpt = (name: string) => join(out, 'checkpoints', `${name}.ckpt`);
  const hasTwo = (name: string) => existsSync(ckpt(name)) && existsSync(`${ckpt(name)}.last`);
  for (let attempt = 0; attempt < 5 && !names.some((m) => hasTwo(m.name)); attempt++) {
    const run = hydra(['train', config, '--out', out, '--progress', 'lines', '--resume'], dir);
    while (run.child.exitCode === null && !names.some((m) => hasTwo(m.name))) await sleep(5);
    run.child.kill('SIGKILL');
    await run.exited;
  }
  const whole = names.find((m) => hasTwo(m.name));
  assert.ok(whole, 'a model has a checkpoint and the one before it');
  truncateSync(ckpt(whole.name), Math.floor(statSync(ckpt(whole.name)).size / 2));
  const last = await hydraOk(['train', config, '--out', out, '--progress', 'lines', '--resume'], dir);
  assert.ok(last.includes(`${whole.name}: checkpoint ${ckpt(whole.name)}: `), `the torn checkpoint is named:\n${last}`);
  assert.match(last, /resuming from the previous checkpoint .*\.ckpt\.last \(step \d+\) instead/);

  const want = weightsOf(join(dir, 'single'), names.map((m) => m.name));
  const got = weightsOf(out, names.map((m) => m.name));
  for (const { name } of names) assert.ok(got.get(name)?.equals(want.get(name)!), `${name}: weights after ${KILLS} kills differ from the uninterrupted run`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { models: { name: string; losses: number[] }[] };
  for (const m of names) assert.deepEqual(results.models.find((x) => x.name === m.name)?.losses, m.losses, `${m.name}: losses`);
});
