/**
 * `@herald/shared`: what Herald's server and client agree on, and what an app
 * uses of it. `@herald/server` and `@herald/client` re-export exactly these
 * names, so an app imports them from whichever Herald package it already
 * uses and need not depend on this one directly.
 *
 * Numbers and helpers only the two Herald packages need (wire paths, header
 * names, timing defaults, the tRPC code of each Herald code, base64) are in
 * `@herald/shared/internal`, which apps must not import.
 *
 * @module @herald/shared
 */
export { transformer } from './transformer.js';
export { msgpackEncoder } from './msgpack.js';
export type { WireEncoder } from './msgpack.js';
export { CloseCode } from './protocol.js';
export { HeraldErrorCode, heraldCodeOf } from './errors.js';
export type { ConnectionRefusal, ConnectionState, ConnectionStatus, Transport } from './connectionState.js';
export type { ChannelEvent, GapReason, PresenceEvent, PresenceMember } from './channel.js';
