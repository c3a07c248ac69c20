/**
 * Sharded-LRTF (the Hydra paper's policy, our default): a free device takes the next task of the ready model with
 * the LONGEST estimated remaining time. Models that are behind catch up, so all of them finish at about the same time
 * and no device idles at the end. Ready models sit in a list sorted by their not-yet-started work (the key only
 * changes while a model is in flight, i.e. out of the list): a decision takes the last member, and the lookahead
 * reads them best first at no cost.
 *
 * Devices of different speeds (beyond the paper, which assumes identical GPUs): plain LRTF lets a slow device grab
 * the longest model while a fast one is about to free, and the longest model then crawls to the end on the slow
 * device (up to 2× the optimum on small instances). So when a model is CRITICAL — finishing it on this device would
 * take at least as long as all remaining work spread over all devices, i.e. it is about to become the makespan — the
 * device takes it only if no other device would finish its next task clearly sooner (earliest finish time, as in HEFT
 * list scheduling): ready models are visited longest first, a critical one is left to the device that would finish
 * it earliest (a busy device counts only if the model it will put back is not longer: it would take that one), and
 * this device takes the first model it may. Mid-run no model is critical and this is plain LRTF
 * (whose choices the lookahead replays exactly); with identical devices it is always plain LRTF.
 *
 * Locality (when the executor says where shard parameters are): taking the longest model costs its next shard's
 * copy unless that shard is already on the device. So among the models whose remaining time is within a margin of
 * the longest (its next shard's measured copy time × its tasks left: see marginOf), one whose next shard is resident
 * or already prefetched here is taken instead — first the model this device ran last. A model passed over stays the
 * longest and its margin stays fixed while the others' remaining time falls: after finitely many such choices it
 * leads by more than the margin and is taken, so no model starves; and as the margin shrinks to one copy at the end,
 * all still finish within one copy and one task of each other. The lookahead predicts the same: the model this
 * device runs, if it is within the margin and its next shard is here or can be prefetched (and is then prefetched).
 */
import { BinaryHeap } from '../heap.js';
import { SortedIndexedList } from '../sorted-list.js';
import type { ModelState } from '../model-state.js';
import type { DeviceView, Lookahead, Policy } from '../policy.js';
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

/** Ready models looked at, beyond the longest, for one whose next shard is local (bounds a decision's cost). */
const LOCAL_SCAN = 8;

/**
 * How far behind the longest model a local one may be and still be preferred: the copies switching would cost if it
 * happened at every task the longest has left. Early on that lets devices keep their models (what locality saves is
 * large); it shrinks to one copy at the end, so models still finish within one copy and one task of each other.
 */
function marginOf(switchCost: number, longest: ModelState): number {
  return switchCost * (longest.tasksTotal - longest.tasksDone);
}

/** Another device must finish a task this much sooner (relative) to be preferred: measurement noise is not speed. */
const SPEED_TOLERANCE = 0.05;

const longer = (a: Virtual, b: Virtual) => a.key > b.key || (a.key === b.key && a.m.index < b.m.index);
const sooner = (a: ReplayEvent, b: ReplayEvent) => a.at < b.at || (a.at === b.at && a.order < b.order);

export class ShardedLrtf implements Policy {
  readonly name = 'sharded-lrtf' as const;
  private heap!: SortedIndexedList<ModelState>;

  private view!: DeviceView;
  /** Per device, the model it took last. */
  private last: (ModelState | undefined)[] = [];

  attach(models: readonly ModelState[], _devices: number, view: DeviceView): void {
    this.heap = new SortedIndexedList<ModelState>(models.length, (m) => m.notStarted);
    this.view = view;
  }

  ready(m: ModelState): void {
    this.heap.push(m);
  }

  withdraw(m: ModelState): void {
    this.heap.remove(m);
  }

  finished(): void {}

  held(): void {}

  added(m: ModelState): void {
    this.heap.grow(m.index + 1);
  }

  pick(device: number, now: number): ModelState | null {
    if (this.heap.size === 0) return null;
    const view = this.view;
    const mine = view.factor(device);
    // Fast path: nobody is clearly faster than this device, so earliest-finish cannot overrule LRTF.
    let fastest = Infinity;
    for (let d = 0; d < view.count; d++) if (d !== device) fastest = Math.min(fastest, view.factor(d));
    if (fastest >= mine * (1 - SPEED_TOLERANCE)) return this.pickLocal(device);
    let speedSum = 0;
    for (let d = 0; d < view.count; d++) speedSum += 1 / view.factor(d);
    const horizon = view.remainingWork() / speedSum; // all remaining work spread over every device
    const claimed = new Set<number>();
    for (const m of this.heap.descending()) {
      if (m.notStarted * mine < horizon) {
        this.heap.remove(m); // not critical here: plain LRTF
        return m;
      }
      const e = m.nextEstimate();
      let best = device, bestTime = e * mine * (1 - SPEED_TOLERANCE);
      for (let d = 0; d < view.count; d++) {
        if (d === device || claimed.has(d) || view.factor(d) >= mine) continue;
        // A device that will put back a longer model than this one takes that model, not this one (LRTF).
        const own = view.returns(d);
        if (own && own !== m && (own.notStarted > m.notStarted || (own.notStarted === m.notStarted && own.index < m.index))) continue;
        const t = view.availableAt(d, now) - now + e * view.factor(d);
        if (t < bestTime) (best = d), (bestTime = t);
      }
      if (best === device) {
        this.heap.remove(m);
        return m;
      }
      claimed.add(best); // that device will want this model when it asks
    }
    return null; // every ready model is better off on a faster device: stay free (the scheduler re-offers work)
  }

