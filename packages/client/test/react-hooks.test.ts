// @vitest-environment happy-dom
/**
 * The React hooks, rendered for real (react-dom in happy-dom): against fake
 * subscription sources for the state machine, and against a Herald server
 * for the whole path (provider, tRPC + TanStack Query, channel, presence).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { act, createElement, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { WebSocket } from 'ws';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer } from '@herald/server';
import { createHeraldClient, type ChannelEvent, type PresenceEvent } from '@herald/client';
import { pollUntil } from '@herald/test-kit';
import { ConnectionStateMachine } from '../src/connection/connectionState.js';
import {
  createHeraldReact,
  useChannel,
  useConnectionStateOf,
  useLiveQuery,
  usePresence,
  type GapNotice,
  type SubscriptionCallbacks,
  type SubscriptionSource,
  type TrackedEvent,
} from '@herald/client/react';

/** Tests that drive every update inside act() say so; ones fed by a real socket update on their own. */
function actEnvironment(on: boolean): void {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = on;
}
beforeAll(() => actEnvironment(true));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Renders `hook` in a component; `result.current` is its latest return value. */
function renderHook<TProps, TResult>(hook: (props: TProps) => TResult, initialProps: TProps, wrapper?: (children: ReactNode) => ReactNode) {
  const result: { current: TResult | undefined } = { current: undefined };
  function Probe({ props }: { props: TProps }) {
    result.current = hook(props);
    return null;
  }
  const root: Root = createRoot(document.createElement('div'));
  const render = (props: TProps) => {
    const probe = createElement(Probe, { props });
    act(() => root.render(wrapper ? wrapper(probe) : probe));
  };
  render(initialProps);
  cleanups.push(() => act(() => root.unmount()));
  return {
    result: result as { current: TResult },
    rerender: render,
  };
}

/** A subscription source the test drives by hand. */
function fakeSource<TOutput>(key: string, enabled = true) {
  const subscriptions: { callbacks: SubscriptionCallbacks<TOutput, Error>; active: boolean }[] = [];
  const source: SubscriptionSource<TOutput, Error> = {
    enabled,
    queryKey: [['room', 'onMessage'], { input: key }],
    subscribe(callbacks) {
      const entry = { callbacks, active: true };
      subscriptions.push(entry);
      return {
        unsubscribe: () => {
          entry.active = false;
        },
      };
    },
  };
  const current = () => {
    const entry = subscriptions.at(-1);
    if (!entry?.active) throw new Error('no active subscription');
    return entry.callbacks;
  };
  return {
    source,
    subscriptions,
    emit: (data: TOutput) => act(() => current().onData?.(data)),
    drop: () => act(() => current().onConnectionStateChange?.({ state: 'connecting', error: new Error('socket closed') })),
    fail: (error: Error) => act(() => current().onError?.(error)),
  };
}

type Event = TrackedEvent<ChannelEvent<string>>;

