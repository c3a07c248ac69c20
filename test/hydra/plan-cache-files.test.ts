/** The plan cache's files: written atomically, and temp files of runs killed mid-write are swept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../../src/backend/js.js';
import { planFor } from '../../src/hydra/plan/plan-cache.js';
import { buildGpt2 } from '../../src/nn/gpt2.js';
import { ADAMW_DEFAULTS } from '../../src/optim/optimizer.js';
import type { TrainRecipe } from '../../src/optim/recipe.js';

const recipe: TrainRecipe = { optimizer: ADAMW_DEFAULTS, schedule: { warmupSteps: 0, decay: 'constant', minRatio: 0 }, clipNorm: 1, totalSteps: 2, seed: 1 };
const config = { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 8, vocab_size: 31, dropout: 0, tie: true };

test('plan cache: the plan is written atomically; a dead run\'s temp file is removed, a live one\'s kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hydra-plan-files-'));
  try {
    const dead = join(dir, '.abc.json.tmp-999999999-0123abcd'); // no such pid
    const live = join(dir, '.abc.json.tmp-1-0123abcd'); // pid 1 always runs
    writeFileSync(dead, '{"partial');
    writeFileSync(live, '{"partial');
    const tokens = Int32Array.from({ length: 16 }, (_, i) => i % 31);
    const { path } = await planFor({ model: buildGpt2(config), recipe, B: 2, T: 8, budget: 1 << 24, backendKey: 'js', maxBufferBytes: Infinity }, async () => new JsBackend(), tokens, dir);
    assert.ok(path && existsSync(path));
    const left = readdirSync(dir).sort();
    assert.deepEqual(left, ['.abc.json.tmp-1-0123abcd', path.slice(dir.length + 1)].sort(), `files left: ${left.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
