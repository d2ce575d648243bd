import type { ServerConfig, SystemName } from '../lib/protocol.js';
import type { BenchServer } from './types.js';

/** Human names of the systems, for the report. */
export const SYSTEM_LABELS: Record<SystemName, string> = {
  'raw-ws-string': 'raw ws: send(string)',
  'raw-ws-frame': 'raw ws: one frame',
  'raw-ws-trpc': "raw ws: tRPC's wire",
  'raw-ws-ping': 'raw ws: ws.ping() heartbeats',
  'raw-ws-textping': 'raw ws: text PING heartbeats',
  trpc: 'stock tRPC',
  socketio: 'Socket.IO',
  herald: 'Herald',
};

/** Starts one system; each is imported only in the process that serves it. */
export async function startSystem(config: ServerConfig): Promise<BenchServer> {
  switch (config.system) {
    case 'raw-ws-string':
      return (await import('./rawWs.js')).startRawWs(config, 'string');
    case 'raw-ws-frame':
      return (await import('./rawWs.js')).startRawWs(config, 'frame');
    case 'raw-ws-trpc':
      return (await import('./rawWs.js')).startRawWs(config, 'trpc');
    case 'raw-ws-ping':
      return (await import('./rawWs.js')).startRawWs(config, 'ping');
    case 'raw-ws-textping':
      return (await import('./rawWs.js')).startRawWs(config, 'text-ping');
    case 'trpc':
      return (await import('./trpc.js')).startStockTrpc(config);
    case 'socketio':
      return (await import('./socketio.js')).startSocketIo(config);
    case 'herald':
      return (await import('./herald.js')).startHerald(config);
  }
}
