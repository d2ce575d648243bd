import type { ShardsResult } from '../scenarios/shards.js';
import { fmt } from '../lib/log.js';

/** Section 9 of results.md: the shards scenario (scenarios/shards.ts). */
export function shardsSection(shards: ShardsResult | null): string[] {
  const out = ['## 10. Redis CPU per publish: one Redis against a 3-shard Redis Cluster', ''];
  if (!shards) return [...out, 'Not run in this invocation.', ''];
  if ('skipped' in shards) return [...out, `**Skipped**: ${shards.skipped}.`, ''];
  out.push(
    'Three broker processes (`redisBroker`, no sockets: the Redis side of three Herald nodes), each subscribed to the same 300 topics and ' +
      'publishing 100-byte messages round-robin over them from 16 loops at once, first on one `redis-server`, then on a Redis Cluster of ' +
      'three masters without replicas (`redisBroker({ clusterUrls })`: sharded pub/sub, per-topic epoch). Each Redis process\'s CPU is its own ' +
      '`INFO cpu` (user + system) over the window, and its publishes its `PUBLISH` / `SPUBLISH` calls (one per Herald publish). ' +
      '**Every process shares the two cores**: the publish rates are bound by the broker processes, not by Redis, so they show no scaling here. ' +
      'CPU per publish per Redis process is the figure that carries over to a machine where each shard has a core of its own; a lightly ' +
      'loaded Redis handles fewer commands per wake-up, so a shard at a third of the load may read higher than it would at full load (not measured apart here).',
    '',
    '| target | publishes/s | deliveries/s | Redis process | its publishes | its CPU µs/publish | its CPU share of the window |',
    '|---|---|---|---|---|---|---|',
  );
  for (const row of shards.rows) {
    for (const [i, shard] of row.shards.entries()) {
      out.push(
        `| ${i === 0 ? row.target : ''} | ${i === 0 ? fmt(row.publishesPerSec, 0) : ''} | ${i === 0 ? fmt(row.deliveriesPerSec, 0) : ''} | ` +
          `${row.shards.length === 1 ? 'the one Redis' : `master ${i + 1}`} | ${shard.publishes.toLocaleString('en-US')} | ${fmt(shard.cpuUsPerPublish)} | ${fmt((shard.cpuMs / row.windowMs) * 100, 0)}% |`,
      );
    }
  }
  out.push('');
  return out;
}
