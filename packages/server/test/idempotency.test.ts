import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { transformer, type Authenticate } from '@herald/server';
import { CONNECTION_PARAMS_HEADER } from '@herald/shared/internal';
import { answerTo, Cleanup, errorCodeOf, rawSocket, resultOf, startHardeningServer, withTimeout, type HardeningServer, type RawSocket, type TestUser } from '@herald/test-kit';

/**
 * Idempotency keys on both doors: a key runs its mutation once, is its
 * caller's own (another caller presenting it runs its own call), and is
 * bound to the input it was first used with (another input is refused with
 * IDEMPOTENCY_KEY_REUSED, never answered with the first input's outcome).
 */

const authenticate: Authenticate<TestUser> = (params) => (params?.['user'] ? { id: params['user'] } : null);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(): Promise<HardeningServer> {
  return cleanup.add(await startHardeningServer({ authenticate }));
}

/** A socket from `localAddress` (another 127.x address: another client as far as the server can tell). */
async function socketOf(server: HardeningServer, params?: Record<string, string>, localAddress = '127.0.0.1'): Promise<RawSocket> {
  const socket = rawSocket(server.server.url, { ...(params ? { params } : {}), localAddress });
  cleanup.defer(() => socket.close());
  await withTimeout(socket.opened, 5_000, 'the socket to open');
  return socket;
}

let nextId = 0;

/** A keyed `publish` over a socket: its answer frame. */
async function publishOnce(socket: RawSocket, key: string, stream: string, n: number): Promise<unknown> {
  const id = ++nextId;
  socket.send({ id, method: 'mutation', params: { path: 'publish', input: transformer.serialize({ stream, n }), idempotencyKey: key } });
  return socket.frame(answerTo(id), 5_000, `the answer to ${id}`);
}

/** A keyed `publish` over HTTP from `localAddress`: its status, replay header and body. */
function postOnce(
  server: HardeningServer,
  key: string,
  stream: string,
  n: number,
  options: { user?: string; localAddress?: string } = {},
): Promise<{ status: number; replayed: boolean; body: { result?: { data: never }; error?: never } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': key };
  if (options.user) headers[CONNECTION_PARAMS_HEADER] = encodeURIComponent(JSON.stringify({ user: options.user }));
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.server.httpUrl}/trpc/publish`, { method: 'POST', headers, localAddress: options.localAddress ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, replayed: res.headers['idempotent-replayed'] === 'true', body: JSON.parse(text) as never }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(transformer.serialize({ stream, n })));
  });
}

async function published(server: HardeningServer, stream: string): Promise<number[]> {
  return (await server.app.numbers.history(stream)).messages.map((entry) => entry.message.n);
}

describe('idempotency keys', () => {
  it('refuse the same key with another input (IDEMPOTENCY_KEY_REUSED) on both doors, and run nothing for it', async () => {
    const server = await start();
    const ann = await socketOf(server, { user: 'ann' });
    const first = await publishOnce(ann, 'k1', 'idem', 1);
    expect(errorCodeOf(first)).toBeNull();
    // The same key and input: the first outcome, replayed.
    expect(resultOf(await publishOnce(ann, 'k1', 'idem', 1))).toEqual(resultOf(first));
    // The same key, another input: refused, and said so.
    const reused = await publishOnce(ann, 'k1', 'other-room', 2);
    expect(errorCodeOf(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(JSON.stringify(reused)).toMatch(/use a new key for each distinct mutation/);
    const overHttp = await postOnce(server, 'k1', 'other-room', 2, { user: 'ann' });
    expect(overHttp.status).toBe(409);
    expect((transformer.deserialize(overHttp.body.error!) as { data: { heraldCode: string } }).data.heraldCode).toBe('IDEMPOTENCY_KEY_REUSED');
    // Over HTTP with the first input: the first outcome.
    const replayed = await postOnce(server, 'k1', 'idem', 1, { user: 'ann' });
    expect(replayed).toMatchObject({ status: 200, replayed: true });
    expect(await published(server, 'idem')).toEqual([1]);
    expect(await published(server, 'other-room')).toEqual([]);
  });

  it("are their caller's own: another user, or an anonymous caller at another address, presenting one runs its own call", async () => {
    const server = await start();
    const ann = await socketOf(server, { user: 'ann' });
    const bob = await socketOf(server, { user: 'bob' });
    const annOutcome = resultOf(await publishOnce(ann, 'shared', 'scoped', 1));
    const bobOutcome = resultOf(await publishOnce(bob, 'shared', 'scoped', 1));
    expect(bobOutcome).not.toEqual(annOutcome);
    const bobOverHttp = await postOnce(server, 'shared', 'scoped', 1, { user: 'bob' });
    expect(bobOverHttp.replayed).toBe(true);
    expect(transformer.deserialize(bobOverHttp.body.result!.data)).toEqual(bobOutcome);

    // Anonymous callers: scoped by address.
    const here = await postOnce(server, 'anon-key', 'anon', 1, { localAddress: '127.0.0.1' });
    const there = await postOnce(server, 'anon-key', 'anon', 1, { localAddress: '127.0.0.2' });
    expect([here.replayed, there.replayed]).toEqual([false, false]);
    const elsewhere = await socketOf(server, undefined, '127.0.0.2');
    expect(resultOf(await publishOnce(elsewhere, 'anon-key', 'anon', 1))).toEqual(transformer.deserialize(there.body.result!.data));
    expect(await published(server, 'scoped')).toEqual([1, 1]);
    expect(await published(server, 'anon')).toEqual([1, 1]);
  });
});
