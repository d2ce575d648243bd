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
export { ChatImage, IMAGE_TYPES, MAX_IMAGE_BYTES, Message, Notice, RoomName, RoomSummary, User, type ImageType } from './schemas.js';
