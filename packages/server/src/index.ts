/**
 * The Herald server: `createHeraldServer`, `createHerald` and its channels, the memory broker, `jwtAuthenticator`, errors and defaults.
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
  type CompressionOptions,
  type MetricsOptions,
} from './options.js';
export { jwtAuthenticator, type JwtAuthenticatorOptions, type JwtKeySource } from './auth/jwt.js';
export { RefusalReason } from './observability/metrics.js';
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
export { HeraldError, heraldErrorFormatter, type ZodIssueLike } from './errors.js';
export { transformer } from '@herald/shared';
export type { ChannelEvent, GapReason, PresenceEvent, PresenceMember } from '@herald/shared';
