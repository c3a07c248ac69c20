/**
 * `hydra train --dry-run`'s placement: every model planned (a cached plan, or the pilot pass — the plan is cached for
 * the run), then placed across RAM and disk under the host cap exactly as train() would, without allocating
 * anything: which state goes where, the bytes read and written per step, and whether the preflight would refuse.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fsSafeNames } from '../../report/names.js';
import type { TrainOptions, TrainTask } from '../api.js';
import { parseDevices } from '../run/device-spec.js';
import { defaultHostMemory, deviceNeed, devicesInRam, physicalMemory, withDeviceNeed } from '../tier/physical-memory.js';
import { describePlacement, placeJob } from '../tier/placement.js';
import { activationMode, withActivationOffload } from '../tier/activation-offload.js';
import { describeRam, freeDiskBytes, preflight, PreflightError, type PreflightInput } from '../tier/preflight.js';
import { weightsOnDiskBytes } from '../tier/result-weights.js';
import { formatBytes, parseBytes } from '../units.js';
import { planModel, type PlannedModel } from './job-plan.js';
import { checkTasks, usableDevices } from './train-setup.js';

export async function previewPlacement(tasks: TrainTask[], options: TrainOptions): Promise<string[]> {
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const lines: string[] = [];
  const emit = () => undefined;
  const dev = await usableDevices(parseDevices(options.devices), (m) => lines.push(m));
  const budget = parseBytes(options.deviceMemory, 'deviceMemory');
  const taskModels = await checkTasks(tasks);
  const safeNames = fsSafeNames(tasks.map((t) => t.name));
  const planned: PlannedModel[] = [];
  for (const [i, t] of tasks.entries()) planned.push(await planModel(i, t, safeNames.get(t.name)!, taskModels[i], { options, emit, now, budget, dev }));
  const ram = physicalMemory();
  const devices = withDeviceNeed(devicesInRam(dev, budget), deviceNeed(planned));
  const cap = options.hostMemory !== undefined ? parseBytes(options.hostMemory, 'hostMemory') : defaultHostMemory(ram, devices);
  const spill = options.spillDir === undefined ? '.hydra/spill' : options.spillDir;
  const rts = planned.map((p) => ({ name: p.task.name, rt: p.rt }));
  const jp = withActivationOffload(placeJob(rts, spill === null ? Infinity : cap, dev.count), rts, cap, activationMode(options.activations));
  lines.push(`hostMemory ${formatBytes(cap)}${options.hostMemory === undefined ? ' (the default share of RAM)' : ''}; spillDir ${spill ?? '(none: no disk tier)'}`);
  lines.push(...describePlacement(jp));
  const resultDiskBytes = jp.models.reduce((a, m, i) => a + weightsOnDiskBytes(planned[i].rt, m), 0);
  const paramBytes = planned.reduce((a, p) => a + p.rt.params.reduce((b, q) => b + 4 * q.n, 0), 0);
  const check: PreflightInput = {
    hostBytes: jp.hostBytes, hostFloor: spill === null ? jp.hostBytes : jp.hostFloor, diskBytes: jp.diskBytes, resultDiskBytes: options.streamWeights ? 0 : resultDiskBytes, devices, hostCap: cap, hostCapGiven: options.hostMemory !== undefined, ram,
    // The spill directory may not exist yet (a default is created when needed): the disk it would be on.
    ...(spill === null ? {} : { spillDir: spill, diskFree: freeDiskBytes(existingAncestor(resolve(spill))) }),
  };
  lines.push(describeRam(check, { ram: paramBytes - resultDiskBytes, disk: resultDiskBytes }));
  try {
    preflight(check);
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    lines.push(`would be refused: ${e.message}`);
  }
  return lines;
}

function existingAncestor(p: string): string {
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}
