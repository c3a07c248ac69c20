import { test } from 'node:test';
import assert from 'node:assert/strict';
import { size } from '../../src/config/sizes.js';
import { ConfigError } from '../../src/config/errors.js';

test('sizes accept binary and decimal units and plain byte counts', () => {
  assert.equal(size('64MiB', 'x'), 64 * 1024 ** 2);
  assert.equal(size('2GiB', 'x'), 2 * 1024 ** 3);
  assert.equal(size('500MB', 'x'), 500e6);
  assert.equal(size('1.5GiB', 'x'), 1.5 * 1024 ** 3);
  assert.equal(size('512 KiB', 'x'), 512 * 1024);
  assert.equal(size('4096', 'x'), 4096);
  assert.equal(size(1048576, 'x'), 1048576);
  assert.equal(size('2gib', 'x'), 2 * 1024 ** 3);
});

test('bad sizes name the field, the value and the accepted forms', () => {
  for (const bad of ['lots', '64 parsecs', '-1MiB', 0, -5, '', true, null, [64], '1e400TB', 1e400, '9000TiB', 2 ** 60]) {
    assert.throws(
      () => size(bad, 'device_memory'),
      (e: unknown) => e instanceof ConfigError && e.path === 'device_memory' && /expected a size like '64MiB', '2GiB', '500MB' or a positive byte count \(at most 8 PiB\), got/.test(e.message),
      `value ${JSON.stringify(bad)}`,
    );
  }
  assert.throws(() => size('0.1B', 'host_memory'), /host_memory: expected a size/);
});
