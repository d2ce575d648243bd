import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The channel topics an HTTP event stream's subscription iterates, for the
 * admin page's connections per channel. The event stream runs tRPC's
 * adapter inside `streamTopics.run(topics, …)`; a channel stream iterated
 * there adds its topic once it is open and removes it when it ends. Read
 * once per subscription, never per delivery.
 */
export const streamTopics = new AsyncLocalStorage<Set<string>>();
