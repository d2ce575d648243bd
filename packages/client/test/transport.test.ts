import { describe, expect, it } from 'vitest';
import { createHeraldClient, httpUrlOf } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { TransportChooser } from '../src/connection/transportChooser.js';

describe('TransportChooser', () => {
  it('always picks the fixed transport outside auto', () => {
    const ws = new TransportChooser('websocket', 2);
    const http = new TransportChooser('http', 2);
    for (let i = 0; i < 5; i++) {
      ws.failed('websocket', true);
      http.failed('http', false);
    }
    expect(ws.next()).toBe('websocket');
    expect(http.next()).toBe('http');
  });

  it('auto: falls back after the given failures in a row, at once on a refusal', () => {
    const quiet = new TransportChooser('auto', 2);
    expect(quiet.next()).toBe('websocket');
    quiet.failed('websocket', false);
    expect(quiet.next()).toBe('websocket');
    quiet.failed('websocket', false);
    expect(quiet.next()).toBe('http');
    expect(quiet.upgradeRefused).toBe(false);

    const refused = new TransportChooser('auto', 5);
    refused.failed('websocket', true);
    expect(refused.next()).toBe('http');
    expect(refused.upgradeRefused).toBe(true);
  });

  it('auto: keeps HTTP first once it worked, alternates when both fail, and resets when the WebSocket opens', () => {
    const chooser = new TransportChooser('auto', 2);
    chooser.failed('websocket', true);
    chooser.opened('http');
    expect(chooser.next()).toBe('http'); // a redial after losing HTTP stays on HTTP
    chooser.failed('http', false); // the server is down, not only the upgrade
    expect(chooser.next()).toBe('websocket');
    chooser.failed('websocket', false);
    expect(chooser.next()).toBe('http');
    chooser.failed('http', false);
    expect(chooser.next()).toBe('websocket');
    chooser.opened('websocket');
    expect(chooser.upgradeRefused).toBe(false);
    chooser.failed('websocket', false);
    expect(chooser.next()).toBe('websocket');
  });
});

describe('httpUrlOf', () => {
  it('puts the HTTP endpoint beside a WebSocket URL', () => {
    expect(httpUrlOf('ws://127.0.0.1:8787/ws')).toBe('http://127.0.0.1:8787/trpc');
    expect(httpUrlOf('wss://chat.example.com/ws?x=1')).toBe('https://chat.example.com/trpc');
  });
});

describe('createHeraldClient: the HTTP transport is an entry of its own', () => {
  it("refuses transport 'http' or 'auto' without it, and says how to pass it", () => {
    for (const transport of ['http', 'auto'] as const) {
      expect(() => createHeraldClient({ url: 'ws://127.0.0.1:1/ws', transport })).toThrow(
        `createHeraldClient: transport '${transport}' needs the HTTP transport: import { httpTransport } from '@herald/client/http' and pass createHeraldClient({ ..., transport: '${transport}', http: httpTransport })`,
      );
    }
  });

  it('refuses a transport it does not know', () => {
    expect(() => createHeraldClient({ url: 'ws://127.0.0.1:1/ws', transport: 'sse' as never })).toThrow(
      `createHeraldClient: transport must be 'websocket', 'http' or 'auto', got "sse"`,
    );
  });

  it('takes it, and WebSocket alone needs nothing', async () => {
    const clients = [
      createHeraldClient({ url: 'ws://127.0.0.1:1/ws' }),
      createHeraldClient({ url: 'ws://127.0.0.1:1/ws', transport: 'auto', http: httpTransport }),
    ];
    for (const client of clients) await client.close();
  });
});
