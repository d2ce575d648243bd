export { createHeraldClient, httpUrlOf, type HeraldClient } from './client.js';
export type { TransportMode } from './transportChooser.js';
export { clientDefaults, type HeraldClientOptions, type ConnectionParams } from './options.js';
export { backoffDefaults, fullJitterBackoff, type BackoffOptions } from './backoff.js';
export type { ConnectionStateListener, ConnectionStateSource } from './connectionState.js';
export { onChannelEvent, type ChannelHandlers, type TrackedChannelEvent } from './channelHandlers.js';
export {
  CloseCode,
  HeraldErrorCode,
  heraldCodeOf,
  transformer,
  type ChannelEvent,
  type ConnectionRefusal,
  type ConnectionState,
  type ConnectionStatus,
  type GapReason,
  type PresenceEvent,
  type PresenceMember,
  type Transport,
} from '@herald/shared';
