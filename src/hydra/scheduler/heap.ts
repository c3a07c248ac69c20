/**
 * A binary max-heap of items with dense integer indices, supporting removal of any member in O(log n).
 * Ties on the key go to the lower index, so every policy built on it is deterministic.
 */
export interface Indexed {
  readonly index: number;
}

export class IndexedMaxHeap<T extends Indexed> {
  private readonly items: T[] = [];
  /** Position of item i in `items`, or -1 when absent. */
  private pos: Int32Array;

  constructor(
    capacity: number,
    private readonly key: (item: T) => number,
  ) {
    this.pos = new Int32Array(capacity).fill(-1);
  }

  /** Make room for items with indices below `capacity` (models added to a running job). */
  grow(capacity: number): void {
    if (capacity <= this.pos.length) return;
    const pos = new Int32Array(Math.max(capacity, 2 * this.pos.length)).fill(-1);
    pos.set(this.pos);
    this.pos = pos;
  }

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.pos[item.index] >= 0;
  }

  top(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (this.has(item)) throw new Error(`heap: item ${item.index} is already present`);
    this.items.push(item);
    this.pos[item.index] = this.items.length - 1;
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(item: T): boolean {
    const i = this.pos[item.index];
    if (i < 0) return false;
    const last = this.items.pop()!;
    this.pos[item.index] = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      this.pos[last.index] = i;
      this.down(i);
      this.up(this.pos[last.index]);
    }
    return true;
  }

  /**
   * The members in descending order, lazily: only the ones taken are visited, O(k log k) for the first k, without
   * touching the heap (a frontier of candidate positions is kept aside).
   */
  *descending(): Generator<T> {
    if (this.items.length === 0) return;
    const frontier = new BinaryHeap<number>((a, b) => this.before(this.items[a], this.items[b]));
    frontier.push(0);
    for (let i = frontier.pop(); i !== undefined; i = frontier.pop()) {
      yield this.items[i];
      const l = 2 * i + 1;
      if (l < this.items.length) frontier.push(l);
      if (l + 1 < this.items.length) frontier.push(l + 1);
    }
  }

  /** Whether a ranks before b. */
  before(a: T, b: T): boolean {
    const ka = this.key(a), kb = this.key(b);
    return ka > kb || (ka === kb && a.index < b.index);
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let best = i;
      if (l < items.length && this.before(items[l], items[best])) best = l;
      if (r < items.length && this.before(items[r], items[best])) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i], b = this.items[j];
    this.items[i] = b;
    this.items[j] = a;
    this.pos[b.index] = i;
    this.pos[a.index] = j;
  }
}

/** A plain binary heap (min by `before`), for the lookahead's short-lived replays. */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  top(): T | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const out = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return out;
  }
}
