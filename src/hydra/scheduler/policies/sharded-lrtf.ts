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
 * this device takes the first model it may. Mid-run no model is critical and this is plain LRTF with locality
 * (whose choices the lookahead replays exactly), as it always is with identical devices — whose learned speeds differ
 * by measurement noise: when that sent every decision down the earliest-finish path, which ignored locality, a third
 * of bench:grid's prefetch hints broke (27 of 72 decisions took that path; 23–30 hints broken of 70, 11 after).
 *
 * Locality (when the executor says where shard parameters are): taking the longest model costs its next shard's
 * copy unless that shard is already on the device. So among the models whose remaining time is within a margin of
 * the longest (its next shard's measured copy time × its tasks left: see marginOf), one whose next shard is resident
 * or already prefetched here is taken instead — first the one this device's lookahead named (its prefetch: named
 * within the margin one task earlier, it is honoured even if estimates moved since), then one it ran recently. A model
 * passed over stays the longest and its margin stays fixed while the others' remaining time falls: after finitely
 * many such choices it leads by more than the margin (plus the task a hint may add) and is taken, so no model
 * starves; and as the margin shrinks to one copy at the end, all still finish within one copy and a task or two of
 * each other.
 * A wrong prefetch hint costs a serial copy, so the lookahead predicts what pick() will do: a device that frees
 * earlier runs the model its own lookahead named (claimed), devices in the replay keep their model within the margin,
 * and a model another device has claimed is left to it (by pick() too: it frees within one task and takes it). On
 * `large` (1,000 models, 64 devices, the real models' plans) this cut serial copies from 10,075 to 751 and the makespan
 * from 730.5 s to 713.0 s, below model-lrtf's 713.6 s (bench:sim; 716.2 s against 716.9 s since the simulator also
 * counts the tied embedding's gradient copied into shard 0's backward).
 */
import { BinaryHeap } from '../heap.js';
import { SortedIndexedList } from '../sorted-list.js';
import type { ModelState } from '../model-state.js';
import type { DeviceView, Lookahead, Policy } from '../policy.js';
import type { TaskRef } from '../types.js';
import { grown } from './grow.js';

/** A model `k` tasks past its cursor, during a lookahead replay, with its key at that point. */
interface Virtual {
  m: ModelState;
  k: number;
  key: number;
}

interface ReplayEvent {
  device: number;
  at: number;
  order: number;
  factor: number;
  returns: Virtual | null;
  /** Another device's first free in the replay: the model its own lookahead named (it takes that one if it can). */
  claim: ModelState | null;
}

/** Ready models looked at, beyond the longest, for one whose next shard is local (bounds a decision's cost). */
const LOCAL_SCAN = 8;
/** Models a device remembers having run: their shards may still be in its cache. */
const RECENT = 8;

/**
 * How far behind the longest model a local one may be and still be preferred: the copies switching would cost if it
 * happened at every task the longest has left. Early on that lets devices keep their models (what locality saves is
 * large); it shrinks to one copy at the end, so models still finish within one copy and one task of each other.
 */
function marginOf(switchCost: number, longest: ModelState): number {
  return switchCost * (longest.tasksTotal - longest.tasksDone);
}

/**
 * A model part-way through its step, whose next shard is on this device (the shard its forward left there, the next
 * one prefetched), is compared with the longest by where it stood when the step began: it was the longest then (or
 * within the margin), and what it has run of the step since is no reason to move it. So a device finishes the steps it
 * starts — a backward finds its shard still resident — and switches models at step boundaries, where the next model's
 * first shard can be prefetched (a model's own next step cannot be: the step changes the shard). The credit is at most
 * one step, and nothing at a step's start, so a model passed over still leads by more than the margin after finitely
 * many choices and is taken (no starvation), and models finish within a step of each other at the end.
 */
function stepCredit(m: ModelState, offset = 0): number {
  const at = m.ahead(offset);
  return at && at.minibatch < m.horizon - 1 ? m.doneInStep(offset) : 0;
}

/** Another device must finish a task this much sooner (relative) to be preferred: measurement noise is not speed. */
const SPEED_TOLERANCE = 0.05;

const longerModel = (a: ModelState, b: ModelState) => a.notStarted > b.notStarted || (a.notStarted === b.notStarted && a.index < b.index);
const longer = (a: Virtual, b: Virtual) => a.key > b.key || (a.key === b.key && a.m.index < b.m.index);
const sooner = (a: ReplayEvent, b: ReplayEvent) => a.at < b.at || (a.at === b.at && a.order < b.order);

export class ShardedLrtf implements Policy {
  readonly name = 'sharded-lrtf' as const;
  private heap!: SortedIndexedList<ModelState>;