describe('useChannel', () => {
  it('reports connecting, then live; hands over messages and gaps, typed', () => {
    const fake = fakeSource<Event>('lobby');
    const messages: [string, string][] = [];
    const gaps: GapNotice[] = [];
    const { result } = renderHook(
      () => useChannel(fake.source, { onMessage: (message, id) => messages.push([message, id]), onGap: (gap) => gaps.push(gap) }),
      null,
    );
    expect(result.current.status).toBe('connecting');

    fake.emit({ id: '1-0', data: { type: 'message', message: 'replayed' } });
    fake.emit({ id: '1-0', data: { type: 'live', replayed: 1 } });
    expect(result.current).toMatchObject({ status: 'live', lastEventId: '1-0', received: 1 });

    fake.emit({ id: '2-0', data: { type: 'message', message: 'hello' } });
    expect(messages).toEqual([
      ['replayed', '1-0'],
      ['hello', '2-0'],
    ]);

    // The socket drops: the link resubscribes with lastEventId by itself.
    fake.drop();
    expect(result.current.status).toBe('reconnecting');
    fake.emit({ id: '9-0', data: { type: 'gap', reason: 'reset' } });
    fake.emit({ id: '9-0', data: { type: 'live', replayed: 0 } });
    expect(result.current.status).toBe('live');
    expect(gaps.map((gap) => gap.reason)).toEqual(['reset']);
    expect(result.current.lastGap).toMatchObject({ reason: 'reset', id: '9-0' });
    expect(fake.subscriptions).toHaveLength(1); // one subscription throughout: resuming is the link's job
  });

  it('calls the latest handlers without resubscribing', () => {
    const fake = fakeSource<Event>('lobby');
    const seen: string[] = [];
    const { rerender } = renderHook(({ tag }: { tag: string }) => useChannel(fake.source, { onMessage: (m) => seen.push(`${tag}:${m}`) }), { tag: 'a' });
    fake.emit({ id: '1-0', data: { type: 'message', message: 'x' } });
    rerender({ tag: 'b' });
    fake.emit({ id: '2-0', data: { type: 'message', message: 'y' } });
    expect(seen).toEqual(['a:x', 'b:y']);
    expect(fake.subscriptions).toHaveLength(1);
  });

  it('resubscribes when the input changes, and starts over', () => {
    const lobby = fakeSource<Event>('lobby');
    const other = fakeSource<Event>('other');
    const { result, rerender } = renderHook(({ source }: { source: SubscriptionSource<Event, Error> }) => useChannel(source), {
      source: lobby.source,
    });
    lobby.emit({ id: '1-0', data: { type: 'live', replayed: 0 } });
    expect(result.current.status).toBe('live');

    rerender({ source: other.source });
    expect(lobby.subscriptions[0]?.active).toBe(false);
    expect(other.subscriptions).toHaveLength(1);
    expect(result.current).toMatchObject({ status: 'connecting', lastEventId: null });
  });

  it('is idle when disabled, and reports errors; retry subscribes again', () => {
    const disabled = fakeSource<Event>('lobby', false);
    const idle = renderHook(() => useChannel(disabled.source), null);
    expect(idle.result.current.status).toBe('idle');
    expect(disabled.subscriptions).toHaveLength(0);

    const fake = fakeSource<Event>('lobby');
    const errors: Error[] = [];
    const { result } = renderHook(() => useChannel(fake.source, { onError: (error) => errors.push(error) }), null);
    fake.fail(new Error('FORBIDDEN'));
    expect(result.current.status).toBe('error');
    expect(result.current.error?.message).toBe('FORBIDDEN');
    expect(errors).toHaveLength(1);

    act(() => result.current.retry());
    expect(fake.subscriptions).toHaveLength(2);
    expect(result.current.status).toBe('connecting');
  });
});

describe('usePresence', () => {
  const m = (clientId: string, joinedAt: number) => ({ clientId, joinedAt, info: { name: clientId } });

  it('keeps members current from snapshot, join and leave; a resubscribe snapshot replaces them', () => {
    const fake = fakeSource<PresenceEvent<{ name: string }>>('lobby');
    const { result } = renderHook(() => usePresence(fake.source), null);
    expect(result.current).toMatchObject({ status: 'connecting', members: [] });

    fake.emit({ type: 'snapshot', members: [m('a', 1)] });
    fake.emit({ type: 'join', member: m('b', 2) });
    expect(result.current.status).toBe('live');
    expect(result.current.members.map((member) => member.info.name)).toEqual(['a', 'b']);

    fake.emit({ type: 'leave', clientId: 'a' });
    expect(result.current.members.map((member) => member.clientId)).toEqual(['b']);

    fake.drop();
    expect(result.current.status).toBe('reconnecting');
    expect(result.current.members).toHaveLength(1); // kept while reconnecting
    fake.emit({ type: 'snapshot', members: [m('c', 3)] });
    expect(result.current).toMatchObject({ status: 'live', members: [m('c', 3)] });
  });
});

describe('useConnectionStateOf', () => {
  it('re-renders on every connection state change', () => {
    const machine = new ConnectionStateMachine();
    const { result } = renderHook(() => useConnectionStateOf(machine), null);
    expect(result.current).toEqual({ status: 'connecting', url: null });
    act(() => machine.set({ status: 'open', url: 'ws://a/ws', transport: 'websocket' }));
    expect(result.current).toEqual({ status: 'open', url: 'ws://a/ws', transport: 'websocket' });
    act(() => machine.set({ status: 'reconnecting', attempt: 1, error: null, closeCode: null }));
    expect(result.current.status).toBe('reconnecting');
  });
});

