/** A min-heap of timed events; ties break by insertion order so runs are deterministic. */
export class EventQueue<T> {
  private readonly times: number[] = [];
  private readonly order: number[] = [];
  private readonly items: T[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  push(time: number, item: T): void {
    this.times.push(time);
    this.order.push(this.counter++);
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Time of the earliest event (Infinity when empty). */
  nextTime(): number {
    return this.items.length ? this.times[0] : Infinity;
  }

  /** The earliest event, or undefined when empty. */
  pop(): { time: number; item: T } | undefined {
    if (this.items.length === 0) return undefined;
    const out = { time: this.times[0], item: this.items[0] };
    const last = this.items.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.order.pop();
    this.items.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(l, m)) m = l;
      if (r < this.items.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return out;
  }

  private less(a: number, b: number): boolean {
    return this.times[a] < this.times[b] || (this.times[a] === this.times[b] && this.order[a] < this.order[b]);
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]];
    [this.order[a], this.order[b]] = [this.order[b], this.order[a]];
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
  }
}
