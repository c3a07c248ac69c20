/**
 * Members with dense integer indices kept sorted by a key, largest first, ties to the lower index — the order of
 * IndexedMaxHeap. Sharded-LRTF's ready models live here rather than in a heap because its lookahead reads them in
 * descending order on every task (dozens of reads per lookahead at 64 devices): here a read is an array access,
 * where a heap needs a frontier heap of its own. Insert and remove move part of one array (O(n) pointer moves, well
 * under a microsecond for the ~10³ models of a large job). A member's key must not change while it is in the list.
 */
import type { Indexed } from './heap.js';

export class SortedIndexedList<T extends Indexed> {
  /** Ascending: the best member is last, so pop() is O(1). */
  private readonly items: T[] = [];
  private member: Uint8Array;

  constructor(
    capacity: number,
    private readonly key: (item: T) => number,
  ) {
    this.member = new Uint8Array(capacity);
  }

  /** Make room for items with indices below `capacity` (models added to a running job). */
  grow(capacity: number): void {
    if (capacity <= this.member.length) return;
    const member = new Uint8Array(Math.max(capacity, 2 * this.member.length));
    member.set(this.member);
    this.member = member;
  }

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.member[item.index] === 1;
  }

  push(item: T): void {
    if (this.has(item)) throw new Error(`sorted list: item ${item.index} is already present`);
    this.items.splice(this.rankFromBottom(item), 0, item);
    this.member[item.index] = 1;
  }

  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const p = this.rankFromBottom(item);
    if (this.items[p] !== item) throw new Error(`sorted list: item ${item.index}'s key changed while it was listed`);
    this.items.splice(p, 1);
    this.member[item.index] = 0;
    return true;
  }

  /** Remove and return the best member. */
  pop(): T | undefined {
    const top = this.items.pop();
    if (top !== undefined) this.member[top.index] = 0;
    return top;
  }

  /** The member `rank` places from the top (0: the best), or undefined. O(1). */
  at(rank: number): T | undefined {
    return this.items[this.items.length - 1 - rank];
  }

  /** The members, best first. */
  *descending(): Generator<T> {
    for (let i = this.items.length - 1; i >= 0; i--) yield this.items[i];
  }

  /** Whether a ranks before b (larger key, then lower index). */
  before(a: T, b: T): boolean {
    const ka = this.key(a), kb = this.key(b);
    return ka > kb || (ka === kb && a.index < b.index);
  }

  /** How many members rank below `item`: its position in the ascending array. */
  private rankFromBottom(item: T): number {
    let lo = 0, hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.before(item, this.items[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
