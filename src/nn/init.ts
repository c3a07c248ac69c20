/**
 * Parameter initialisation on the host, from the counter-based generator: element i of parameter P under seed s is
 * a pure function of (s, P's name, i). The same model initialises identically however it is later sharded.
 */
import { hashString, keyPrefix, normalAt } from '../backend/rng.js';
import type { HostTensor } from './host-tensor.js';
import { numel, type ParamSpec } from './layer.js';
import type { Model } from './model.js';

const PURPOSE_INIT = 100;

export function initParam(spec: ParamSpec, seed: number, into?: Float32Array): HostTensor {
  const n = numel(spec.shape);
  const data = into ?? new Float32Array(n);
  if (data.length !== n) throw new RangeError(`init ${spec.name}: buffer has ${data.length} elements, shape needs ${n}`);
  const rule = spec.init;
  if (rule.kind === 'zeros') data.fill(0);
  else if (rule.kind === 'ones') data.fill(1);
  else {
    const prefix = keyPrefix({ seed: seed >>> 0, purpose: PURPOSE_INIT, step: 0, layer: hashString(spec.name) });
    for (let i = 0; i < n; i++) data[i] = rule.std * normalAt(prefix, i);
  }
  return { shape: [...spec.shape], data };
}

export function initModel(model: Model, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const p of model.params) out.set(p.name, initParam(p, seed));
  return out;
}
