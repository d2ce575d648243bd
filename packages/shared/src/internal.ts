/**
 * DO NOT IMPORT THIS MODULE FROM AN APP.
 *
 * `@herald/shared/internal`: what `@herald/server` and `@herald/client` share
 * beyond the public set in `./index.ts`. Names here may change or go in any
 * release; an app reads the same values through the packages' options and
 * their documented defaults (`serverDefaults`, `clientDefaults`).
 */
export { bytesToBase64, base64ToBytes } from './base64.js';
export { MSGPACK_PROTOCOL, JSON_PROTOCOL, packFrame, packMessage, parsePath, unpackMessage } from './msgpack.js';
export { serializeWithBinaryBytes } from './transformer.js';
export {
  WS_PATH,
  HTTP_PATH,
  IDEMPOTENCY_KEY_HEADER,
  CONNECTION_PARAMS_HEADER,
  CREDENTIALS_EXPIRY_HEADER,
  STREAM_TICKET_PATH,
  STREAM_TICKET_PARAM,
  SESSION_NOTICE_METHOD,
  CLOSE_NORMAL,
  CLOSE_UNAUTHORIZED,
  CLOSE_FORBIDDEN_ORIGIN,
  DEFAULT_CLIENT_PING_INTERVAL_MS,
  DEFAULT_CLIENT_PONG_TIMEOUT_MS,
  DEFAULT_SERVER_PING_INTERVAL_MS,
  DEFAULT_SERVER_PONG_TIMEOUT_MS,
} from './protocol.js';
export type { SessionNotice } from './protocol.js';
export { LIVE_PATCHES_PARAM, LIVE_PATCH_TYPE, type LivePatchResult } from './livePatch.js';
export { TRPC_CODE_OF } from './errors.js';
export { isPlainJson, PLAIN_JSON_MAX_DEPTH } from './plainJson.js';
