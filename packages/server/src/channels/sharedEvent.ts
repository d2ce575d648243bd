/**
 * What a shared event is:
 * - `own`: made for one subscriber (a replayed message, a `live` or `gap` marker);
 * - `published`: a live message from the broker, the same object for every
 *   local subscriber of its topic (its position tells when it was published);
 * - `result`: a live query's result, the same object for every local
 *   subscriber of its input (its position is the result's version).
 */
export type SharedKind = 'own' | 'published' | 'result';

/**
 * One channel event (or live query result) at its position, shared by every local subscriber that
 * receives it. The connection layer memoizes its serialization and its frames
 * here, so they are built once per message however many subscribers there
 * are; frames are cached per distinct subscription id, and the stock client
 * numbers ids from 1 on every connection, so most subscribers share one.
 */
export class SharedEvent {
  /** Made on the first `memo` (events delivered to one subscriber never need one). */
  private memos: Map<string, unknown> | null = null;

  constructor(
    readonly position: string,
    /** The tracked event's data: a `ChannelEvent` for a channel, the whole result for a live query. */
    readonly event: unknown,
    readonly kind: SharedKind = 'own',
  ) {}

  /** What `memo` holds under `key`, if anything (a lookup that needs no `build` closure). */
  peek<T extends NonNullable<unknown>>(key: string): T | undefined {
    return this.memos?.get(key) as T | undefined;
  }

  /** `build()`'s result under `key`, computed the first time it is asked for (`build` never returns undefined). */
  memo<T extends NonNullable<unknown>>(key: string, build: () => T): T {
    const memos = (this.memos ??= new Map());
    let value = memos.get(key) as T | undefined;
    if (value === undefined) {
      value = build();
      memos.set(key, value);
    }
    return value;
  }
}
