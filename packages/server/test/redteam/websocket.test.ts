import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { withExpiry, type Authenticate } from '@herald/server';
import { answerTo, Cleanup, errorCodeOf, pollUntil, rawSocket, request, startHardeningServer, withTimeout, type HardeningServer, type RawSocket, type TestUser } from '@herald/test-kit';

/**
 * What a red team found on the WebSocket door, each reproduced with a raw
 * socket as an attacker would write the frames. The HTTP door's findings
 * are in http.test.ts.
 */

/** `issuedAt` dates the credentials (so a revocation can tell old from new). */
const authenticate: Authenticate<TestUser> = (params) => {
  const user = params?.['user'];
  if (!user) return null;
  return params['issuedAt'] ? withExpiry({ id: user }, Date.now() + 60_000, { issuedAt: Number(params['issuedAt']) }) : { id: user };
};

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(): Promise<{ server: HardeningServer; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const server = cleanup.add(await startHardeningServer({ authenticate, logger, limits: { maxPayloadBytes: 4_096 } }));
  return { server, lines };
}

async function open(server: HardeningServer, params?: Record<string, string>): Promise<RawSocket> {
  const socket = rawSocket(server.server.url, params ? { params } : {});
  cleanup.defer(() => socket.close());
  await withTimeout(socket.opened, 5_000, 'the socket to open');
  return socket;
}

async function answer(socket: RawSocket, frame: { id: string }): Promise<unknown> {
  socket.send(frame);
  return socket.frame(answerTo(frame.id), 5_000, `the answer to ${frame.id}`);
}

describe('red team: the WebSocket door', () => {
  it('refuses a BigInt of thousands of digits and nesting past the limit before decoding, in plain words, and keeps serving', async () => {
    const { server } = await start();
    const socket = await open(server);
    const big = await answer(socket, { id: 'big', method: 'query', params: { path: 'add', input: { json: { a: '9'.repeat(3_000), b: 1 }, meta: { values: { a: ['bigint'] }, v: 1 } } } } as never);
    expect(errorCodeOf(big)).toBe('BAD_REQUEST');
    expect(JSON.stringify(big)).toMatch(/BigInt of more than 1000 digits/);
    let deep: unknown = [];
    for (let level = 0; level < 1_000; level++) deep = [deep];
    const nested = await answer(socket, { id: 'deep', method: 'query', params: { path: 'add', input: { json: { a: 1, b: 1 }, meta: { values: { a: ['custom', deep] }, v: 1 } } } } as never);
    expect(JSON.stringify(nested)).toMatch(/nests deeper than 128 levels/);
    expect(JSON.stringify(nested)).not.toMatch(/Maximum call stack/);
    expect(await answer(socket, request('ok', 'query', 'add', { a: 1, b: 2 }) as { id: string })).toMatchObject({ result: { data: { json: 3 } } });
  });

  it('keeps a revocation: the same credentials reconnect into a 4006, fresh ones are let in', async () => {
    const { server } = await start();
    const old = { user: 'ann', issuedAt: String(Date.now() - 1_000) };
    const first = await open(server, old);
    expect(await answer(first, request('who', 'query', 'whoami') as { id: string })).toMatchObject({ result: { data: { json: { id: 'ann' } } } });
    await server.server.disconnectUser('ann');
    expect((await first.closed).code).toBe(4006);
    const again = await open(server, old);
    expect((await again.closed).code).toBe(4006);
    const fresh = await open(server, { user: 'ann', issuedAt: String(Date.now() + 1) });
    expect(await answer(fresh, request('who', 'query', 'whoami') as { id: string })).toMatchObject({ result: { data: { json: { id: 'ann' } } } });
  });

  it('logs the closes it makes for protocol violations with their real code, closed by the server', async () => {
    const { server, lines } = await start();
    const oversized = await open(server);
    oversized.send('x'.repeat(8_192));
    expect((await oversized.closed).code).toBe(1009);
    const badUtf8 = await open(server);
    badUtf8.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await badUtf8.closed).code).toBe(1007);
    await pollUntil(() => lines.filter((line) => line['event'] === 'connection.close').length, 'both closes logged', { accept: (count) => count >= 2 });
    const closes = lines.filter((line) => line['event'] === 'connection.close');
    expect(closes.map((line) => [line['code'], line['closedBy']])).toEqual([
      [1009, 'server'],
      [1007, 'server'],
    ]);
  });
});
