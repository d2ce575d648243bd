/**
 * Closes what a test opened, newest first (clients before the servers they
 * talk to). Either one per test with `await using`, which closes everything
 * when the block ends, pass or fail:
 *
 *     await using cleanup = new Cleanup();
 *     const server = cleanup.add(await startNumbersServer());
 *
 * or one per file, with `run()` in afterEach. Every task runs even when an
 * earlier one throws; the failures are reported together afterwards.
 */
export class Cleanup implements AsyncDisposable {
  private readonly tasks: (() => Promise<unknown> | unknown)[] = [];

  /** Closes `resource` at cleanup; returns it, so a test can wrap the call that makes it. */
  add<T extends { close(): Promise<unknown> | unknown }>(resource: T): T {
    this.tasks.push(() => resource.close());
    return resource;
  }

  /** Runs `task` at cleanup. */
  defer(task: () => Promise<unknown> | unknown): void {
    this.tasks.push(task);
  }

  /** Runs every task added so far, newest first, and forgets them. */
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const task of this.tasks.splice(0).reverse()) {
      try {
        await task();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.run();
  }
}
