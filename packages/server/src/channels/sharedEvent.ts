import { transformer } from '@herald/shared';

/**
 * One channel event, serialized at most once however many local subscribers
 * receive it. The channel layer owns the serialization (transformer + JSON);
 * the connection layer owns frames and caches them here per distinct
 * subscription id, so the stock client's habit of numbering ids from 1 on
 * every connection means most subscribers share one frame.
 */
export class SharedEvent {
  private serialized: string | null = null;
  private readonly frames = new Map<string, Buffer>();

  constructor(private readonly event: unknown) {}

  /** `JSON.stringify(transformer.serialize(event))`, computed on first use. */
  get json(): string {
    this.serialized ??= JSON.stringify(transformer.serialize(this.event));
    return this.serialized;
  }

  /** The frame for `key` (built by `build` the first time it is asked for). */
  frame(key: string, build: () => Buffer): Buffer {
    let frame = this.frames.get(key);
    if (!frame) {
      frame = build();
      this.frames.set(key, frame);
    }
    return frame;
  }
}
