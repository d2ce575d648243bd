/**
 * The demo's admin page and the Grafana dashboard: the page is on at
 * `/admin` only with `adminToken` (ADMIN_TOKEN in main.ts) and refuses a
 * caller without it; every metric the dashboard (deploy/grafana) queries is
 * in the demo server's `/metrics`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cleanup, rawSocket, repoPath, scrape, trpcErrorOf } from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, subscribeRoom } from './helpers/chat.js';

const ADMIN_TOKEN = 'demo-admin-token-0123456789';

interface Dashboard {
  readonly panels: readonly { readonly id: number; readonly type: string; readonly targets?: readonly { readonly expr: string; readonly datasource: { readonly uid: string } }[] }[];
  readonly templating: { readonly list: readonly { readonly definition: string }[] };
}

/** Metric names in PromQL: selectors (`name{...}`) and `label_values(name, ...)`; `up` is Prometheus's own. */
function metricNames(queries: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const query of queries) {
    for (const match of query.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) names.add(match[1] as string);
    for (const match of query.matchAll(/label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/g)) names.add(match[1] as string);
  }
  names.delete('up');
  return names;
}

describe('chat demo: admin page', () => {
  it('is off without an admin token', async () => {
    await using cleanup = new Cleanup();
    const chat = cleanup.add(await startTestServer());
    expect((await fetch(`${chat.server.httpUrl}/admin/`)).status).toBe(404);
    const socket = rawSocket(`${chat.server.url.replace(/\/ws$/, '')}/admin/ws`, { params: { token: ADMIN_TOKEN } });
    await expect(socket.opened).rejects.toThrow(/404/);
  });

  it('is served at /admin with one, and refuses a wrong or missing token', async () => {
    await using cleanup = new Cleanup();
    const chat = cleanup.add(await startTestServer({ adminToken: ADMIN_TOKEN }));
    const api = `${chat.server.httpUrl}/admin/api/cluster`;
    expect((await fetch(api)).status).toBe(401);
    expect((await fetch(api, { headers: { authorization: 'Bearer not-it' } })).status).toBe(401);
    const ok = await fetch(api, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { nodes: unknown[] }).nodes).toHaveLength(1);
  });
});

describe('Grafana dashboard (deploy/grafana/herald-dashboard.json)', () => {
  it('is valid JSON whose every metric is in /metrics of a running server', async () => {
    await using cleanup = new Cleanup();
    const dashboard = JSON.parse(readFileSync(repoPath('deploy/grafana/herald-dashboard.json'), 'utf8')) as Dashboard;
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const targets = dashboard.panels.flatMap((panel) => panel.targets ?? []);
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) expect(target.datasource.uid).toBe('${DS_PROMETHEUS}');
    const wanted = metricNames([...targets.map((target) => target.expr), ...dashboard.templating.list.map((variable) => variable.definition)]);

    // A server with traffic, so every labelled series has been written at least once.
    const chat = cleanup.add(await startTestServer({ adminToken: ADMIN_TOKEN }));
    const { token } = await loginToken(chat.server.url, 'ann');
    const client = cleanup.add(chatClient('herald', chat.server.url, { token }));
    const room = subscribeRoom(client.trpc, 'lobby');
    cleanup.defer(() => room.unsubscribe());
    await room.waitForLive();
    await client.trpc.chat.send.mutate({ room: 'lobby', text: 'hello' });
    await room.waitForMessages(1);
    // And one error answer (an anonymous send), so `herald_errors_total{code}` has a series.
    const anonymous = cleanup.add(chatClient('herald', chat.server.url));
    expect((await trpcErrorOf(anonymous.trpc.chat.send.mutate({ room: 'lobby', text: 'hi' }))).data?.code).toBe('UNAUTHORIZED');

    const exposition = await scrape(chat.server);
    const present = new Set(exposition.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0]));
    const missing = [...wanted].filter((name) => !present.has(name));
    expect(missing).toEqual([]);
    expect(wanted.size).toBeGreaterThan(12);
  });
});
