/** The two stopping rules, as the stopper's Rule (see stopper.ts; definitions in types.ts). */
import { orderKey, type Entrant, type Rule } from './stopper.js';
import type { AshaConfig, MedianConfig } from './types.js';

export function ashaRule(c: AshaConfig): Rule {
  const eta = c.reduction_factor;
  return {
    name: 'asha',
    group: (index) => index % c.brackets,
    rungs(index, totalSteps) {
      const top = Math.min(totalSteps, c.max_steps ?? totalSteps);
      const out: number[] = [];
      // Integer arithmetic: rung steps must be exact whatever the platform.
      for (let r = c.grace_steps * eta ** (index % c.brackets); r < top; r *= eta) out.push(r);
      return out;
    },
    decide(me, step, peers) {
      const mine = orderKey(me.results.get(step)!);
      // Rank among the results recorded here so far; a tie goes to the model first in the order.
      const rank = 1 + peers.filter((p) => orderKey(p.results.get(step)!) <= mine).length;
      const keep = Math.ceil((peers.length + 1) / eta);
      const sorted = [...peers.map((p) => orderKey(p.results.get(step)!)), mine].sort((a, b) => a - b);
      return { stop: rank > keep, value: me.results.get(step)!, threshold: sorted[keep - 1] };
    },
  };
}

export function medianRule(c: MedianConfig): Rule {
  return {
    name: 'median',
    group: () => 0,
    rungs(_index, totalSteps) {
      const out: number[] = [];
      for (let r = c.grace_steps; r < totalSteps; r += c.interval_steps) out.push(r);
      return out;
    },
    decide(me, step, peers) {
      const best = Math.min(...upTo(me, step).map(orderKey));
      if (peers.length < c.min_samples) return { stop: false, value: best, threshold: NaN };
      const averages = peers.map((p) => mean(upTo(p, step))).sort((a, b) => orderKey(a) - orderKey(b));
      const h = averages.length >> 1;
      const median = averages.length % 2 === 1 ? averages[h] : (averages[h - 1] + averages[h]) / 2;
      return { stop: best > orderKey(median), value: best, threshold: median };
    },
  };
}

/** A model's results at its rungs up to `step`, in rung order (a fixed summation order: bitwise reproducible). */
function upTo(e: Entrant, step: number): number[] {
  return e.rungs.filter((r) => r <= step && e.results.has(r)).map((r) => e.results.get(r)!);
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
