import type { ChannelEvent } from '@herald/shared';

/**
 * One channel event at its position, shared by every local subscriber that
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
    readonly event: ChannelEvent<unknown>,
    /** A live message from the broker (not a replay or a marker): its position tells when it was published. */
    readonly live = false,
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
