/**
 * Misuse fails loudly at startup, with a message that says what to do:
 * `createHeraldServer`, `createHerald` and `herald.channel` check what they
 * are given before anything runs. And what is not misuse: two servers on one
 * Herald work together.
 */
import { initTRPC } from '@trpc/server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import {
  createHerald,
  createHeraldServer,
  memoryBroker,
  transformer,
  type HeraldServerOptions,
} from '@herald/server';
import { freePort } from '@herald/server/testing';
import { checkInstalledZod } from '../src/channels/checkOptions.js';
import { CloseCode } from '@herald/shared';
import {
  answerTo,
  Cleanup,
  CLIENT_KINDS,
  createHardeningApp,
  makeClient,
  rawAuthenticatedSocket,
  recordChannel,
  request,
  resultOf,
  type HardeningRouter,
  type TestUser,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** `createHeraldServer` with options a caller could pass from JavaScript (or with a cast), on a free port. */
function start(options: unknown) {
  return createHeraldServer({ port: 0, host: '127.0.0.1', ...(options as object) } as HeraldServerOptions<HardeningRouter>);
}

const createContext = () => ({});

describe('createHeraldServer', () => {
  it('refuses a router built without Herald’s transformer, and says how to build it', async () => {
    const t = initTRPC.create();
    const router = t.router({ add: t.procedure.query(() => 3) });
    await expect(start({ router, createContext })).rejects.toThrow(
      /does not use Herald's transformer, so Herald's client would read every answer as undefined; create it with initTRPC\.create\(\{ transformer \}\), importing transformer from '@herald\/server'/,
    );
  });

  it('refuses a router with another transformer, naming two copies of @herald/shared as a cause', async () => {
    const t = initTRPC.create({ transformer: { serialize: (value: unknown) => value, deserialize: (value: unknown) => value } });
    const router = t.router({ add: t.procedure.query(() => 3) });
    await expect(start({ router, createContext })).rejects.toThrow(/two copies of @herald\/shared are installed: make it one \(npm ls @herald\/shared\)/);
  });

  it('refuses a missing router, or something else in its place', async () => {
    await expect(start({ createContext })).rejects.toThrow(
      "createHeraldServer: router is missing; pass the app's router, built with t.router({ ... }) where t = initTRPC.create({ transformer }) and transformer comes from '@herald/server'",
    );
    const t = initTRPC.create({ transformer });
    await expect(start({ router: t.procedure.query(() => 1), createContext })).rejects.toThrow('createHeraldServer: router is not a tRPC router');
  });

  it('refuses a missing createContext, and one that is not a function', async () => {
    const { router } = createHardeningApp();
    await expect(start({ router })).rejects.toThrow(
      "createHeraldServer: createContext is missing; pass a function that builds each connection's context, for example createContext: ({ user }) => ({ user }), or () => ({}) when procedures need none",
    );
    await expect(start({ router, createContext: { user: null } })).rejects.toThrow('createHeraldServer: createContext must be a function');
  });

  it('refuses no options at all, an authenticate that is not a function, and a herald that is not one', async () => {
    const { router } = createHardeningApp();
    await expect(createHeraldServer(undefined as unknown as HeraldServerOptions<HardeningRouter>)).rejects.toThrow(
      'createHeraldServer: options are missing; pass at least { router, createContext }',
    );
    await expect(start({ router, createContext, authenticate: 'jwt' })).rejects.toThrow('createHeraldServer: authenticate must be a function');
    await expect(start({ router, createContext, herald: memoryBroker() })).rejects.toThrow('createHeraldServer: herald must be what createHerald() returns');
  });

  it('checks before it listens: a refused start leaves no port open', async () => {
    const t = initTRPC.create();
    const router = t.router({ add: t.procedure.query(() => 3) });
    // The same port twice: were the first start listening, the second would fail with EADDRINUSE instead.
    const port = await freePort();
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(createHeraldServer({ router, createContext, port, host: '127.0.0.1' } as never)).rejects.toThrow(/transformer/);
    }
  });
});

describe('createHerald', () => {
  it('refuses a broker factory that was not called, and says to call it', () => {
    expect(() => createHerald({ broker: memoryBroker as never })).toThrow(
      'createHerald: broker must be a broker such as memoryBroker() or redisBroker({ url }): it is a function; call it (memoryBroker(), redisBroker({ url }))',
    );
  });

  it('refuses an authorize or onError that is not a function', () => {
    expect(() => createHerald({ authorize: true as never })).toThrow(
      'createHerald: authorize must be a function ({ ctx, channel, key, action }) => boolean',
    );
    expect(() => createHerald({ onError: 'log' as never })).toThrow('createHerald: onError must be a function (error) => void');
  });
});

