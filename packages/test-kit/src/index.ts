/**
 * @herald/test-kit: what Herald's own tests share. Private, never published;
 * read through the `herald-source` condition, so it needs no build.
 * docs/testing.md says how a test uses it.
 */

// Cleanup, and bounded waits: event-driven first, polling only where nothing announces the fact.
export { Cleanup } from './cleanup.js';
export { holdsUntil, nextError, nextEvent, nextState, pollUntil, withTimeout, type PollOptions } from './waits.js';

// Clients of both kinds, their statuses, and recordings of what they receive.
export {
  CLIENT_KINDS,
  FAST_BACKOFF,
  heraldClient,
  makeClient,
  stockClient,
  TEST_ENCODING,
  trpcErrorOf,
  type ClientKind,
  type ConnectionParams,
  type TestClient,
  type TestClientOptions,
} from './clients.js';
export { heraldStatuses, stockStatuses, type StatusSource, type StatusTarget } from './statuses.js';
export {
  recordChannel,
  recordStatuses,
  recordSubscription,
  type ChannelSubscription,
  type RecordedEvent,
  type RecordedSubscription,
  type SubscriptionHandlers,
} from './recording.js';

// The wire by hand.
export { rawAuthenticatedSocket, rawSocket, type RawSocket } from './rawSocket.js';
export { answerTo, errorCodeOf, request, resultOf, type RawFrame } from './frames.js';
export { upgrade, upgradeStatus, type Upgrade, type UpgradeOptions } from './upgrades.js';
export { nonReadingGet, type NonReader } from './nonReader.js';

// Test apps and the processes around them.
export { served, type Served } from './apps/served.js';
export { HELLO, startAttached, type AttachedServer } from './apps/attached.js';
export { startHonoFetch } from './apps/honoFetch.js';
export { expiringToken, expiringTokenAuth, expiryOf } from './apps/expiringTokens.js';
export { createNumbersApp, startNumbersServer, type NumbersRouter, type NumbersServer } from './apps/numbers.js';
export { startAdminNode, tokenCheck, watchAdminCluster, type AdminNode, type AdminNodeOptions, type AdminWatch } from './apps/admin.js';
export {
  numbersClient,
  range,
  subscribeNumbers,
  subscribePresence,
  type NumbersClient,
  type NumbersSubscription,
} from './apps/numbersClient.js';
export {
  createHardeningApp,
  Gates,
  historyBatchUrl,
  publishSteadily,
  startHardeningServer,
  type HardeningApp,
  type HardeningAppOptions,
  type HardeningContext,
  type HardeningRouter,
  type HardeningServer,
  type HardeningServerOptions,
  type TestUser,
} from './apps/hardening.js';
export { getHealth, startNode, startNodes, startPresenceNode, type HealthReply, type HeraldNode, type NodeOptions } from './apps/nodes.js';
export { kill, spawnTs } from './spawn.js';
export { IN_CI, repoPath } from './root.js';
export { findExecutable, findTool, toolOrFail } from './tools.js';
export { deletePrefix, REDIS_URL, redisAvailable, testPrefix } from './redis.js';
export { startRedisServer, type RedisProcess } from './redisServer.js';
export { startRedisCluster, type RedisCluster, type RedisClusterNode, type RedisClusterOptions } from './redisCluster.js';
export { haproxyConfigPath, renderHaproxyConfig, startHaproxy, type HaproxyProcess } from './haproxy.js';
export { startUpgradeProxy, type UpgradeMode, type UpgradeProxy } from './upgradeProxy.js';

// Measuring.
export { metricValue, scrape } from './metrics.js';
export { heapAfterGc } from './heap.js';
export { seeded } from './random.js';
