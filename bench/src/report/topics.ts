import { fmt } from '../lib/log.js';
import { TOPICS_FIXED_DELIVERIES_PER_SEC, type TopicsResult } from '../scenarios/scaleout.js';

/** Section 5's many-topic part: Herald nodes on one Redis against a 3-shard Redis Cluster (scenarios/scaleout.ts, `runTopics`). */
export function topicsSection(topics: TopicsResult | undefined): string[] {
  const out = ['### Many topics: one Redis against a 3-shard Redis Cluster', ''];
  if (!topics) return [...out, 'Not run in this invocation.', ''];
  if ('skipped' in topics) return [...out, `**Skipped**: ${topics.skipped}.`, ''];
  const first = topics.rows[0];
  if (!first) return [...out, 'No rows.', ''];
  out.push(
    `Herald nodes (server processes), ${first.subscribers.toLocaleString('en-US')} WebSocket subscribers from the load generator ` +
      `spread over the nodes and over ${first.topics} rooms (every room has subscribers on every node, so every node subscribes to every topic), ` +
      'and **every node publishes**, round-robin over all rooms: one node on the memory broker (the baseline: no Redis), one and three nodes ' +
      'on one `redis-server` (`redisBroker({ url })`), three nodes on a Redis Cluster of three masters without ' +
      'replicas (`redisBroker({ clusterUrls })`: sharded pub/sub), both Redis setups started by the bench on free ports and stopped after. **fixed**: ' +
      `${fmt(TOPICS_FIXED_DELIVERIES_PER_SEC, 0)} deliveries/s over all nodes (below what the shared server core sustains); **max**: closed loop, each node at most a few hundred messages ahead of what the subscribers took. ` +
      'Node CPU per delivery sums the Herald nodes (`process.cpuUsage()`), not Redis. Each Redis process\'s CPU is its own `INFO cpu` (user + system) over the ' +
      'windows, its publishes its `PUBLISH` / `SPUBLISH` calls (one per Herald publish). **This machine has 2 cores**: the three nodes share the ' +
      'server core, the load generator has the other, and the Redis processes run unpinned on either, so publishes/s and deliveries/s are bound by ' +
      'the cores, not by Redis, and show no scaling from sharding. The figures that carry over to a machine with a core per node and per shard are ' +
      'the node CPU per delivery and the Redis CPU per publish. **Idle** is each process\'s CPU over 2 s with the subscribers connected and ' +
      'nothing published (a cluster master also runs the cluster bus); **over idle** takes that rate out of the window\'s CPU, so it is what the ' +
      'publishes themselves cost: at a low publish rate the idle share is a large part of the plain figure.',
    '',
    '| nodes | broker | mode | publishes/s | deliveries/s | node CPU µs/delivery | node CPU (all nodes; idle) | loadgen CPU | p50 / p99 ms | Redis process | its publishes | its CPU µs/publish (over idle) | its CPU share (idle) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of topics.rows) {
    const m = row.measurement;
    const shares = row.redis.length > 0 ? row.redis : [null];
    for (const [i, share] of shares.entries()) {
      const lead =
        i === 0
          ? [
              String(row.nodes),
              row.target,
              row.mode,
              fmt(row.publishesPerSec, 0),
              `${fmt(m.rate.value, 0)} (${fmt(m.rate.min, 0)}–${fmt(m.rate.max, 0)})`,
              `${fmt(m.cpuUsPerEvent.value)} (${fmt(m.cpuUsPerEvent.min)}–${fmt(m.cpuUsPerEvent.max)})`,
              `${fmt(m.serverCpuPct, 0)}% (${fmt(row.nodesIdlePct, 1)}%)`,
              `${fmt(m.loadgenCpuPct, 0)}%`,
              `${fmt(m.latency.p50)} / ${fmt(m.latency.p99)}`,
            ]
          : ['', '', '', '', '', '', '', '', ''];
      const redis = share
        ? [
            row.redis.length === 1 ? 'the one Redis' : `master ${i + 1}`,
            share.publishes.toLocaleString('en-US'),
            `${fmt(share.cpuUsPerPublish)} (${fmt(share.cpuUsPerPublishOverIdle)})`,
            `${fmt(share.cpuPct, 1)}% (${fmt(share.idlePct, 1)}%)`,
          ]
        : ['none', '', '', ''];
      out.push(`| ${[...lead, ...redis].join(' | ')} |`);
    }
  }
  out.push('');
  return out;
}
