/**
 * Sharded-LRTF (the Hydra paper's policy, our default): a free device takes the next task of the ready model with
 * the LONGEST estimated remaining time. Models that are behind catch up, so all of them finish at about the same time
 * and no device idles at the end. Ready models sit in a max-heap keyed by their not-yet-started work (the key only
 * changes while a model is in flight, i.e. out of the heap), so a decision is O(log models).
 */
import { BinaryHeap, IndexedMaxHeap } from '../heap.js';
import type { ModelState } from '../model-state.js';
import type { Lookahead, Policy } from '../policy.js';
import type { TaskRef } from '../types.js';

/** A model `k` tasks past its cursor, during a lookahead replay, with its key at that point. */
interface Virtual {
  m: ModelState;
  k: number;
  key: number;
}

interface ReplayEvent {
  at: number;
  order: number;
  factor: number;
  returns: Virtual | null;
}

const longer = (a: Virtual, b: Virtual) => a.key > b.key || (a.key === b.key && a.m.index < b.m.index);
const sooner = (a: ReplayEvent, b: ReplayEvent) => a.at < b.at || (a.at === b.at && a.order < b.order);

export class ShardedLrtf implements Policy {
  readonly name = 'sharded-lrtf' as const;
  private heap!: IndexedMaxHeap<ModelState>;

  attach(models: readonly ModelState[]): void {
    this.heap = new IndexedMaxHeap<ModelState>(models.length, (m) => m.notStarted);
  }

  ready(m: ModelState): void {
    this.heap.push(m);
  }

  withdraw(m: ModelState): void {
    this.heap.remove(m);
  }

  finished(): void {}

  pick(): ModelState | null {
    return this.heap.pop() ?? null;
  }

  /**
   * Replay on estimates what happens until this device frees: every device asking earlier returns its model to the
   * pool and takes the longest one (a device with short tasks may come back several times; idle devices take work
   * whenever some is returned); then this device returns its own model and takes the longest of what is left.
   * The ready heap is read lazily in descending order, never copied, so a lookahead costs O(events · log devices).
   */
  predict(look: Lookahead): TaskRef | null {
    const fromHeap = this.heap.descending();
    let nextInHeap = fromHeap.next();
    const returned = new BinaryHeap<Virtual>(longer);
    const take = (): Virtual | null => {
      const r = returned.top();
      const h = nextInHeap.done ? null : nextInHeap.value;
      if (h && (!r || longer({ m: h, k: 0, key: h.notStarted }, r))) {
        nextInHeap = fromHeap.next();
        return { m: h, k: 0, key: h.notStarted };
      }
      return returned.pop() ?? null;
    };
    const events = new BinaryHeap<ReplayEvent>(sooner);
    for (const o of look.others) events.push({ at: o.at, order: o.order, factor: o.factor, returns: o.returns ? { m: o.returns, k: 0, key: o.returns.notStarted } : null });
    const waiting: ReplayEvent[] = []; // devices that found nothing: they take work as soon as some is returned
    let order = look.order + 1;
    const run = (e: ReplayEvent, at: number): boolean => {
      const v = take();
      if (!v) return false;
      const task = v.m.ahead(v.k)!;
      const after = v.m.ahead(v.k + 1) ? { m: v.m, k: v.k + 1, key: v.m.remainingAfter(v.k + 1) } : null;
      events.push({ at: at + v.m.estimateOf(task.kind, task.shard) * e.factor, order: order++, factor: e.factor, returns: after });
      return true;
    };
    // Bound the replay: far-away frees barely matter and a lookahead must stay cheap.
    for (let budget = 4 * look.others.length + 16; budget > 0 && events.size > 0; budget--) {
      const e = events.top()!;
      if (e.at > look.finish || (e.at === look.finish && e.order > look.order)) break;
      events.pop();
      if (e.returns) returned.push(e.returns);
      if (!run(e, e.at)) waiting.push(e);
      while (waiting.length > 0 && run(waiting[0], e.at)) waiting.shift();
    }
    if (look.current) returned.push({ m: look.current, k: 0, key: look.current.notStarted });
    const mine = take();
    return mine ? mine.m.ahead(mine.k) : null;
  }
}
