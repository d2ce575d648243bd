// One Herald node of the shards scenario (scenarios/shards.ts), in its own
// process: a Redis broker subscribed to every topic, publishing round-robin
// over them from `concurrency` loops while asked to. Talks over IPC:
//   <- { type: 'start', broker, prefix, topics, concurrency }   -> { type: 'ready' }
//   <- { type: 'run', ms }                                       -> { type: 'done', publishes, deliveries, errors }
// It exits when the parent closes the IPC channel.
import { redisBroker, type RedisBrokerOptions } from '@herald/server/redis';
import type { Broker } from '@herald/server';

type Command =
  | { type: 'start'; broker: RedisBrokerOptions; prefix: string; topics: number; concurrency: number }
  | { type: 'run'; ms: number };

const RETENTION = { size: 100, ttlMs: 60_000 };
const PAYLOAD = JSON.stringify({ text: 'x'.repeat(100) });
let broker: Broker | null = null;
let topics: string[] = [];
let concurrency = 1;
let deliveries = 0;

process.on('message', (command: Command) => {
  void handle(command).catch((error: unknown) => {
    console.error('[shards node]', error);
    process.exit(1);
  });
});
process.on('disconnect', () => {
  void (broker?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});

async function handle(command: Command): Promise<void> {
  if (command.type === 'start') {
    broker = redisBroker({ ...command.broker, prefix: command.prefix });
    topics = Array.from({ length: command.topics }, (_, i) => `bench:room-${i}`);
    concurrency = command.concurrency;
    for (const topic of topics) await broker.subscribe(topic, { onEntry: () => deliveries++, onInterrupted: () => {} });
    process.send?.({ type: 'ready' });
    return;
  }
  const active = broker;
  if (!active) throw new Error('run before start');
  const until = Date.now() + command.ms;
  const deliveredBefore = deliveries;
  let publishes = 0;
  let errors = 0;
  let next = Math.floor(Math.random() * topics.length);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const topic = topics[next++ % topics.length] as string;
        try {
          await active.publish(topic, PAYLOAD, RETENTION);
          publishes++;
        } catch {
          errors++;
        }
      }
    }),
  );
  process.send?.({ type: 'done', publishes, deliveries: deliveries - deliveredBefore, errors });
}
