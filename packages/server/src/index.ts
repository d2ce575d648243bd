/**
 * The Herald server: `createHeraldServer`, `createHerald` and its channels, the memory broker, errors and defaults.
 * `jwtAuthenticator` is in `@herald/server/jwt`, `redisBroker` in `@herald/server/redis`.
 * @module @herald/server
 */
export { createHeraldServer, type HeraldServer } from './server.js';
export {
  serverDefaults,
  type HeraldServerOptions,
  type HeraldContextOptions,
  type HeartbeatOptions,
  type LimitOptions,
  type IdempotencyOptions,
  type Authenticate,
  type AuthOptions,
  type CompressionOptions,
  type MetricsOptions,
  type AdminOptions,
} from './options.js';
export type { AdminRouter } from './admin/router.js';
export type { ChannelView, ClusterView, NodeRates, NodeView } from './admin/figures.js';
export type { FoundConnection } from './admin/lookups.js';
export { withExpiry, type ExpiringUser } from './auth/identity.js';

export { createHerald, type Herald, type HeraldOptions } from './herald.js';
export {
  channelDefaults,
  resumeInput,
  type Authorize,
  type AuthorizeRequest,
  type CallerOptions,
  type Channel,
  type ChannelAction,
  type ChannelOptions,
  type PositionedMessage,
  type StreamOptions,
} from './channels/channel.js';
export type {
  Broker,
  BrokerEntry,
  PresenceChange,
  PresenceListener,
  PresenceRecord,
  PresenceStore,
  ReadAfterResult,
  ReadLatestResult,
  Retention,
  TopicListener,
  Unsubscribe,
} from './brokers/broker.js';
export type { ClaimResult, IdempotencyStore } from './brokers/idempotency.js';
export { memoryBroker, memoryBrokerDefaults, type MemoryBrokerOptions } from './brokers/memory.js';
export { HeraldError, heraldErrorFormatter, RefusalReason, UpgradeRefusal, type ZodIssueLike } from './errors.js';
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
