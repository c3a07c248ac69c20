import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../../src/backend/js.js';
import { DeviceOutOfMemoryError } from '../../src/backend/backend.js';

test('js backend: budget is enforced and the high-water mark tracks peak use', () => {
  const be = new JsBackend({ budget: 1000 });
  const a = be.alloc(100);
  const b = be.alloc(100);
  assert.deepEqual(be.stats(), { budget: 1000, inUse: 800, highWater: 800 });
  assert.throws(() => be.alloc(100), DeviceOutOfMemoryError);
  be.free(a);
  be.free(b);
  assert.deepEqual(be.stats(), { budget: 1000, inUse: 0, highWater: 800 });
});
