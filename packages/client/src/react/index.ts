/**
 * React bindings on tRPC's TanStack Query integration: provider, connection state, channels that resume, presence, live queries.
 * @module @herald/client/react
 */
export { createHeraldReact, type HeraldProviderProps, type HeraldReact } from './createHeraldReact.js';
export { useConnectionStateOf } from './connection.js';
export { useOutboxOf, type OutboxState } from './outbox.js';
export { channelReducer, useChannel, type ChannelMessageOf, type ChannelState, type GapNotice, type UseChannelHandlers } from './channel.js';
export { isNewerVersion } from '../liveVersion.js';
export { useLiveQuery, type LiveQueryState } from './liveQuery.js';
export { presenceReducer, sortMembers, usePresence, type PresenceInfoOf, type PresenceMap, type PresenceState } from './presence.js';
export type {
  SubscriptionCallbacks,
  SubscriptionConnectionState,
  SubscriptionSource,
  SubscriptionStatus,
  TrackedEvent,
} from './subscription.js';
