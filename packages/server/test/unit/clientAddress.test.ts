import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, originPolicy } from '../../src/transport/clientAddress.js';

/** The parts of an upgrade or HTTP request the checks read. */
function requestWith(headers: Record<string, string>, remoteAddress = '10.0.0.1'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('originPolicy', () => {
  it('by default lets in only the origin whose host is the request Host, whatever the case and a written-out default port', () => {
    const check = originPolicy(undefined, false)!;
    expect(check('https://chat.example.com', requestWith({ host: 'chat.example.com' }))).toBe(true);
    expect(check('https://Chat.Example.com', requestWith({ host: 'chat.example.com:443' }))).toBe(true);
    expect(check('http://localhost:8787', requestWith({ host: 'localhost:8787' }))).toBe(true);
    expect(check('http://localhost:5173', requestWith({ host: 'localhost:8787' }))).toBe(false);
    expect(check('https://evil.example', requestWith({ host: 'chat.example.com' }))).toBe(false);
    expect(check('null', requestWith({ host: 'chat.example.com' }))).toBe(false);
    expect(check('https://chat.example.com', requestWith({}))).toBe(false);
  });

  it('reads X-Forwarded-Host only with trustProxy', () => {
    const behindProxy = requestWith({ host: 'herald-1:8787', 'x-forwarded-host': 'chat.example.com' });
    expect(originPolicy(undefined, true)!('https://chat.example.com', behindProxy)).toBe(true);
    expect(originPolicy(undefined, false)!('https://chat.example.com', behindProxy)).toBe(false);
  });

  it("takes a list (case-insensitive, trailing slash ignored), a predicate, or '*' for no check", () => {
    const req = requestWith({ host: 'api.example.com' });
    const listed = originPolicy(['https://App.example.com/'], false)!;
    expect(listed('https://app.example.com', req)).toBe(true);
    expect(listed('https://api.example.com', req)).toBe(false);
    expect(originPolicy((origin) => origin.endsWith('.example.com'), false)!('https://x.example.com', req)).toBe(true);
    expect(originPolicy('*', false)).toBeNull();
  });
});

describe('clientAddress', () => {
  it("is the socket's address, or the first X-Forwarded-For entry with trustProxy", () => {
    const req = requestWith({ 'x-forwarded-for': '203.0.113.7, 10.0.0.2' });
    expect(clientAddress(req, false)).toBe('10.0.0.1');
    expect(clientAddress(req, true)).toBe('203.0.113.7');
    expect(clientAddress(requestWith({}), true)).toBe('10.0.0.1');
  });
});
