import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback TCP port nobody listens on right now, for a server a test must
 * restart on the same port. The OS picks it; another program could take it
 * before the caller binds it, which is unlikely on a test machine.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
