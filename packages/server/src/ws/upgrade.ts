import type { Duplex } from 'node:stream';
import type { UpgradeRefusal } from '../errors.js';

const STATUS_TEXT = { 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const;

/**
 * Answers a refused upgrade on the raw socket (no WebSocket exists yet) and
 * closes it: the HTTP status and a JSON body `{ error, message }` whose
 * message says what to do. Browsers hide both from scripts (they report
 * close 1006); Node clients see them.
 */
export function writeUpgradeRefusal(socket: Duplex, answer: UpgradeRefusal, message: string): void {
  const { status, error } = answer;
  const body = JSON.stringify({ error, message });
  const retry = status === 429 || status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
