/**
 * A binary min-heap: `push` and `pop` in O(log n), `peek` in O(1). The
 * outbox keeps its pending entries here in send order, so finding the next
 * one to send never sorts or scans the backlog (docs/outbox.md, "Limits").
 * Removal is lazy: the owner pops items it no longer wants when they reach
 * the top.
 */
export class OrderedQueue<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)`: whether `a` comes out before `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(items[index]!, items[parent]!)) break;
      [items[index], items[parent]] = [items[parent]!, items[index]!];
      index = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let first = index;
      if (left < items.length && this.#before(items[left]!, items[first]!)) first = left;
      if (right < items.length && this.#before(items[right]!, items[first]!)) first = right;
      if (first === index) break;
      [items[index], items[first]] = [items[first]!, items[index]!];
      index = first;
    }
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}

/**
 * Runs at most `limit` tasks at once, the others in the order they came (a
 * FIFO queue with O(1) steps): 100,000 entries recorded at once must not open
 * 100,000 files at once.
 */
export class Limiter {
  readonly #limit: number;
  #running = 0;
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((resume) => this.#waiting.push(resume));
    else this.#running++;
    try {
      return await task();
    } finally {
      this.#next();
    }
  }

  #next(): void {
    const resume = this.#waiting[this.#head];
    if (resume === undefined) {
      this.#running--;
      return;
    }
    this.#waiting[this.#head++] = undefined as never;
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    resume(); // the slot passes to it
  }
}
