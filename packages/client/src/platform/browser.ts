import type { EventSourceClass, PlatformSocketOptions, RefusedUpgrade } from './types.js';

/** Browsers bound the opening handshake themselves and expose no knob for it. */
export function platformWebSocket(_options: PlatformSocketOptions): typeof globalThis.WebSocket {
  return globalThis.WebSocket;
}

/** The browser's own `EventSource`, for subscriptions over HTTP. */
export async function platformEventSource(): Promise<EventSourceClass> {
  return globalThis.EventSource;
}

/** Runs `task` after the current task's synchronous code (browsers have no `nextTick`; a microtask comes closest). */
export function afterThisTick(task: () => void): void {
  queueMicrotask(task);
}

/** Browsers keep the HTTP answer to a refused upgrade to themselves (their `error` event says nothing): never called. */
export function onRefusedUpgrade(_socket: WebSocket, _listener: (answer: RefusedUpgrade) => void): void {}
