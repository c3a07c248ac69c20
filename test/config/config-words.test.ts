import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inConfigWords } from '../../src/config/config-words.js';
import { checkMemoryBudgets } from '../../src/hydra/plan/memory-check.js';

test('library errors name API fields; the CLI shows them in the YAML config words', () => {
  let message = '';
  try {
    checkMemoryBudgets([{ name: 'm', paramBytes: 1000, optimizerStates: 2, fixedHostBytes: 0, layers: [{ name: 'a', paramBytes: 1000, inputBytes: 10, outputBytes: 10 }] }], { device: 100, host: Infinity });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /Raise deviceMemory, or lower the batch \(task\.train\.B\), the sequence length \(task\.train\.T\)/);
  assert.doesNotMatch(message, /device_memory|batch_size|block_size/, 'the library does not speak YAML');
  const shown = inConfigWords(message);
  assert.match(shown, /Raise device_memory, or lower the batch_size, the block_size or the model's width/);
  assert.equal(inConfigWords('hostMemory and spillDir; checkpointEvery, earlyStopping'), 'host_memory and spill_dir; checkpoint_every, early_stopping');
});
