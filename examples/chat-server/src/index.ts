export { startChatServer, type ChatServer, type ChatServerOptions, type ChatServerTuning } from './app.js';
export { createChatRouter, type AppRouter, type ChatContext, type ChatDeps } from './router.js';
export { createTokenIssuer, type TokenIssuer } from './auth.js';
export { Message, RoomName, RoomSummary, User } from './schemas.js';