  private view!: DeviceView;
  /** Per device, the models it took last, most recent first (at most RECENT). */
  private recent: ModelState[][] = [];
  /** Per device, the model its latest lookahead named (the executor prefetches that model's next shard). */
  private predicted: (ModelState | null)[] = [];
  /**
   * Per device, that model if it was ready when named (the device will take it: other devices leave it alone), and
   * per model how many devices named it so.
   */
  private claims: (ModelState | null)[] = [];
  private claimCount = new Int32Array(0);

  attach(models: readonly ModelState[], _devices: number, view: DeviceView): void {
    this.heap = new SortedIndexedList<ModelState>(models.length, (m) => m.notStarted);
    this.view = view;
    this.claimCount = new Int32Array(models.length);
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
    this.claimCount = grown(this.claimCount, m.index + 1, 0);
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
    // No model is critical here: LRTF with locality, as on identical devices (whose learned speeds differ by noise).
    if (this.heap.at(0)!.notStarted * mine < horizon) return this.pickLocal(device);
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

  /**
   * LRTF with locality. Models another device's lookahead named are left to it (it is prefetching them and frees within
   * one task), so the reference is the longest ready model no other device expects; a local model within the margin
   * of it wins over it: one it ran recently, then the next longest. Before all of these, the model this device's own
   * lookahead named, if its shard is here. With nothing local, the reference itself (a copy is due anyway).
   */
  private pickLocal(device: number): ModelState {
    const top = this.heap.at(0)!;
    const view = this.view;
    if (this.heap.size === 1 || view.local(device, top) || view.switchCost(device, top) <= 0) return this.take(device, top);
    let ref = top;
    for (let r = 0; r <= LOCAL_SCAN; r++) {
      const m = this.heap.at(r);
      if (!m) break;
      if (!this.claimedByOther(m, device)) {
        ref = m;
        break;
      }
    }
    const margin = marginOf(view.switchCost(device, ref), ref);
    // A model part-way through its step is compared by where it stood when its step began (see stepCredit).
    const within = (m: ModelState | null | undefined): m is ModelState => !!m && this.heap.has(m) && ref.notStarted - m.notStarted <= margin + stepCredit(m);
    // The model this device's lookahead named is taken whenever it is ready and its shard is here (prefetched): the
    // lookahead named it within the margin one task ago, so honouring it lets the longest fall behind by at most one
    // more task, and a prefetch is never thrown away for a copy (re-checking the margin here, against estimates that
    // moved since, broke 1,300 of the hints on `large`: bench:sim, 714.4 → 713.0 s, serial copies 1,546 → 751).
    const p = this.predicted[device];
    if (p && this.heap.has(p) && view.local(device, p)) return this.take(device, p);
    let best: ModelState | null = null;
    for (const m of this.recent[device] ?? []) {
      if (!within(m) || (best && !longerModel(m, best)) || this.claimedByOther(m, device)) continue;
      if (view.local(device, m)) best = m;
    }
    if (best) return this.take(device, best);
    for (let r = 1; r <= LOCAL_SCAN; r++) {
      const m = this.heap.at(r);
      if (!m) break;
      if (within(m) && view.local(device, m) && !this.claimedByOther(m, device)) return this.take(device, m);
    }
    return this.take(device, ref);
  }

  /** Whether another device's latest lookahead named m (that device is prefetching m's next shard). */
  private claimedByOther(m: ModelState, device: number): boolean {
    return this.claimCount[m.index] - (this.claims[device] === m ? 1 : 0) > 0;
  }

  private take(device: number, m: ModelState): ModelState {
    this.heap.remove(m);
    const recent = (this.recent[device] ??= []);
    const at = recent.indexOf(m);
    if (at >= 0) recent.splice(at, 1);
    else if (recent.length === RECENT) recent.pop();
    recent.unshift(m);
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
    const returned = this.returned;
    const replayed = this.events;
    const claimed = this.claimedInReplay;
    returned.clear();
    replayed.clear();
    claimed.clear();
    const advance = () => {
      let m = ready.at(rank);
      while (m && claimed.has(m)) m = ready.at(++rank);
      return m;
    };
    let nextReady = advance();
    const take = (): Virtual | null => {
      const r = returned.top();
      const h = nextReady;
      if (h && (!r || h.notStarted > r.key || (h.notStarted === r.key && h.index < r.m.index))) {
        rank++;
        nextReady = advance();
        return { m: h, k: 0, key: h.notStarted };
      }
      return returned.pop() ?? null;
    };
    // A device that frees before this one runs the model its own lookahead named when it can (pick() honours that
    // prefetch): the model it returns, or a ready one no earlier free took. Otherwise it takes the longest.
    const takeClaim = (e: ReplayEvent): Virtual | null => {
      const c = e.claim;
      if (!c) return this.keepsInReplay(e.device, e.returns, nextReady, returned.top()) ? e.returns : null;
      if (e.returns?.m === c) return e.returns;
      // Taken already by an earlier free of the replay: it ranks above the next ready one (or none is left).
      if (!ready.has(c) || claimed.has(c) || !nextReady || (c !== nextReady && ready.before(c, nextReady))) return null;
      claimed.add(c);
      if (c === nextReady) nextReady = advance();
      return { m: c, k: 0, key: c.notStarted };
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
        return { device: o.device, at: o.at, order: o.order, factor: o.factor, returns: o.returns ? { m: o.returns, k: 0, key: o.returns.notStarted } : null, claim: this.claims[o.device] ?? null };
      }
      if (!e || e.at > look.finish || (e.at === look.finish && e.order > look.order)) return null;
      return replayed.pop()!;
    };
    const waiting: ReplayEvent[] = []; // devices that found nothing: they take work as soon as some is returned
    let order = look.order + 1;
    const run = (e: ReplayEvent, at: number, v = take()): boolean => {
      if (!v) return false;
      const after = Number.isNaN(v.m.estimateAhead(v.k + 1)) ? null : { m: v.m, k: v.k + 1, key: v.m.remainingAfter(v.k + 1) };
      replayed.push({ device: e.device, at: at + v.m.estimateAhead(v.k) * e.factor, order: order++, factor: e.factor, returns: after, claim: null });
      return true;
    };
    // Bound the replay: far-away frees barely matter and a lookahead must stay cheap.
    for (let budget = 4 * others.length + 16; budget > 0; budget--) {
      const e = nextFree();
      if (!e) break;
      const kept = takeClaim(e);
      if (e.returns && kept !== e.returns) returned.push(e.returns);
      if (!(kept ? run(e, e.at, kept) : run(e, e.at))) waiting.push(e);
      while (waiting.length > 0 && run(waiting[0], e.at)) waiting.shift();
    }
    const current = look.current;
    if (current) returned.push({ m: current, k: 0, key: current.notStarted });
    let mine = take();
    if (!mine) return this.remember(look.device, null, null);
    // A model another device already expects to run (it frees later, so it is not in this replay, but it is prefetching
    // that model) is left to it: the next longest within the margin instead, if there is one.
    if (mine.k === 0 && this.claimedByOther(mine.m, look.device)) {
      const first = mine, margin = marginOf(this.view.switchCost(look.device, first.m), first.m);
      for (let r = 0; r < LOCAL_SCAN; r++) {
        const next = take();
        if (!next || first.key - next.key > margin) break;
        if (next.k > 0 || !this.claimedByOther(next.m, look.device)) {
          mine = next;
          break;
        }
      }
    }
    // Locality: this device keeps its model if that model's next shard is already here and it is within the copy a
    // switch would cost (what pickLocal will decide).
    if (current && mine.m !== current && mine.k === 0 && (this.view.local(look.device, current) || this.view.prefetchable(current))) {
      const margin = marginOf(this.view.switchCost(look.device, mine.m), mine.m);
      if (margin > 0 && mine.key - current.notStarted <= margin + stepCredit(current)) return this.remember(look.device, current, current.next());
    }
    return this.remember(look.device, mine.m, mine.m.ahead(mine.k), mine.k === 0);
  }

