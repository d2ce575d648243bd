/**
 * A connection's calls by envelope, in the order they began. Most
 * connections hold one call at a time (a subscription, or a query in
 * flight), so the first is kept in two fields and a Map is made only while
 * there are two or more: an open subscription costs two fields, not a Map
 * and its hash table (bench/results.md, section 2).
 */
export class CallTable<V> {
  private soleKey: string | null = null;
  private soleValue: V | null = null;
  private map: Map<string, V> | null = null;

  get(key: string): V | undefined {
    if (this.map !== null) return this.map.get(key);
    return key === this.soleKey ? this.soleValue! : undefined;
  }

  set(key: string, value: V): void {
    if (this.map !== null) {
      this.map.set(key, value);
    } else if (this.soleKey === null || this.soleKey === key) {
      this.soleKey = key;
      this.soleValue = value;
    } else {
      this.map = new Map([[this.soleKey, this.soleValue!]]);
      this.map.set(key, value);
      this.soleKey = null;
      this.soleValue = null;
    }
  }

  delete(key: string): void {
    if (this.map !== null) {
      this.map.delete(key);
      if (this.map.size === 0) this.map = null;
    } else if (key === this.soleKey) {
      this.soleKey = null;
      this.soleValue = null;
    }
  }

  values(): Iterable<V> {
    if (this.map !== null) return this.map.values();
    return this.soleKey === null ? [] : [this.soleValue!];
  }

  clear(): void {
    this.map = null;
    this.soleKey = null;
    this.soleValue = null;
  }
}
