import { createHeraldReact } from '@herald/client/react';
import type { AppRouter } from '@herald/example-chat-server';

/** The app's hooks, typed by the chat server's router (a type-only import: no server code is bundled). */
export const { HeraldProvider, useTRPC, useHeraldClient, useConnectionState, useChannel, usePresence, useOutbox, useTRPCClient } = createHeraldReact<AppRouter>();
