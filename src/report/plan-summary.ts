/** One line per distinct partition plan, printed when the engine announces it. */
import type { PartitionPlan } from '../hydra/api.js';
import { formatBytes } from './format.js';

export function describePlan(plan: PartitionPlan, reused: boolean): string {
  const shards = plan.shards
    .map((s) => {
      const layers = s.layerNames.length <= 2 ? s.layerNames.join('+') : `${s.layerNames[0]}..${s.layerNames[s.layerNames.length - 1]}`;
      return `${layers} (${formatBytes(s.peakBytes.train)})`;
    })
    .join(' | ');
  const n = plan.shards.length;
  return `plan ${plan.key} (${reused ? 'cached' : 'new'}): B=${plan.B} T=${plan.T}, budget ${formatBytes(plan.budget)} → ${n} shard${n === 1 ? '' : 's'}: ${shards}`;
}

/** Prints each plan once, however many models share it, and which models use it. */
export class PlanPrinter {
  private readonly seen = new Set<string>();

  constructor(private readonly print: (line: string) => void) {}

  onPlan(model: string, plan: PartitionPlan, reused: boolean): void {
    if (this.seen.has(plan.key)) return;
    this.seen.add(plan.key);
    this.print(`${describePlan(plan, reused)}  [first used by ${model}]`);
  }
}
