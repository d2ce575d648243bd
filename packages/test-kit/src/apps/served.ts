import type { Herald, HeraldServer } from '@herald/server';

/** A test app and the server that serves it; `close` stops the server, then the app's Herald. */
export interface Served<TApp extends { readonly herald: Herald }> {
  readonly app: TApp;
  readonly server: HeraldServer;
  close(): Promise<void>;
}

export function served<TApp extends { readonly herald: Herald }>(app: TApp, server: HeraldServer): Served<TApp> {
  return {
    app,
    server,
    async close() {
      await server.close();
      await app.herald.close();
    },
  };
}
