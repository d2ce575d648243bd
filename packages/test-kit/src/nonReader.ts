/**
 * A client that asks and never reads, by hand: the attack the HTTP door's
 * answer limits (`maxHttpAnswerBytes`, `maxHttpAnswerBytesPerIp`,
 * `httpWriteTimeoutMs`) are for. A raw TCP socket, so nothing reads for it.
 */
import { connect, type Socket } from 'node:net';

export interface NonReader {
  /** Its socket: `destroy()` it to make the client go. */
  readonly socket: Socket;
  /** The status code of its answer (`'200'`, `'429'`...), read from the first bytes that came; nothing more is read. */
  readonly status: Promise<string>;
}

/** Sends `GET url` on a new connection and stops reading once the answer's status line came. Destroy its socket (at cleanup). */
export function nonReadingGet(url: string): NonReader {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  const status = new Promise<string>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve(chunk.toString('latin1', 9, 12));
    });
    socket.once('close', () => reject(new Error(`GET ${pathname}: the connection closed before an answer came`)));
  });
  return { socket, status };
}
