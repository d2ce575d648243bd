export { transformer } from './transformer.js';
export { bytesToBase64, base64ToBytes } from './base64.js';
export type { ConnectionRefusal, ConnectionState, ConnectionStatus, Transport } from './connectionState.js';
export {
  WS_PATH,
  HTTP_PATH,
  IDEMPOTENCY_KEY_HEADER,
  CloseCode,
  DEFAULT_CLIENT_PING_INTERVAL_MS,
  DEFAULT_CLIENT_PONG_TIMEOUT_MS,
  DEFAULT_SERVER_PING_INTERVAL_MS,
  DEFAULT_SERVER_PONG_TIMEOUT_MS,
} from './protocol.js';
export { HeraldErrorCode, TRPC_CODE_OF, heraldCodeOf } from './errors.js';
export type { ChannelEvent, GapReason, PresenceEvent, PresenceMember } from './channel.js';