  /** LRTF, but a model whose next shard is here wins over the longest if it is within that shard's copy time of it. */
  private pickLocal(device: number): ModelState {
    const top = this.heap.at(0)!;
    const view = this.view;
    if (this.heap.size === 1 || view.local(device, top)) return this.take(device, top);
    const margin = marginOf(view.switchCost(device, top), top);
    if (margin > 0) {
      // The model this device ran last first (its shard is likeliest to be here), then the next longest.
      const last = this.last[device];
      if (last && last !== top && this.heap.has(last) && top.notStarted - last.notStarted <= margin && view.local(device, last)) return this.take(device, last);
      for (let r = 1; r <= LOCAL_SCAN; r++) {
        const m = this.heap.at(r);
        if (!m || top.notStarted - m.notStarted > margin) break;
        if (view.local(device, m)) return this.take(device, m);
      }
    }
    return this.take(device, top);
  }

  private take(device: number, m: ModelState): ModelState {
    this.heap.remove(m);
    this.last[device] = m;
    return m;
  }

  /**
   * Replay on estimates what happens until this device frees: every device asking earlier returns its model to the
   * pool and takes the longest one (a device with short tasks may come back several times; idle devices take work
   * whenever some is returned); then this device returns its own model and takes the longest of what is left.
   * The ready list is read in place, never copied; the other devices' frees arrive sorted and are merged with the
   * replay's own (a small heap), so a lookahead costs O(events · log devices).
   */
  predict(look: Lookahead): TaskRef | null {
    const ready = this.heap;
    let rank = 0;
    let nextReady = ready.at(0);
    const returned = this.returned;
    const replayed = this.events;
    returned.clear();
    replayed.clear();
    const take = (): Virtual | null => {
      const r = returned.top();
      const h = nextReady;
      if (h && (!r || h.notStarted > r.key || (h.notStarted === r.key && h.index < r.m.index))) {
        nextReady = ready.at(++rank);
        return { m: h, k: 0, key: h.notStarted };
      }
      return returned.pop() ?? null;
    };
    // The next free: the earlier of the other devices' (look.others, sorted by (at, order)) and the replay's own.
    const others = look.others;
    let oi = 0;
    const nextFree = (): ReplayEvent | null => {
      const o = oi < others.length ? others[oi] : null;
      const e = replayed.top();
      if (o && (!e || o.at < e.at || (o.at === e.at && o.order <= e.order))) {
        if (o.at > look.finish || (o.at === look.finish && o.order > look.order)) return null;
        oi++;
        return { at: o.at, order: o.order, factor: o.factor, returns: o.returns ? { m: o.returns, k: 0, key: o.returns.notStarted } : null };
      }
      if (!e || e.at > look.finish || (e.at === look.finish && e.order > look.order)) return null;
      return replayed.pop()!;
    };
    const waiting: ReplayEvent[] = []; // devices that found nothing: they take work as soon as some is returned
    let order = look.order + 1;
    const run = (e: ReplayEvent, at: number): boolean => {
      const v = take();
      if (!v) return false;
      const after = Number.isNaN(v.m.estimateAhead(v.k + 1)) ? null : { m: v.m, k: v.k + 1, key: v.m.remainingAfter(v.k + 1) };
      replayed.push({ at: at + v.m.estimateAhead(v.k) * e.factor, order: order++, factor: e.factor, returns: after });
      return true;
    };
    // Bound the replay: far-away frees barely matter and a lookahead must stay cheap.
    for (let budget = 4 * others.length + 16; budget > 0; budget--) {
      const e = nextFree();
      if (!e) break;
      if (e.returns) returned.push(e.returns);
      if (!run(e, e.at)) waiting.push(e);
      while (waiting.length > 0 && run(waiting[0], e.at)) waiting.shift();
    }
    const current = look.current;
    if (current) returned.push({ m: current, k: 0, key: current.notStarted });
    const mine = take();
    if (!mine) return null;
    // Locality: this device keeps its model if that model's next shard is already here and it is within the copy a
    // switch would cost (what pickLocal will decide).
    if (current && mine.m !== current && mine.k === 0 && (this.view.local(look.device, current) || this.view.prefetchable(current))) {
      const margin = marginOf(this.view.switchCost(look.device, mine.m), mine.m);
      if (margin > 0 && mine.key - current.notStarted <= margin) return current.next();
    }
    return mine.m.ahead(mine.k);
  }

  /** The replay's heaps, reused from one lookahead to the next (a lookahead allocates only its small records). */
  private readonly returned = new BinaryHeap<Virtual>(longer);
  private readonly events = new BinaryHeap<ReplayEvent>(sooner);
}
