/**
 * The job's side of device-resident optimizer state (run/device-state.ts): before anything outside a device reads a
 * shard whose only current copy is on that device — a task of the shard on another device, a prefetch, a checkpoint,
 * the model's release — the device writes it back to the host tier. The devices report which shards they hold so.
 */
import type { DeviceHandle } from '../run/device-pool.js';

/** Whether any device holds the only current copy of the model's shard (any shard, without one), `except` aside. */
export function heldElsewhere(devices: readonly DeviceHandle[], modelId: string, shard?: number, except?: number): boolean {
  return devices.some((d) => d.id !== except && d.holdsDirty(modelId, shard));
}

/** Write the model's shard (every shard, without one) back to the host tier from every device but `except`. */
export async function writeBack(devices: readonly DeviceHandle[], modelId: string, shard?: number, except?: number): Promise<void> {
  await Promise.all(devices.filter((d) => d.id !== except && d.holdsDirty(modelId, shard)).map((d) => d.writeBack(modelId, shard)));
}
