/**
 * The Herald server: `createHeraldServer` (or `attachHerald` to an app's server, `createHeraldHandler` for a framework's
 * own upgrade handling), `createHerald` and its channels, the memory broker, errors and defaults.
 * `jwtAuthenticator` is in `@herald/server/jwt`, `redisBroker` in `@herald/server/redis`.
 * @module @herald/server
 */
export { createHeraldServer, type HeraldServer } from './server.js';
export { attachHerald } from './attach.js';
export { createHeraldHandler, type HeraldHandler } from './handler.js';
export type { FetchHandlerOptions, HeraldFetchHandler } from './http/fetchHandler.js';
export {
  serverDefaults,
  type HeraldServerOptions,
  type HeraldHandlerOptions,
  type HeraldContextOptions,
  type HeartbeatOptions,
  type LimitOptions,
  type IdempotencyOptions,
  type Authenticate,
  type AuthOptions,
  type CompressionOptions,
  type MetricsOptions,
  type MetricsRegistry,
  type AdminOptions,
} from './options.js';
export type { AdminRouter } from './admin/router.js';
export type { ChannelView, ClusterView, NodeRates, NodeView } from './admin/figures.js';
export type { FoundConnection, NodeSubscribers, TopicSubscribers } from './admin/lookups.js';
export type { ChannelDetail, ChannelMember, ChannelMessage } from './admin/channelDetail.js';
export type { AdminEvent } from './admin/eventLog.js';
export type { ConnectionTransport, ServerEvent, ServerEventKind } from './observability/serverEvents.js';
export { withExpiry, type ExpiringUser } from './auth/identity.js';
export type { HeraldRequest } from './transport/requestHead.js';

export { createHerald, type Herald, type HeraldOptions } from './herald.js';
export {
  channelDefaults,
  resumeInput,
  type Authorize,
  type AuthorizeRequest,
  type CallerOptions,
  type Channel,
  type ChannelAction,
  type ChannelKeyRef,
  type ChannelOptions,
  type PositionedMessage,
  type PresenceChangeNotice,
  type StreamOptions,
} from './channels/channel.js';
export { LIVE_RETRY_DELAY_MS, type LiveQuery, type LiveQueryOptions, type LiveStreamOptions } from './live/liveQuery.js';
export type { UserChannel, UserChannelOptions } from './channels/userChannel.js';
export { connectionChannelDefaults, type ConnectionChannel, type ConnectionChannelOptions } from './channels/connectionChannel.js';
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
