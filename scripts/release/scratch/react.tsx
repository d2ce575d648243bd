// The React entry typechecks against the React peers npm installed beside it.
import { createHeraldReact } from '@herald/client/react';
import type { AppRouter } from './server.js';

export const { HeraldProvider, useTRPC, useConnectionState, useChannel, usePresence } = createHeraldReact<AppRouter>();