describe('useLiveQuery', () => {
  it('writes each newer result into the query cache, never an older one, and is stale while reconnecting', () => {
    const queryClient = new QueryClient({ defaultOptions: { queries: { enabled: false } } });
    const queryKey = [['rooms'], { type: 'query' }] as const;
    const fake = fakeSource<TrackedEvent<string[]>>('rooms');
    const { result } = renderHook(
      () => ({ live: useLiveQuery({ queryKey }, fake.source), rooms: useQuery({ queryKey, queryFn: (): string[] => [] }).data }),
      null,
      (children) => createElement(QueryClientProvider, { client: queryClient }, children),
    );
    expect(result.current.live).toMatchObject({ status: 'connecting', stale: true, version: null });

    fake.emit({ id: '9', data: ['a'] });
    expect(result.current.live).toMatchObject({ status: 'live', stale: false, version: '9' });
    expect(result.current.rooms).toEqual(['a']);

    fake.emit({ id: '12', data: ['a', 'b'] });
    expect(result.current.rooms).toEqual(['a', 'b']);
    // An older version (a longer-lived replay, another node behind) is not written over the newer one.
    fake.emit({ id: '11', data: ['old'] });
    expect(result.current.rooms).toEqual(['a', 'b']);
    expect(result.current.live.version).toBe('12');

    fake.drop();
    expect(result.current.live).toMatchObject({ status: 'reconnecting', stale: true, version: '12' });
    expect(result.current.rooms).toEqual(['a', 'b']);
    act(() => fake.subscriptions.at(-1)!.callbacks.onStarted?.());
    expect(result.current.live).toMatchObject({ status: 'live', stale: false });
    fake.emit({ id: '100', data: ['c'] });
    expect(result.current.rooms).toEqual(['c']);

    fake.fail(new Error('FORBIDDEN'));
    expect(result.current.live.status).toBe('error');
    expect(result.current.live.error?.message).toBe('FORBIDDEN');
  });
});

