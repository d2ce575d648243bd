import { fmt } from '../lib/log.js';
import { PAYLOAD_BYTES } from '../lib/payload.js';
import type { EncodingCase, EncodingRow } from '../scenarios/encoding.js';
import type { SuiteResults } from './results.js';

/** What a row measured, in words. */
function caseOf(measured: EncodingCase): string {
  switch (measured.kind) {
    case 'fanout':
      return `fan-out, ${measured.subscribers.toLocaleString('en-US')} subscribers, ${measured.mode === 'fixed' ? 'fixed rate' : 'max rate'}`;
    case 'binary':
      return `${fmt(measured.binaryBytes / 1024, 0)} KiB binary payload, ${measured.subscribers} subscribers`;
    case 'client':
      return `@herald/client receiving, ${measured.subscribers} subscribers${measured.binaryBytes ? `, ${fmt(measured.binaryBytes / 1024, 0)} KiB binary payload` : ''}`;
    case 'rpc':
      return `RPC, @herald/client, ${measured.connections} connections × 1 call`;
  }
}

/** The figure a row is compared on, and its unit. */
function figureOf(row: EncodingRow): { value: number; text: string } {
  const m = row.measurement;
  switch (row.case.kind) {
    case 'fanout':
      return { value: m.cpuUsPerEvent.value, text: `${fmt(m.cpuUsPerEvent.value)} µs server CPU/delivery; ${fmt(m.wireBytesPerEvent, 0)} wire bytes/delivery; ${fmt(m.rate.value, 0)} deliveries/s` };
    case 'binary':
      return { value: m.wireBytesPerEvent, text: `${fmt(m.wireBytesPerEvent, 0)} wire bytes/delivery (${fmt(m.wireBytesPerEvent / row.case.binaryBytes, 3)}x the payload)` };
    case 'client':
      return { value: m.loadgenCpuUsPerEvent, text: `${fmt(m.loadgenCpuUsPerEvent)} µs client CPU/message` };
    case 'rpc':
      return { value: m.rate.value, text: `${fmt(m.rate.value, 0)} calls/s; ${fmt(m.cpuUsPerEvent.value)} µs server CPU/call` };
  }
}

/** Section 14: JSON against MessagePack frames (scenarios/encoding.ts), MessagePack's figure over JSON's in the same run. */
export function encodingSection(results: SuiteResults): string[] {
  const out: string[] = ['## 14. JSON against MessagePack frames', ''];
  const rows = results.encoding ?? [];
  if (rows.length === 0) return [...out, 'Not run in this invocation.', ''];
  out.push(
    `Herald's WebSocket door with JSON text frames and with MessagePack binary frames (\`herald.msgpack\`), each condition run for both ` +
      `encodings back to back. Fan-out and binary rows: minimal tRPC wire clients (wire bytes are what their TCP sockets read); the chat-sized ` +
      `message is ${PAYLOAD_BYTES} bytes of JSON. Client rows: \`@herald/client\` with \`encoding\` set, its CPU per message being the load ` +
      `generator's. The ratio is MessagePack's figure over JSON's (for calls/s, higher is better; for the rest, lower is).`,
    '',
    '| condition | JSON | MessagePack | ratio |',
    '|---|---|---|---|',
  );
  const keyOf = (row: EncodingRow) => JSON.stringify(row.case);
  for (const json of rows.filter((row) => row.encoding === 'json')) {
    const msgpack = rows.find((row) => row.encoding === 'msgpack' && keyOf(row) === keyOf(json));
    const a = figureOf(json);
    const b = msgpack ? figureOf(msgpack) : null;
    out.push(`| ${caseOf(json.case)} | ${a.text} | ${b?.text ?? 'not run'} | ${b && a.value > 0 ? `${fmt(b.value / a.value, 2)}x` : ''} |`);
  }
  out.push('');
  return out;
}
