export const PlatformWebSocket: typeof globalThis.WebSocket = globalThis.WebSocket;
