import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import type { AnyRouter } from '@trpc/server';
import type { AdapterRun, HttpAnswer, HttpExchange } from './exchange.js';
import type { AdapterSettings } from './fetchExchange.js';
import { boundWrites, dropUnlessTaken, onClose } from './slowClients.js';

/**
 * A Node request and its response as an `HttpExchange`: answers written to
 * the `ServerResponse`, calls and streams through tRPC's node-http adapter
 * (a refusal handed to it as a middleware's error, so it answers in its
 * own shape), the client's pace read from the socket's buffers.
 */
export function nodeExchange<TRouter extends AnyRouter>(
  settings: AdapterSettings<TRouter>,
  req: IncomingMessage,
  res: ServerResponse,
  target: { readonly url: URL; readonly path: string; readonly address: string },
): HttpExchange {
  const { router, maxPayloadBytes, onError } = settings;
  return {
    head: req,
    request: req,
    url: target.url,
    address: target.address,
    addHeaders(headers) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    },
    answer(answer: HttpAnswer) {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(answer.status, answer.headers).end(answer.body);
    },
    runAdapter: (run: AdapterRun) =>
      nodeHTTPRequestHandler({
        router,
        req,
        res,
        path: target.path,
        maxBodySize: maxPayloadBytes,
        ...('refusal' in run ? { middleware: (_req: unknown, _res: unknown, next: (error?: unknown) => void) => next(run.refusal) } : {}),
        createContext: () => ('ctx' in run ? run.ctx : undefined),
        onError: ({ error, type, path }) => onError(error, type, path),
      }),
    readBody: (maxBytes) => readBody(req, maxBytes),
    onClose: (then) => onClose(res, then),
    destroy: () => res.destroy(),
    dropUnlessTaken: (timeoutMs, refused) => dropUnlessTaken(res, timeoutMs, refused),
    boundWrites: (maxBufferedBytes, refused) => boundWrites(res, maxBufferedBytes, refused),
    // The socket's counts: a kept-alive socket's earlier requests included.
    transferred: () => ({ bytesIn: req.socket.bytesRead, bytesOut: req.socket.bytesWritten }),
  };
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
