export {
  createChatApp,
  startChatServer,
  type ChatApp,
  type ChatAppOptions,
  type ChatServer,
  type ChatServerOptions,
  type ChatServerTuning,
} from './app.js';
export { createChatRouter, type AppRouter, type ChatContext, type ChatDeps } from './router.js';
export { createTokenIssuer, randomSecret, type TokenIssuer } from './auth.js';
export { Message, Notice, RoomName, RoomSummary, User } from './schemas.js';