describe('createHeraldReact against a Herald server', () => {
  const t = initTRPC.context<{ name: string }>().create({ transformer, errorFormatter: heraldErrorFormatter });
  function createApp() {
    const herald = createHerald();
    const rooms = herald.channel('room', {
      key: z.string(),
      message: z.object({ text: z.string(), sentAt: z.date() }),
      presence: z.object({ name: z.string() }),
    });
    const countQuery = t.procedure.input(z.object({ room: z.string() })).query(async ({ input }) => (await rooms.history(input.room)).messages.length);
    const countLive = herald.live(countQuery, { name: 'count', dependsOn: (input) => [rooms.key(input.room)] });
    const router = t.router({
      send: t.procedure.input(z.object({ room: z.string(), text: z.string() })).mutation(({ input }) => rooms.publish(input.room, { text: input.text, sentAt: new Date() })),
      history: t.procedure.input(z.object({ room: z.string() })).query(async ({ input }) => (await rooms.history(input.room)).messages.map((entry) => entry.message)),
      onMessage: t.procedure
        .input(z.object({ room: z.string(), ...resumeInput }))
        .subscription(({ input, signal, ctx }) => rooms.stream(input.room, { lastEventId: input.lastEventId, signal, presence: { name: ctx.name } })),
      onPresence: t.procedure.input(z.object({ room: z.string() })).subscription(({ input, signal }) => rooms.presenceEvents(input.room, { signal })),
      count: countQuery,
      onCount: t.procedure
        .input(z.object({ room: z.string(), ...resumeInput }))
        .subscription(({ input, ctx, signal }) => countLive.stream({ room: input.room }, { ctx, lastEventId: input.lastEventId, signal })),
    });
    return { herald, rooms, router };
  }
  type Router = ReturnType<typeof createApp>['router'];

  /** What the hooks rendered is read after React has rendered, which nothing announces: poll it, letting React render in between. */
  const rendered = (check: () => boolean, label: string) =>
    pollUntil(check, label, { intervalMs: 20, pause: (ms) => act(() => new Promise((resolve) => setTimeout(resolve, ms))) });

  it('serves queries, the connection state, channel messages (Dates intact) and presence through one provider', async () => {
    actEnvironment(false);
    cleanups.push(() => actEnvironment(true));
    const { herald, rooms, router } = createApp();
    const server = await createHeraldServer({ router, herald, port: 0, host: '127.0.0.1', createContext: ({ connectionParams }) => ({ name: connectionParams?.['name'] ?? 'anon' }) });
    cleanups.push(async () => {
      await server.close();
      await herald.close();
    });
    await rooms.publish('lobby', { text: 'earlier', sentAt: new Date(0) });

    const ws = WebSocket as unknown as typeof globalThis.WebSocket;
    const client = createHeraldClient<Router>({ url: server.url, connectionParams: { name: 'ann' }, WebSocket: ws });
    cleanups.push(() => client.close());
    const queryClient = new QueryClient();
    const react = createHeraldReact<Router>();
    const received: { text: string; sentAt: Date }[] = [];

    const { result } = renderHook(
      () => {
        const trpc = react.useTRPC();
        const history = useQuery(trpc.history.queryOptions({ room: 'lobby' }));
        const channel = react.useChannel(trpc.onMessage.subscriptionOptions({ room: 'lobby' }), { onMessage: (message) => received.push(message) });
        const presence = react.usePresence(trpc.onPresence.subscriptionOptions({ room: 'lobby' }));
        return { connection: react.useConnectionState(), history: history.data, channel, presence };
      },
      null,
      (children) => createElement(react.HeraldProvider, { client, queryClient }, children),
    );

    await rendered(() => result.current.connection.status === 'open', 'connection open');
    await rendered(() => result.current.history?.length === 1 && result.current.channel.status === 'live', 'history and live');
    expect(result.current.history?.[0]?.sentAt).toEqual(new Date(0));
    await rendered(() => result.current.presence.members.length === 1, 'own presence');
    expect(result.current.presence.members[0]?.info).toEqual({ name: 'ann' });

    await client.trpc.send.mutate({ room: 'lobby', text: 'hi' });
    await rendered(() => received.length === 1, 'live message');
    expect(received[0]?.text).toBe('hi');
    expect(received[0]?.sentAt).toBeInstanceOf(Date);
  });

  it('useChannel goes reconnecting while the server is down, and live again once it is back, with what was sent meanwhile', async () => {
    const { herald, rooms, router } = createApp();
    cleanups.push(() => herald.close());
    const serve = (port: number) => createHeraldServer({ router, herald, port, host: '127.0.0.1', createContext: () => ({ name: 'anon' }) });
    let server = await serve(0);
    const { port } = server;
    cleanups.push(() => server.close());
    const ws = WebSocket as unknown as typeof globalThis.WebSocket;
    const client = createHeraldClient<Router>({ url: server.url, WebSocket: ws, backoff: { initialDelayMs: 50, maxDelayMs: 200 } });
    cleanups.push(() => client.close());
    const react = createHeraldReact<Router>();
    const received: string[] = [];
    const statuses: string[] = [];
    const { result } = renderHook(
      () => {
        const trpc = react.useTRPC();
        const channel = react.useChannel(trpc.onMessage.subscriptionOptions({ room: 'outage' }), { onMessage: (message) => received.push(message.text) });
        if (statuses.at(-1) !== channel.status) statuses.push(channel.status);
        return { connection: react.useConnectionState(), channel };
      },
      null,
      (children) => createElement(react.HeraldProvider, { client, queryClient: new QueryClient() }, children),
    );
    await rendered(() => result.current.channel.status === 'live', 'live');

    await server.close();
    await rendered(() => result.current.connection.status === 'reconnecting', 'the connection down');
    await rendered(() => result.current.channel.status === 'reconnecting', 'the channel reconnecting');
    await rooms.publish('outage', { text: 'while down', sentAt: new Date() });
    server = await serve(port);
    await rendered(() => result.current.channel.status === 'live' && received.length === 1, 'live again, with the message sent while down');
    expect(received).toEqual(['while down']);
    expect(statuses.slice(statuses.indexOf('live'))).toEqual(['live', 'reconnecting', 'live']);
  });

  it('keeps a useQuery of a live query current with no change to the component that reads it', async () => {
    actEnvironment(false);
    cleanups.push(() => actEnvironment(true));
    const { herald, router } = createApp();
    const server = await createHeraldServer({ router, herald, port: 0, host: '127.0.0.1', createContext: () => ({ name: 'anon' }) });
    cleanups.push(async () => {
      await server.close();
      await herald.close();
    });
    const ws = WebSocket as unknown as typeof globalThis.WebSocket;
    const client = createHeraldClient<Router>({ url: server.url, WebSocket: ws });
    cleanups.push(() => client.close());
    const react = createHeraldReact<Router>();

    const { result } = renderHook(
      () => {
        const trpc = react.useTRPC();
        const live = react.useLiveQuery(trpc.count.queryOptions({ room: 'lobby' }), trpc.onCount.subscriptionOptions({ room: 'lobby' }));
        // What any other component does: read the query, nothing live about it.
        const count = useQuery({ ...trpc.count.queryOptions({ room: 'lobby' }), staleTime: Infinity });
        return { live, count: count.data };
      },
      null,
      (children) => createElement(react.HeraldProvider, { client, queryClient: new QueryClient() }, children),
    );
    await rendered(() => result.current.count === 0 && result.current.live.status === 'live', 'the first count');
    for (let n = 1; n <= 3; n++) await client.trpc.send.mutate({ room: 'lobby', text: `m${n}` });
    await rendered(() => result.current.count === 3, 'the count after three messages');
    expect(result.current.live.stale).toBe(false);
  });
});
