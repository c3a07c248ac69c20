/**
 * A model whose whole training is one segment (segment_steps ≥ its steps) commits a finished checkpoint, like the
 * last segment of a longer model; before, train() wrote none for it and the segment failed ("should end with a
 * checkpoint ... got none") on every retry. No Redis needed: the runner is called directly with a directory store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/index.js';
import { runSegments } from '../../src/cluster/segment-runner.js';
import { checkpointKey, segmentAt, type ClusterJobSpec } from '../../src/cluster/spec.js';
import { openStore } from '../../src/cluster/store.js';
import { tinyTask } from '../hydra/helpers.js';

test('cluster: a one-segment model (segment_steps >= steps) and the last segment of a two-segment one commit their checkpoints', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hydra-one-segment-'));
  try {
    const store = await openStore(join(root, 'store'));
    const tasks = [tinyTask('short', { steps: 3 }), tinyTask('long', { seed: 2, steps: 6 })];
    const spec: ClusterJobSpec = {
      version: 1, name: 'j', submittedAt: new Date().toISOString(), config: {}, data: {} as ClusterJobSpec['data'], segmentSteps: 4,
      models: [{ name: 'short', safe: 'short', totalSteps: 3 }, { name: 'long', safe: 'long', totalSteps: 6 }],
    };
    const o = { store, train, devices: 'js:1', deviceMemory: 1 << 24, planDir: null, workDir: root, worker: 'w1', log: () => {} };
    const job = { spec, tasks };
    const first = await runSegments(job, [segmentAt(spec, 0, 0), segmentAt(spec, 1, 0)], o);
    assert.deepEqual(first.map((r) => [r.record.model, r.record.status, r.record.to]), [['short', 'done', 3], ['long', 'stopped', 4]]);
    assert.ok(await store.exists(checkpointKey('j', 'short', 3)), 'the one-segment model committed its finished checkpoint');
    assert.ok(await store.exists(checkpointKey('j', 'long', 4)));
    const second = await runSegments(job, [segmentAt(spec, 1, 1)], o);
    assert.deepEqual(second.map((r) => [r.record.model, r.record.status, r.record.to]), [['long', 'done', 6]]);
    assert.ok(await store.exists(checkpointKey('j', 'long', 6)));
    // Replaying the committed one-segment model trains nothing.
    const again = await runSegments(job, [segmentAt(spec, 0, 0)], o);
    assert.equal(again[0].replayed, true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