describe('herald.channel', () => {
  const herald = createHerald();
  afterAll(() => herald.close());
  const key = z.string();
  const message = z.object({ text: z.string() });
  let n = 0;
  /** Declares a channel under a fresh name (a refused declaration leaves its name free, but each test reads clearer with its own). */
  const declare = (options: unknown) => herald.channel(`c${n++}`, options as never);

  it('accepts a complete declaration', () => {
    expect(declare({ key, message, history: { size: 10, ttlMs: 1_000 }, subscriberBufferSize: 5 }).name).toMatch(/^c\d+$/);
  });

  it('refuses a key or message that is not a zod schema, naming the field and an example', () => {
    expect(() => declare({ key: 'string', message })).toThrow(/herald\.channel\("c\d+"\): key must be a zod schema such as z\.string\(\), got "string"/);
    expect(() => declare({ key })).toThrow(/: message must be a zod schema such as z\.object\(\{ \.\.\. \}\), got undefined/);
    expect(() => declare({ key, message, presence: {} })).toThrow(/: presence must be a zod schema/);
    expect(() => declare({ key, message, presence: message, onPresenceChange: 'touch' })).toThrow(/: onPresenceChange must be a function \(\{ key, type \}\) => void, got "touch"/);
    expect(() => declare({ key, message, onPresenceChange: () => undefined })).toThrow(/: onPresenceChange needs a presence schema/);
    expect(() => declare(undefined)).toThrow(/options are missing; pass at least \{ key: z\.string\(\), message: z\.object\(\{ \.\.\. \}\) \}/);
  });

  it('refuses a zod 3 schema and says exactly what to do, zod/v4 of zod 3 being not enough', () => {
    expect(() => declare({ key: z3.string(), message })).toThrow(
      /key is a zod 3 schema\. Herald needs zod 4 as the app's `zod` package: run `npm install zod@\^4` and import \{ z \} from 'zod'\. zod 3\.25's 'zod\/v4' is not enough/,
    );
  });

  it('refuses to declare channels when the installed zod is zod 3, even with zod/v4 schemas', () => {
    // What Herald's own `import { z } from 'zod'` gives when zod 3 is installed.
    expect(() => checkInstalledZod(z3.string())).toThrow(/^The installed zod is zod 3\. Herald needs zod 4 as the app's `zod` package: run `npm install zod@\^4`/);
    expect(() => checkInstalledZod(z.string())).not.toThrow();
  });

  it('refuses history and buffer sizes out of range, saying what each one is', () => {
    expect(() => declare({ key, message, history: { size: 0 } })).toThrow(
      /history\.size \(messages kept per key for resume and history\(\)\) must be a whole number of at least 1, got 0/,
    );
    expect(() => declare({ key, message, history: { size: 2.5 } })).toThrow(/history\.size .* got 2\.5/);
    expect(() => declare({ key, message, history: { ttlMs: -1 } })).toThrow(/history\.ttlMs \(how long a message stays in history, in ms\) must be a whole number of at least 1, got -1/);
    expect(() => declare({ key, message, history: { ttlMs: '1h' } })).toThrow(/history\.ttlMs .* got "1h"/);
    expect(() => declare({ key, message, history: 1_000 })).toThrow(/history must be an object like \{ size: 1_000, ttlMs: 86_400_000 \}, got 1000/);
    expect(() => declare({ key, message, subscriberBufferSize: Number.POSITIVE_INFINITY })).toThrow(
      /subscriberBufferSize \(messages a subscriber may fall behind before it catches up from history\) must be a whole number of at least 1, got Infinity/,
    );
  });

  it('leaves a refused name free for a correct declaration', () => {
    expect(() => herald.channel('retry', { key, message: 'oops' } as never)).toThrow(/message must be a zod schema/);
    expect(herald.channel('retry', { key, message }).name).toBe('retry');
  });
});

describe('two servers on one Herald (supported)', () => {
  it.each(CLIENT_KINDS)('share channels, revocations and idempotency; closing one leaves the other serving (%s client)', async (kind) => {
    const app = createHardeningApp();
    cleanup.defer(() => app.herald.close());
    const options = {
      router: app.router,
      herald: app.herald,
      port: 0,
      host: '127.0.0.1',
      authenticate: (params: Readonly<Record<string, string>> | null): TestUser | null => (params?.['token'] ? { id: params['token'] } : null),
      createContext: ({ user }: { user: TestUser | null }) => ({ user }),
    };
    const first = await createHeraldServer(options);
    cleanup.defer(() => first.close());
    const second = await createHeraldServer(options);
    cleanup.defer(() => second.close());

    // A subscriber on the first server gets what a client of the second publishes.
    const subscriber = makeClient<HardeningRouter>(kind, first.url);
    cleanup.add(subscriber);
    const publisher = makeClient<HardeningRouter>(kind, second.url);
    cleanup.add(publisher);
    const channel = recordChannel<{ n: number }>((handlers) => subscriber.trpc.numbers.subscribe({ stream: 'shared' }, handlers));
    cleanup.defer(() => channel.unsubscribe());
    await channel.waitForLive();
    await publisher.trpc.publish.mutate({ stream: 'shared', n: 1 });
    expect(await channel.waitForMessages(1)).toEqual([{ n: 1 }]);

    // A mutation repeated with its idempotency key on the other server runs once.
    const once = { ...request(7, 'mutation', 'publish', { stream: 'once', n: 3 }) } as { params: Record<string, unknown> };
    once.params['idempotencyKey'] = 'the-one-key';
    const answers = [];
    for (const server of [first, second]) {
      const raw = await rawAuthenticatedSocket(server.url, 'bob');
      cleanup.defer(() => raw.close());
      raw.send(once);
      answers.push(resultOf<string>(await raw.frame(answerTo(7))));
    }
    expect(answers[1]).toBe(answers[0]);
    expect(await publisher.trpc.history.query({ stream: 'once' })).toHaveLength(1);

    // disconnectUser on one server reaches the user's socket on the other.
    const ada = await rawAuthenticatedSocket(second.url, 'ada');
    cleanup.defer(() => ada.close());
    // Admitted (its user known) once it answers.
    ada.send(request(1, 'query', 'whoami'));
    await ada.frame(answerTo(1));
    await first.disconnectUser('ada', 'suspended');
    expect(await ada.closed).toEqual({ code: CloseCode.REVOKED, reason: 'suspended' });

    // Closing the first leaves the second (and the Herald they share) serving.
    await first.close();
    await publisher.trpc.publish.mutate({ stream: 'shared', n: 2 });
    expect(await publisher.trpc.history.query({ stream: 'shared' })).toEqual([
      expect.objectContaining({ message: { n: 1 } }),
      expect.objectContaining({ message: { n: 2 } }),
    ]);
  });
});
