/** Checks a workload before simulating it: every number sane, and every shard fits every device. */
import { validateModels } from '../hydra/scheduler/validate.js';
import type { Workload } from './types.js';

export function validateWorkload(w: Workload): void {
  validateModels(w.models);
  if (!Array.isArray(w.devices) || w.devices.length === 0) throw new RangeError(`devices: expected at least one device, got ${w.devices?.length ?? w.devices}`);
  w.devices.forEach((d, i) => {
    if (!(d.speed > 0) || !Number.isFinite(d.speed)) throw new RangeError(`devices[${i}].speed: expected a positive number, got ${d.speed}`);
    if (!(d.memoryBytes > 0)) throw new RangeError(`devices[${i}].memoryBytes: expected a positive number of bytes, got ${d.memoryBytes}`);
  });
  if (w.dispatchSeconds !== undefined && !(w.dispatchSeconds >= 0 && Number.isFinite(w.dispatchSeconds))) throw new RangeError(`dispatchSeconds: expected a finite number of seconds ≥ 0, got ${w.dispatchSeconds}`);
  if (!(w.bandwidth > 0)) throw new RangeError(`bandwidth: expected a positive number of bytes per second (or Infinity), got ${w.bandwidth}`);
  if (w.sharedBandwidth !== undefined && !(w.sharedBandwidth > 0)) throw new RangeError(`sharedBandwidth: expected a positive number of bytes per second (or Infinity), got ${w.sharedBandwidth}`);
  const smallest = Math.min(...w.devices.map((d) => d.memoryBytes));
  const smallestAt = w.devices.findIndex((d) => d.memoryBytes === smallest);
  for (const [i, m] of w.models.entries()) {
    for (const [k, s] of m.shards.entries()) {
      if (!(s.peakBytes >= 0) || !Number.isFinite(s.peakBytes)) throw new RangeError(`models[${i}].shards[${k}].peakBytes: expected a finite number ≥ 0, got ${s.peakBytes}`);
      // Any shard may run on any device, so each must fit the smallest one.
      if (s.peakBytes > smallest) {
        throw new RangeError(
          `models[${i}] ('${m.id}') shard ${k} needs ${s.peakBytes} bytes at its peak but device ${smallestAt} has ${smallest}: cut the model into more shards or give the devices more memory`,
        );
      }
    }
  }
}
