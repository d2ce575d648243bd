/**
 * Client-side failover across several server URLs: start at a random one (so
 * a crowd of clients spreads over the nodes), stay on it while it works, and
 * move to the next after an attempt that never opened.
 */
export class UrlRotation {
  #index: number;
  #lastAttemptOpened = true;
  #currentUrl: string;

  readonly #urls: readonly string[];

  constructor(
    urls: readonly string[],
    random: () => number = Math.random,
  ) {
    this.#urls = urls;
    if (urls.length === 0) throw new TypeError('createHeraldClient: `url` must name at least one server');
    this.#index = Math.floor(random() * urls.length);
    this.#currentUrl = urls[this.#index] as string;
  }

  /** The URL for the next connection attempt. */
  next(): string {
    if (!this.#lastAttemptOpened) this.#index = (this.#index + 1) % this.#urls.length;
    this.#lastAttemptOpened = false;
    this.#currentUrl = this.#urls[this.#index] as string;
    return this.#currentUrl;
  }

  /** The attempt made with the URL last returned has opened. */
  markOpened(): void {
    this.#lastAttemptOpened = true;
  }

  get current(): string {
    return this.#currentUrl;
  }
}
