/**
 * The reconnecting, typed Herald client for browsers and Node: `createHeraldClient`.
 * @module @herald/client
 */
export { createHeraldClient, type HeraldClient } from './client.js';
export { httpUrlOf } from './sessions/urls.js';
export type { TransportMode } from './connection/transportChooser.js';
export { clientDefaults, type HeraldClientOptions, type ConnectionParams, type HttpTransport, type WireEncoding } from './options.js';
export { backoffDefaults, fullJitterBackoff, type BackoffOptions } from './connection/backoff.js';
export type { ConnectionStateListener, ConnectionStateSource } from './connection/connectionState.js';
export type { ClientCallSpan, ClientTracing } from './calls/tracing.js';
export type {
  HeraldPersistence,
  Outbox,
  OutboxEntry,
  OutboxError,
  OutboxOutcome,
  PersistedCall,
  PersistedCallObserver,
  PersistenceAttachment,
  PersistenceTracker,
} from './persistence.js';
export { onChannelEvent, type ChannelHandlers, type TrackedChannelEvent } from './channelHandlers.js';
// The public set of `@herald/shared`, re-exported by `@herald/server` and
// `@herald/client` alike (packages/shared/test/exports.test.ts checks both
// against `@herald/shared`'s root), so an app imports these names from the
// Herald package it uses.
export {
  CloseCode,
  HeraldErrorCode,
  heraldCodeOf,
  msgpackEncoder,
  transformer,
  type ChannelEvent,
  type ConnectionRefusal,
  type ConnectionState,
  type ConnectionStatus,
  type GapReason,
  type PresenceEvent,
  type PresenceMember,
  type Transport,
  type WireEncoder,
} from '@herald/shared';
