import { fmt } from '../lib/log.js';
import type { LatencySummary, Measured } from '../lib/stats.js';
import { SYSTEM_LABELS } from '../servers/index.js';
import { GC_QUIET_MAX_MS, GC_QUIET_MS, nodeRatioLines } from '../scenarios/node.js';
import { fetchDoorRatioLines, SSE_LABELS } from '../scenarios/sse.js';
import { RECONNECT_POLICY } from '../scenarios/reconnect.js';
import { REDIS_URL } from '../scenarios/scaleout.js';
import { abuseSection } from './abuse.js';
import { liveSection } from './live.js';
import { encodingSection } from './encoding.js';
import { echoSection, receiveSection } from './clientCost.js';
import { shardsSection } from './shards.js';
import { tracingSection } from './tracing.js';
import { topicsSection } from './topics.js';
import { deflateSummaryLines, versusUncompressed } from './deflate.js';
import type { SuiteResults } from './results.js';
import { formatTargetLine, type TargetLine } from './targets.js';

const KiB = 1024;

function withRange(m: Measured, digits = 2): string {
  if (!Number.isFinite(m.min) || m.min === m.max) return fmt(m.value, digits);
  return `${fmt(m.value, digits)} (${fmt(m.min, digits)}–${fmt(m.max, digits)})`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

const ms = (value: number) => fmt(value, 2);
const p = (latency: LatencySummary | null) => (latency ? `${ms(latency.p50)} / ${ms(latency.p99)}` : 'n/a');

export function renderMarkdown(results: SuiteResults, targets: readonly TargetLine[], chartFile: string | null): string {
  const env = results.environment;
  const cfg = results.config;
  const out: string[] = [];
  out.push('# Herald benchmark results', '');
  out.push(
    `Written by \`pnpm bench${cfg.name === 'quick' ? ' --quick' : ''}\` (${cfg.name} suite, ${Math.round(results.durationSec)} s). ` +
      'Each system serves the same 219-byte JSON message `{ n, sentAt, text }`; the server and the load generator run in separate ' +
      'processes pinned to different cores, and server CPU is `process.cpuUsage()` inside the server process.',
    '',
  );
  out.push(
    table(
      ['', ''],
      [
        ['date', env.date],
        ['git commit', env.commit],
        ['Node', env.node],
        ...Object.entries(env.versions).map(([name, version]) => [name, version]),
        ['CPU', `${env.cpuModel}, ${env.cores} cores, ${env.memoryGiB} GiB`],
        ['pinning', env.pinning],
        ['load average (1/5/15 min)', `${env.loadAverage} at the start, ${results.loadAverageAtEnd} at the end (other work on the machine adds noise)`],
      ],
    ),
    '',
  );

  out.push("## Herald's ratios against the baselines", '');
  out.push('```', ...targets.map(formatTargetLine), '```', '');
  out.push(
    'The max-rate ratios favour Herald partly by design: it writes the first frame of a tick to a socket at once and corks the rest, ' +
      'so a burst of messages costs two writes per subscriber, while the raw `ws` baselines write every message separately. The fixed-rate line ' +
      '(one message per tick, nothing to coalesce) shows the per-delivery overhead without that effect.',
    '',
  );
  out.push(
    '**How the systems run.** Every process runs TypeScript through `bench/loader` (esbuild, as tsx uses, but without `keepNames`: ' +
      "tsx's `__name()` wrappers add a property store and a `defineProperty` call to every closure Herald creates, which the production " +
      'build does not have and the JavaScript baselines never pay). Herald runs with its defaults except: connection limits and the ' +
      "per-connection request rate raised (all clients share 127.0.0.1; the checks still run), and its per-connection log lines silenced " +
      '(pino at `silent`); metrics stay on. `@herald/client` and the server are measured as they are in the working tree at the commit above.',
    '',
  );

  out.push('## 1. Fan-out', '');
  out.push(
    'One server process per system and subscriber count N; the load generator holds all N subscribers. **fixed**: ' +
      `${cfg.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s (that many messages/s divided by N), each message published at its due time. ` +
      '**max**: closed loop, the server publishes as fast as the subscribers take messages (at most a few messages per subscriber unacknowledged; ' +
      "the load generator's delivery count is relayed to the server as credit). " +
      `After a ${cfg.fanout.warmupMs} ms warm-up, ${cfg.fanout.windows} windows of ${cfg.fanout.windowMs} ms: the figure is over all windows, the range (in brackets) across them. ` +
      'Latency is publish (`sentAt` in the message) to receive, over all deliveries of the windows; "p99 per window" is the median of ' +
      "the windows' p99s with their range (the latency target uses it, so one window disturbed by other work on the machine does not decide it). " +
      'At max rate a run is bound by whichever of the two cores saturates first (see the CPU columns); CPU per delivery is the comparable figure. ' +
      '"Of it in the kernel" is system time over user + system time; "writes/delivery" counts the server\'s write system calls (`/proc/<pid>/io`).',
    '',
  );
  out.push(
    'Systems: **raw ws: send(string)**: serialize once, `ws.send(string)` to every socket. **raw ws: one frame**: serialize and frame once, ' +
      'write the same Buffer to every TCP socket. **stock tRPC**: `applyWSSHandler` + superjson, an async-generator subscription fed by an EventEmitter ' +
      '(`events.on`) yielding `tracked` events. **Socket.IO**: `io.to(room).emit`. **Herald**: `createHeraldServer`, a `createHerald()` channel, ' +
      'the subscription returns `channel.stream()` (native path), published with `channel.publish` in the server process. tRPC and Herald are ' +
      'received by the same minimal raw-`ws` client speaking the tRPC wire protocol; Socket.IO by `socket.io-client`.',
    '',
  );
  out.push(
    table(
      ['system', 'N', 'mode', 'deliveries/s', 'server CPU µs/delivery', 'of it in the kernel', 'writes/delivery', 'server CPU', 'loadgen CPU', 'p50 / p99 ms', 'p99 per window ms', 'notes'],
      results.fanout.map((row) => {
        const m = row.measurement;
        const notes = [m.stalls ? `${m.stalls} credit stalls` : '', m.publishErrors ? `${m.publishErrors} publish errors` : '', m.errors ? `${m.errors} errors` : '']
          .filter(Boolean)
          .join(', ');
        return [
          SYSTEM_LABELS[row.system],
          row.subscribers.toLocaleString('en-US'),
          row.mode,
          withRange(m.rate, 0),
          withRange(m.cpuUsPerEvent),
          `${fmt(m.serverSystemShare * 100, 0)}%`,
          fmt(m.writeSyscallsPerEvent),
          `${fmt(m.serverCpuPct, 0)}%`,
          `${fmt(m.loadgenCpuPct, 0)}%`,
          p(m.latency),
          withRange(m.windowP99),
          notes,
        ];
      }),
    ),
    '',
  );
  if (chartFile) out.push(`![Server CPU per delivery by system and subscriber count](${chartFile})`, '');

  if (results.paired.length > 0) {
    out.push('### Fixed rate, paired with raw ws', '');
    out.push(
      'This machine\'s speed drifts over minutes (other work shares it), and the runs above measure each system once, a minute or more apart. ' +
        'Here four servers run side by side (one process each on the server core; only one publishes at a time; the load generator holds ' +
        'every subscriber set) and are measured in turn, the order rotating, ' +
        `${results.paired[0]!.rounds} rounds at ${cfg.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s, so each round compares runs seconds apart: ` +
        'Herald; raw `ws.send(string)`, the targets\' baseline; **raw ws on tRPC\'s wire**, the same bare `ws` server speaking tRPC\'s protocol as Herald ' +
        'does (a `subscription` request, `started`, a live marker, every message in a tracked tRPC data frame built once per subscription id, ' +
        '`ws.send(string)`), which shows what the protocol itself costs (bigger frames, a client that reads them) and so what is left for Herald; ' +
        'and a **control**, a second raw `ws.send(string)`, whose ratio to the first is what two identical systems come to here: the resolution ' +
        'of the other ratios. Ratios are medians of the per-round ratios, the range across rounds in brackets; the fixed-rate targets use Herald vs raw ws.',
      '',
    );
    out.push(
      table(
        [
          'N',
          'CPU µs/delivery: Herald / raw ws on tRPC\'s wire / raw ws',
          'Herald vs raw ws',
          'Herald vs raw ws on tRPC\'s wire',
          'tRPC\'s wire vs raw ws',
          'control',
          'p99 ms: Herald / raw ws',
          'p99: Herald vs raw ws',
          'p99: control',
        ],
        results.paired.map((row) => [
          row.subscribers.toLocaleString('en-US'),
          [row.figures.herald, row.figures.protocol, row.figures.baseline].map((f) => fmt(f.cpuUsPerDelivery.value)).join(' / '),
          `${withRange(row.herald.cpu)}x`,
          `${withRange(row.heraldOverProtocol.cpu)}x`,
          `${withRange(row.protocol.cpu)}x`,
          `${withRange(row.control.cpu)}x`,
          [row.figures.herald, row.figures.baseline].map((f) => fmt(f.p99Ms.value)).join(' / '),
          `${withRange(row.herald.p99)}x`,
          `${withRange(row.control.p99)}x`,
        ]),
      ),
      '',
    );
  }

  out.push(...receiveSection(results));
  out.push('## 2. Server memory per connection', '');
  out.push(
    `${(results.memory[0]?.connections ?? cfg.memory.connections).toLocaleString('en-US')} connections from the load generator; deltas over the server's own baseline ` +
      'after full collections (`global.gc()`, `--expose-gc`). **idle**: connected, nothing subscribed. **subscribed**: one live subscription each ' +
      '(raw ws: in the subscriber set; Socket.IO: joined to the room; tRPC: a running generator; Herald: a channel stream). ' +
      'RSS is what the process holds (it does not shrink after a collection, so it can overstate); heap is V8 heap used plus external (Buffers).',
    '',
  );
  out.push(
    table(
      ['system', 'connections', 'idle RSS KiB/conn', 'idle heap KiB/conn', 'subscribed RSS KiB/conn', 'subscribed heap KiB/conn'],
      results.memory.map((row) => [
        row.system === 'raw-ws-string' ? 'raw ws' : SYSTEM_LABELS[row.system],
        row.connections.toLocaleString('en-US'),
        fmt(row.idle.rssPerConnection / KiB),
        fmt(row.idle.heapPerConnection / KiB),
        fmt(row.subscribed.rssPerConnection / KiB),
        fmt(row.subscribed.heapPerConnection / KiB),
      ]),
    ),
    '',
  );

  out.push('## 3. RPC round trips', '');
  out.push(
    'A trivial query (`ping`, returns a string) in closed loops: each connection keeps `in flight` calls outstanding. Clients: ' +
      '**@herald/client** (`createHeraldClient`), **stock client** (`createWSClient` + `wsLink`, superjson), **minimal wire client** ' +
      '(the raw-`ws` tRPC-protocol client of the fan-out runs). **Socket.IO** answers an emit with acknowledgement (`ping` answered `"pong"`) ' +
      'from **socket.io-client** (WebSocket only) and from a **minimal Socket.IO client** (engine.io 4 frames over raw `ws`, ' +
      "the counterpart of the minimal tRPC client). **raw ws** answers the minimal client's call with the same frame " +
      '(`JSON.parse`, `JSON.stringify`, `ws.send`): the ceiling of a JSON call over `ws`. Server CPU per call includes the cost of ' +
      'waking up for each frame (a read and a write system call per call at one in flight), which dominates at one call in flight. ' +
      "Client CPU per call is the load generator's CPU over the calls it completed (its closed loops included, the same for every client).",
    '',
  );
  const clientLabel = {
    'herald-client': '@herald/client',
    'trpc-client': 'stock client (wsLink)',
    'trpc-wire': 'minimal wire client',
    'socketio-client': 'socket.io-client',
    'socketio-wire': 'minimal Socket.IO client',
  } as const;
  out.push(
    table(
      ['server', 'client', 'connections × in flight', 'calls/s', 'server CPU µs/call', 'client CPU µs/call', 'server CPU', 'loadgen CPU', 'p50 / p99 ms'],
      results.rpc.map((row) => [
        SYSTEM_LABELS[row.server],
        clientLabel[row.client],
        `${row.connections} × ${row.depth}`,
        withRange(row.measurement.rate, 0),
        fmt(row.measurement.cpuUsPerEvent.value),
        fmt(row.measurement.loadgenCpuUsPerEvent),
        `${fmt(row.measurement.serverCpuPct, 0)}%`,
        `${fmt(row.measurement.loadgenCpuPct, 0)}%`,
        p(row.measurement.latency),
      ]),
    ),
    '',
  );
  out.push(...echoSection(results));

  out.push('## 4. Reconnect storm', '');
  out.push(
    'Minimal wire clients, each subscribed and holding a position (a few messages were published), then the server process is killed ' +
      '(SIGKILL) and a new one started on the same port. Each client retries with full-jitter backoff ' +
      `(random 0..min(${RECONNECT_POLICY.capMs}, ${RECONNECT_POLICY.baseMs}·2^attempt) ms) and resubscribes with its lastEventId; ` +
      "it counts as resumed when its `live` marker arrives (Herald: after a `gap: reset` notice, since the new process's memory broker " +
      'has no history; stock tRPC: the bench generator yields the same marker first). Times are from the kill.',
    '',
  );
  out.push(
    table(
      ['system', 'clients', 'resumed', 'new process ready', 'all resumed', 'after ready', 'per client p50 / p99', 'connect attempts (failed)', 'server CPU during storm'],
      results.reconnect.map((row) => [
        SYSTEM_LABELS[row.system],
        row.clients.toLocaleString('en-US'),
        row.result.resumed.toLocaleString('en-US'),
        `${fmt(row.restartMs, 0)} ms`,
        `${fmt(row.allResumedMs, 0)} ms`,
        `${fmt(row.afterReadyMs, 0)} ms`,
        `${fmt(row.result.resumeMs.p50, 0)} / ${fmt(row.result.resumeMs.p99, 0)} ms`,
        `${row.result.connectAttempts.toLocaleString('en-US')} (${row.result.failedAttempts.toLocaleString('en-US')})`,
        `${fmt(row.serverCpuMs, 0)} ms`,
      ]),
    ),
    '',
  );

  out.push('## 5. Scale-out over Redis', '');
  const scale = results.scaleout;
  if (!scale) {
    out.push('Not run in this invocation.', '');
  } else if ('skipped' in scale) {
    out.push(`**Skipped**: ${scale.skipped}. Set \`REDIS_URL\` (default ${REDIS_URL}) to a Redis that answers.`, '');
    out.push(...topicsSection(scale.topics));
  } else {
    out.push(
      `Herald nodes with \`redisBroker\` on one Redis (${REDIS_URL}), subscribers spread evenly over the nodes, every message published on node A. ` +
        '**With 2 cores the three nodes cannot be pinned to cores of their own: all nodes share the server core** (the load generator keeps the other), ' +
        'and Redis runs unpinned wherever the scheduler puts it. Three nodes therefore show the cost of the Redis path and of cross-node ' +
        'delivery, not added capacity. CPU per delivery sums every node' +
        (scale.redisPid !== null ? ' and the Redis server process (read from /proc).' : ' (Redis is not a local process here, so it is not counted).'),
      '',
    );
    out.push(
      table(
        ['nodes', 'subscribers', 'mode', 'deliveries/s', 'CPU µs/delivery', 'node CPU', 'same node p50 / p99 ms', 'cross node p50 / p99 ms'],
        scale.rows.map((row) => [
          String(row.nodes),
          row.subscribers.toLocaleString('en-US'),
          row.mode,
          withRange(row.measurement.rate, 0),
          withRange(row.measurement.cpuUsPerEvent),
          `${fmt(row.measurement.serverCpuPct, 0)}%`,
          p(row.sameNode),
          p(row.crossNode),
        ]),
      ),
      '',
    );
    out.push(...topicsSection(scale.topics));
  }

  out.push('## 6. permessage-deflate', '');
  if (results.deflate.length === 0) {
    out.push('Not run in this invocation.', '');
  } else {
    const d = cfg.deflate;
    out.push(
      `Herald with and without \`compression\` (off by default, so every run above is uncompressed), ${results.deflate[0]!.subscribers.toLocaleString('en-US')} ` +
        `subscribers at a fixed ${d.deliveriesPerSec.toLocaleString('en-US')} deliveries/s, clients offering permessage-deflate as browsers do. ` +
        `Two message sizes: the fan-out's 219 bytes (under the default 1 KiB threshold, so never compressed: this shows what negotiating it costs) ` +
        `and ${d.largePayloadBytes.toLocaleString('en-US')} bytes of varied text. **No context takeover** (the default) compresses each message once and ` +
        'writes the same compressed frame to every subscriber; **context takeover** keeps a zlib stream per connection, so `ws` compresses every ' +
        'message once per subscriber. Wire bytes are what the clients\' TCP sockets read per delivery; memory is the server\'s RSS per connection ' +
        'after the run over its baseline before the clients connected (zlib state is outside the V8 heap). ' +
        'Latency with compression includes inflating: one load-generator core inflates every copy for all subscribers ' +
        '(a browser inflates only its own), and with context takeover the server compresses per socket on zlib\'s thread pool.',
      '',
    );
    out.push(
      table(
        ['message bytes', 'compression', 'server CPU µs/delivery', 'wire bytes/delivery', 'vs uncompressed: CPU / bytes', 'loadgen CPU', 'RSS KiB/conn', 'p50 / p99 ms'],
        results.deflate.map((row) => {
          const ratios = versusUncompressed(results.deflate, row);
          const versus = ratios ? `${fmt(ratios.cpu)}x / ${fmt(ratios.bytes)}x` : 'baseline';
          return [
            row.variant.payloadBytes.toLocaleString('en-US'),
            row.variant.label,
            withRange(row.measurement.cpuUsPerEvent),
            fmt(row.measurement.wireBytesPerEvent, 0),
            versus,
            `${fmt(row.measurement.loadgenCpuPct, 0)}%`,
            fmt(row.rssPerConnection / KiB),
            p(row.measurement.latency),
          ];
        }),
      ),
      '',
    );
    const lines = deflateSummaryLines(results.deflate);
    if (lines.length > 0) out.push('```', ...lines, '```', '');
  }

  out.push('## 7. Instructions per delivery and per call', '');
  if (results.instructions.fanout.length === 0 && results.instructions.rpc.length === 0) {
    out.push('Not run in this invocation.', '');
  } else {
    const c = cfg.instructions;
    out.push(
      'CPU time on this machine moves with everything else running on it; instruction counts move far less (up to about ±15% between runs here, ' +
        'as a garbage collection or an optimizing compile falls inside or outside the counted stretch). Each server runs under valgrind\'s ' +
        '`callgrind` (every thread of the process: JavaScript, V8\'s compilers and garbage collector, libuv), gets its subscribers and a warm-up of ' +
        `${c.warmupDeliveries.toLocaleString('en-US')} deliveries; then the counters are zeroed, ${c.deliveries.toLocaleString('en-US')} deliveries are published ` +
        `one message per tick (${c.deliveriesPerSec.toLocaleString('en-US')} deliveries/s, callgrind being tens of times slower than native), and the counters ` +
        'are read once every delivery has arrived. **User-space instructions only**: the kernel\'s share (see "of it in the kernel" in section 1, ' +
        'the larger part at a fixed rate) is not in these figures.',
      '',
    );
    out.push(
      table(
        ['system', 'N', 'instructions/delivery', 'vs raw ws: send(string)'],
        results.instructions.fanout.map((row) => {
          const raw = results.instructions.fanout.find((other) => other.system === 'raw-ws-string' && other.subscribers === row.subscribers);
          return [
            SYSTEM_LABELS[row.system],
            row.subscribers.toLocaleString('en-US'),
            Math.round(row.instructionsPerDelivery).toLocaleString('en-US'),
            raw ? `${fmt(row.instructionsPerDelivery / raw.instructionsPerDelivery)}x` : '',
          ];
        }),
      ),
      '',
    );
    if (results.instructions.rpc.length > 0) {
      out.push(
        `RPC: \`ping\` from the minimal wire client on ${c.rpc.connections} connections, one call in flight each, counted over ${c.rpc.windowMs / 1000} s ` +
          `after a ${c.rpc.warmupMs / 1000} s warm-up: instructions per answered call. raw ws answers with the same frame (\`JSON.parse\`, ` +
          '`JSON.stringify`, `ws.send`), the floor of a JSON call over `ws`. Socket.IO answers an emit with acknowledgement from the minimal ' +
          'client of its protocol.',
        '',
      );
      const stock = results.instructions.rpc.find((row) => row.system === 'trpc');
      out.push(
        table(
          ['server', 'calls counted', 'instructions/call', 'vs stock tRPC'],
          results.instructions.rpc.map((row) => [
            SYSTEM_LABELS[row.system],
            row.calls.toLocaleString('en-US'),
            Math.round(row.instructionsPerCall).toLocaleString('en-US'),
            stock ? `${fmt(row.instructionsPerCall / stock.instructionsPerCall)}x` : '',
          ]),
        ),
        '',
      );
    }
  }

  out.push('## 8. Server-Sent Events (the HTTP fallback) against WebSocket', '');
  if (results.sse.length === 0) {
    out.push('Not run in this invocation.', '');
  } else {
    const s = cfg.sse;
    out.push(
      'One Herald server (it serves WebSocket at `/ws` and tRPC over HTTP at `/trpc` at once); the load generator holds `@herald/client` ' +
        "subscribers, one client and one channel subscription each, with `transport: 'websocket'` or `transport: 'http'` (subscriptions as " +
        "Server-Sent Events, tRPC's `httpSubscriptionLink`); **SSE (fetch handler)** is `transport: 'http'` against a server whose HTTP door is " +
        "`handler.fetchHandler()` in a Hono app on `@hono/node-server` (tRPC's fetch adapter) instead of the Node door. **fixed**: " +
        `${s.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s, at most ${s.maxMessagesPerSec} messages/s, well under either transport's ceiling: the latency figure. ` +
        '**max**: closed loop as in section 1, with up to 2,048 deliveries unacknowledged. Unlike section 1 the receivers are the real client, which parses every event, so the ' +
        'load generator\'s CPU per delivery is what receiving costs the client on each transport. ' +
        `After a ${s.warmupMs} ms warm-up, ${s.windows} windows of ${s.windowMs} ms.`,
      '',
    );
    out.push(
      table(
        ['transport', 'N', 'mode', 'deliveries/s', 'server CPU µs/delivery', 'client CPU µs/delivery', 'server CPU', 'loadgen CPU', 'p50 / p99 ms'],
        results.sse.map((row) => [
          SSE_LABELS[row.transport],
          row.subscribers.toLocaleString('en-US'),
          row.mode,
          withRange(row.measurement.rate, 0),
          withRange(row.measurement.cpuUsPerEvent),
          fmt(row.loadgenUsPerDelivery),
          `${fmt(row.measurement.serverCpuPct, 0)}%`,
          `${fmt(row.measurement.loadgenCpuPct, 0)}%`,
          p(row.measurement.latency),
        ]),
      ),
      '',
    );
    const fetchLines = fetchDoorRatioLines(results.sse);
    if (fetchLines.length > 0) out.push('```', ...fetchLines, '```', '');
  }

  out.push(...nodeSection(results));
  out.push(...shardsSection(results.shards ?? null));
  out.push(...outboxSection(results));
  out.push(...tracingSection(results));
  out.push(...abuseSection(results));
  out.push(...liveSection(results));
  out.push(...encodingSection(results));

  if (results.notes.length > 0) out.push('## Notes', '', ...results.notes.map((note) => `- ${note}`), '');
  return out.join('\n');
}

/** Section 9: one node at its limits (scenarios/node.ts). */
export function nodeSection(results: SuiteResults): string[] {
  const out: string[] = ['## 9. One node at its limits', ''];
  if (results.node.length === 0) return [...out, 'Not run in this invocation.', ''];
  const n = results.config.node;
  out.push(
    `${n.connections.toLocaleString('en-US')} clients in the load generator connect and subscribe to one room (${CONNECT_CONCURRENCY_NOTE}); ` +
      `the server's CPU over that is **connect+subscribe**. Then, once the server has run no full collection for ${GC_QUIET_MS / 1000} s (at most ${GC_QUIET_MAX_MS / 1000} s of waiting), **idle**: ${n.idleMs / 1000} s with nothing published, Herald with its default heartbeats ` +
      '(a WebSocket ping control frame after 10 s of quiet, answered by the clients\' WebSocket), bare `ws` with no heartbeat at all, and bare `ws` pinging each socket every 15 s in 200 ms ticks (Herald\'s rate and spread) with `ws.ping()` and with text `PING` answered `PONG` (tRPC\'s heartbeat, which clients send and Herald answers); CPU in percent of one core scaled to 10,000 connections. ' +
      `Then **broadcast**: 3 messages to the whole room, ${n.broadcastMs / 1000} s apart, server CPU over each ${n.broadcastMs / 1000} s window (mean; heartbeats included), ` +
      'and the same less the idle CPU rate over the window (**over idle**: the broadcast\'s own cost). ' +
      'Event-loop delay is `perf_hooks.monitorEventLoopDelay` (10 ms resolution) in the server over the window: its max is the longest the loop was held. ' +
      "The servers run with `--no-memory-reducer`: V8's memory reducer collects the whole heap up to three times 8 to 24 s or more after connecting grew it, each worth about a quarter point of the idle figure, " +
      'and those landed inside or outside a window by chance; a node at rest for hours has long finished them. Collections that allocation forces still run, and the windows count them. ' +
      `Idle CPU is a few tenths of a percent apart between systems, less than this machine drifts over minutes: Herald, bare \`ws\` and bare \`ws\` with \`ws.ping()\` are measured idle in ${n.idleRounds} round${n.idleRounds === 1 ? '' : 's'} (each with fresh connections, in a rotated order), ` +
      "their idle figures are the medians over the rounds (each round's in brackets) and Herald's ratio to bare `ws` with `ws.ping()` is the median of the rounds' ratios.",
    '',
  );
  out.push(
    table(
      ['system', 'clients', 'connect+subscribe µs CPU/client', 'idle CPU %/10k conns', 'heartbeat pairs/s per 10k', 'full GCs in idle window', 'idle loop delay p99 / max ms', 'broadcast CPU ms', 'over idle ms', 'broadcast loop delay p99 / max ms', 'delivered/broadcast'],
      results.node.map((row) => [
        row.system === 'raw-ws-string' ? 'bare ws' : SYSTEM_LABELS[row.system],
        row.connections.toLocaleString('en-US'),
        fmt(row.connectCpuUsPerClient, 0),
        row.idle.rounds && row.idle.rounds.length > 1 ? `${fmt(row.idle.cpuPercentPer10k, 2)} (${row.idle.rounds.map((value) => fmt(value, 2)).join(', ')})` : fmt(row.idle.cpuPercentPer10k, 2),
        row.idle.pairsPerSecPer10k == null ? '–' : fmt(row.idle.pairsPerSecPer10k, 0),
        row.idle.majorGcs ? row.idle.majorGcs.join(', ') : '–',
        `${fmt(row.idle.loop.p99Ms, 1)} / ${fmt(row.idle.loop.maxMs, 1)}`,
        fmt(row.broadcast.cpuMs, 0),
        fmt(row.broadcast.cpuMsOverIdle, 0),
        `${fmt(row.broadcast.loop.p99Ms, 1)} / ${fmt(row.broadcast.loop.maxMs, 1)}`,
        fmt(row.broadcast.delivered, 0),
      ]),
    ),
    '',
  );
  const bare = results.node.find((row) => row.system === 'raw-ws-string');
  const herald = results.node.find((row) => row.system === 'herald');
  const barePings = results.node.filter((row) => row.system === 'raw-ws-ping' || row.system === 'raw-ws-textping');
  if (bare && herald) out.push('Herald against bare ws:', '', ...nodeRatioLines(herald, bare, barePings).map((line) => (line.startsWith('  ') ? `  - ${line.trimStart()}` : `- ${line}`)), '');
  return out;
}

/** Section 11: the durable outbox with a large offline backlog (scenarios/outbox.ts). */
export function outboxSection(results: SuiteResults): string[] {
  const out: string[] = ['## 11. The durable outbox', ''];
  const rows = results.outbox ?? [];
  if (rows.length === 0) return [...out, 'Not run in this invocation.', ''];
  out.push(
    "`@herald/client`'s persistence in one process with no network: its tracker holds every send (offline) or answers it at once (online), so the " +
      'times are the outbox\'s and the storage\'s own. **record**: N mutations made offline, until the last record is written; **reload**: a new ' +
      'client on the same storage (as after a restart) until `outbox.ready`, every entry read and queued; **drain**: the connection answers, entries ' +
      'go out in order one at a time, until every outcome is reported and every entry removed from storage. The file store appends to its log ' +
      'in a temporary directory (group commit: one fdatasync per batch of up to 256 writes) and is opened again for the reload, as after a restart. ' +
      'Heap per entry is the growth over the reload, between two full collections.',
    '',
  );
  out.push(
    table(
      ['store', 'entries', 'record ms', 'reload ms', 'drain ms', 'µs/entry (record / reload / drain)', 'heap B/entry'],
      rows.map((row) => [
        row.store,
        row.entries.toLocaleString('en-US'),
        fmt(row.recordMs, 0),
        fmt(row.reloadMs, 0),
        fmt(row.drainMs, 0),
        [row.recordMs, row.reloadMs, row.drainMs].map((value) => fmt((value * 1000) / row.entries, 1)).join(' / '),
        fmt(row.heapBytesPerEntry, 0),
      ]),
    ),
    '',
  );
  return out;
}

const CONNECT_CONCURRENCY_NOTE = '100 handshakes in flight at once';
