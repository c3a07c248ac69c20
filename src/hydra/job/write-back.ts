/**
 * The job's side of device-resident optimizer state (run/device-state.ts): before anything outside a device reads a
 * shard whose only current copy is on that device — a task of the shard on another device, a prefetch, a checkpoint,
 * the model's release — the device writes it back to the host tier. The devices report which shards they hold so.
 * A device that dies holding such a shard takes the model's latest steps with it: the model fails, saying so, rather
 * than going on (or ending) from the host tier's older copy.
 */
import type { DeviceHandle } from '../run/device-pool.js';

/** Whether any device holds the only current copy of the model's shard (any shard, without one), `except` aside. */
export function heldElsewhere(devices: readonly DeviceHandle[], modelId: string, shard?: number, except?: number): boolean {
  return devices.some((d) => d.id !== except && d.holdsDirty(modelId, shard));
}

/** Write the model's shard (every shard, without one) back to the host tier from every device but `except`. */
export async function writeBack(devices: readonly DeviceHandle[], modelId: string, shard?: number, except?: number): Promise<void> {
  await Promise.all(
    devices
      .filter((d) => d.id !== except && d.holdsDirty(modelId, shard))
      .map((d) => d.writeBack(modelId, shard).catch((e: unknown) => {
        throw new Error(`the latest steps of '${modelId}'${shard === undefined ? '' : ` (shard ${shard})`} were on device ${d.id} only and could not be written back: ${e instanceof Error ? e.message : String(e)}`);
      })),
  );
}

/** Why the model's latest steps are lost, if a device that died held the only current copy of any of its shards. */
export function lostWithDevice(devices: readonly DeviceHandle[], modelId: string): string | null {
  const d = devices.find((x) => x.dead && x.holdsDirty(modelId));
  return d ? `its latest steps were on device ${d.id} only, which died (${d.dead!.message}): they are lost` : null;
}
