/**
 * Native initialisation (native/init-normal.cc through initParamsInto) against the JavaScript reference (initParam):
 * every parameter bit for bit, whatever the thread count, written in place into shared memory; and the kernel's
 * log/cos against V8's Math.log/Math.cos on every input the generator can give them (the bound init-normal.cc's
 * exactness argument rests on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuAddonInfo, loadCpuAddon, readBuildStatus } from '../../src/backend/native-loader.js';
import { buildGpt2, gpt2Config } from '../../src/nn/gpt2.js';
import { initModel, initParamsInto } from '../../src/nn/init.js';
import { numel } from '../../src/nn/layer.js';
import type { Model } from '../../src/nn/model.js';

/** Like the backend suites: the addon may be missing only where the install found no toolchain. */
function skipReason(): string | undefined {
  if (cpuAddonInfo().available) return undefined;
  const status = readBuildStatus();
  if (process.env.HYDRA_REQUIRE_CPU !== '1' && status && !status.ok && status.toolchainMissing) return `cpu addon not built here: ${status.reason}`;
  return undefined; // the tests then fail on the missing addon, as they should
}

function bits(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

async function assertNativeEqualsReference(model: Model, seed: number, threads: number): Promise<void> {
  const shared = new Map(model.params.map((p) => [p.name, new Float32Array(new SharedArrayBuffer(numel(p.shape) * 4))]));
  const engine = await initParamsInto(model.params, seed, (p) => shared.get(p.name)!, { threads });
  assert.equal(engine, 'native');
  for (const [name, ref] of initModel(model, seed)) {
    assert.ok(bits(ref.data).equals(bits(shared.get(name)!)), `${model.arch}: parameter ${name} differs from the reference (threads ${threads})`);
  }
}

test('native init equals the reference bit for bit: GPT-2 tiny, 1 and 3 threads', { skip: skipReason() }, async () => {
  const model = buildGpt2(gpt2Config('gpt2-tiny'));
  await assertNativeEqualsReference(model, 7, 1);
  await assertNativeEqualsReference(model, 7, 3);
});

test('native init equals the reference bit for bit: a 10 M-parameter shape, 2 threads', { skip: skipReason() }, async () => {
  const model = buildGpt2(gpt2Config('gpt2-mini', { n_layer: 4, n_head: 6, n_embd: 384, n_ctx: 512, vocab_size: 8192 }));
  await assertNativeEqualsReference(model, 123456789, 2);
});

test('init without the native engine is the reference', async () => {
  const model = buildGpt2(gpt2Config('gpt2-tiny'));
  const out = new Map(model.params.map((p) => [p.name, new Float32Array(numel(p.shape))]));
  assert.equal(await initParamsInto(model.params, 3, (p) => out.get(p.name)!, { engine: 'js' }), 'js');
  for (const [name, ref] of initModel(model, 3)) assert.ok(bits(ref.data).equals(bits(out.get(name)!)), name);
});

test('init refuses a buffer of the wrong size, naming the parameter', async () => {
  const model = buildGpt2(gpt2Config('gpt2-tiny'));
  await assert.rejects(initParamsInto(model.params, 1, () => new Float32Array(3)), /init wte\.weight: buffer has 3 elements, shape needs 3216448/);
});

test("the kernel's log and cos are within 2^-46 of Math.log and Math.cos on all 2^24 generator outputs", { skip: skipReason() }, () => {
  const addon = loadCpuAddon();
  const chunk = 1 << 20, u = new Float64Array(chunk), l = new Float64Array(chunk), c = new Float64Array(chunk);
  let worstLog = 0, worstCos = 0;
  for (let k0 = 0; k0 < 1 << 24; k0 += chunk) {
    for (let k = 0; k < chunk; k++) u[k] = (k0 + k) * (1 / 16777216); // uniformAt's values: (hash >>> 8) / 2^24
    addon.normalLogCos(u, l, c);
    for (let k = 0; k < chunk; k++) {
      const jl = Math.log(1 - u[k]), jc = Math.cos(2 * Math.PI * u[k]);
      if (jl === 0) assert.equal(l[k], 0);
      else worstLog = Math.max(worstLog, Math.abs(l[k] - jl) / -jl);
      worstCos = Math.max(worstCos, Math.abs(c[k] - jc) / Math.abs(jc));
    }
  }
  assert.ok(worstLog < 2 ** -46, `log: worst relative error ${worstLog}`);
  assert.ok(worstCos < 2 ** -46, `cos: worst relative error ${worstCos}`);
});
