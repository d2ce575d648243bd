import type { PlatformSocketOptions } from './node.js';

/** Browsers bound the opening handshake themselves and expose no knob for it. */
export function platformWebSocket(_options: PlatformSocketOptions): typeof globalThis.WebSocket {
  return globalThis.WebSocket;
}