  /**
   * A device freeing later in the replay keeps the model it ran (its shard stays local) if that model is within the
   * margin of the longest one it could take instead, as pick() would decide.
   */
  private keepsInReplay(device: number, own: Virtual | null, ready: ModelState | undefined, returned: Virtual | undefined): boolean {
    if (!own || !this.view) return false;
    const top = ready && (!returned || ready.notStarted > returned.key) ? ready : returned?.m;
    const topKey = ready && top === ready ? ready.notStarted : returned?.key;
    if (!top || topKey === undefined) return true;
    const cost = this.view.switchCost(device, top);
    return topKey - own.key <= (cost > 0 ? marginOf(cost, top) + stepCredit(own.m, own.k) : 0);
  }

  /** The lookahead is the device's prefetch hint: remember its model, which pick() then counts as local here. */
  private remember(device: number, m: ModelState | null, t: TaskRef | null, claim = true): TaskRef | null {
    this.predicted[device] = m;
    const old = this.claims[device];
    if (old) this.claimCount[old.index]--;
    // Without copy costs (no locality source) nothing is claimed: plain LRTF.
    const claims = claim && m !== null && this.view.switchCost(device, m) > 0;
    this.claims[device] = claims ? m : null;
    if (claims) this.claimCount[m.index]++;
    return t;
  }

  /** The replay's heaps, reused from one lookahead to the next (a lookahead allocates only its small records). */
  private readonly returned = new BinaryHeap<Virtual>(longer);
  private readonly events = new BinaryHeap<ReplayEvent>(sooner);
  private readonly claimedInReplay = new Set<ModelState>();
}
