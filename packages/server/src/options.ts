import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TlsOptions } from 'node:tls';
import type { AnyRouter, inferRouterContext } from '@trpc/server';
import type { Logger } from 'pino';
import {
  DEFAULT_SERVER_PING_INTERVAL_MS,
  DEFAULT_SERVER_PONG_TIMEOUT_MS,
  HTTP_PATH,
  WS_PATH,
} from '@herald/shared/internal';
import type { ExpiringUser } from './auth/identity.js';
import type { Herald } from './herald.js';
import type { HeraldRequest } from './transport/requestHead.js';

/** What `createContext` gets: once per WebSocket connection, after its `connectionParams` arrive. */
export interface HeraldContextOptions<TUser = never> {
  /** The `connectionParams` the client sent, or `null` if it sent none. */
  readonly connectionParams: Readonly<Record<string, string>> | null;
  /** The request: the WebSocket upgrade or HTTP request (a Node `IncomingMessage`), or the fetch `Request` on the fetch handler. */
  readonly req: HeraldRequest;
  /** What `authenticate` returned for this connection: its user, or `null` (anonymous, or no `authenticate`). */
  readonly user: TUser | null;
  /**
   * This connection's id, unique across nodes and restarts: what
   * `herald.connectionChannel` sends to. A WebSocket keeps it for its life
   * (an in-band refresh included); a reconnect is a new connection with a
   * new id. Over HTTP every request and every event stream is a connection
   * of its own.
   */
  readonly connectionId: string;
}

/**
 * Decides a connection's user from its `connectionParams` and upgrade request,
 * before `createContext` and before any procedure runs. Return the user, or
 * `null` to let the connection in anonymously; wrap the user with
 * `withExpiry(user, expiresAt)` when its credentials expire. Throw to refuse
 * it: the client gets an error frame with `heraldCode: 'UNAUTHORIZED'` (the
 * message of a thrown `TRPCError`, else "Authentication failed") and the
 * socket is closed with 4001. `jwtAuthenticator()` makes one for JWTs.
 *
 * It runs again on an in-band refresh (Herald's client sends fresh
 * `connectionParams` on the open socket before `expiresAt`), with the same
 * upgrade request: the refreshed identity must be the same user.
 */
export type Authenticate<TUser> = (
  connectionParams: Readonly<Record<string, string>> | null,
  req: HeraldRequest,
) => TUser | ExpiringUser<TUser> | null | Promise<TUser | ExpiringUser<TUser> | null>;

/** Credentials over the whole life of a connection. */
export interface AuthOptions {
  /**
   * How long past an identity's `expiresAt` (see `withExpiry`) the server
   * still trusts the connection, to absorb clock skew and a refresh in
   * flight. Then requests are refused with `TOKEN_EXPIRED` and the socket is
   * closed with 4005; over HTTP, SSE streams end.
   * @default 5_000
   */
  expiryGraceMs?: number;
  /**
   * Failed authentications one client address may make, as a token bucket:
   * `burst` at once, refilled at `perSecond`. Past it, WebSocket upgrades
   * from that address get HTTP 429 and HTTP calls `LIMIT_EXCEEDED`, so a
   * client stuck on a stale token cannot burn the server's CPU. `false`
   * turns it off.
   * @default { perSecond: 0.5, burst: 20 }
   */
  failedAttempts?: { perSecond?: number; burst?: number } | false;
  /**
   * How long `server.disconnectUser` keeps refusing the user's credentials
   * issued before it (on every node sharing the broker, at admission and at
   * in-band refresh): set it to the longest lifetime of your credentials.
   * Credentials whose issue time is not known (see `withExpiry`'s
   * `issuedAt`; `jwtAuthenticator` reads `iat`) are refused for all of it.
   * @default 86_400_000 (24 hours)
   */
  revocationTtlMs?: number;
}

/** How the server finds dead clients (`heartbeat` of `createHeraldServer`). */
export interface HeartbeatOptions {
  /**
   * Quiet time on a socket before the server pings it: a WebSocket ping
   * control frame, which every client's WebSocket (a browser's included)
   * answers by itself with a pong. Any frame from the client (its own text
   * `PING` included, answered `PONG`) counts as proof of life, so a socket
   * with traffic, or a client that pings on its own, is never pinged.
   *
   * The server checks each socket once per sweep of `min(pingIntervalMs,
   * pongTimeoutMs)` (a slice of the sockets at a time, spread over the
   * sweep), so a quiet socket is pinged between `pingIntervalMs` and
   * `pingIntervalMs + min(pingIntervalMs, pongTimeoutMs)` after its last
   * frame, and a dead peer is dropped at most `pingIntervalMs + pongTimeoutMs
   * + min(pingIntervalMs, pongTimeoutMs)` after its last frame (20 s with the
   * defaults) when the sweep divides `pongTimeoutMs` (round figures), one more
   * sweep at most otherwise. Expired credentials end the connection at most
   * one sweep late.
   * @default 10_000
   */
  pingIntervalMs?: number;
  /**
   * How long after its ping the server waits for the pong, or any frame, before it drops
   * the connection (ending its subscriptions and presence). See
   * `pingIntervalMs` for the detection bound.
   * @default 5_000
   */
  pongTimeoutMs?: number;
}

/** Bounds that keep one client from taking more than its share (`limits` of `createHeraldServer`). */
export interface LimitOptions {
  /**
   * Largest incoming frame, in bytes; a bigger one closes the socket with
   * 1009. `ws` would allow 100 MiB, far too much for an internet-facing server.
   * @default 1_048_576
   */
  maxPayloadBytes?: number;
  /**
   * Subscriptions one connection may hold at once; one more is refused with
   * `LIMIT_EXCEEDED` (the connection stays up).
   * @default 1_000
   */
  maxSubscriptionsPerConnection?: number;
  /**
   * Requests one frame may batch; a bigger batch is refused whole.
   * @default 100
   */
  maxBatchSize?: number;
  /**
   * Bytes queued for a socket that is not reading before it is closed with
   * 4002 (slow consumer). Its client reconnects and resumes from history.
   * @default 4_194_304
   */
  maxBufferedBytes?: number;
  /**
   * Time a client that announced `connectionParams` has to send them; then
   * the connection is closed with 4001.
   * @default 10_000
   */
  connectionParamsTimeoutMs?: number;
  /**
   * Connections the server holds at once: WebSockets (handshakes in progress
   * included) and HTTP event streams. One more WebSocket is refused at the
   * upgrade with HTTP 503; one more event stream ends with `LIMIT_EXCEEDED`.
   * @default 10_000
   */
  maxConnections?: number;
  /**
   * Connections (WebSockets and HTTP event streams) one IP address may hold
   * at once; one more WebSocket is refused at the upgrade with HTTP 429, one
   * more event stream ends with `LIMIT_EXCEEDED`. Behind a proxy every client has the proxy's
   * address: set `trustProxy` (and make sure the proxy sets
   * `X-Forwarded-For`) or raise this.
   * @default 100
   */
  maxConnectionsPerIp?: number;
  /**
   * Connections one authenticated user (see `userKey`) may hold at once,
   * WebSockets and HTTP event streams alike (over HTTP each subscription is
   * an event stream: raise this for apps whose clients hold many
   * subscriptions on the HTTP fallback). One more gets `LIMIT_EXCEEDED`: a
   * WebSocket is closed with 4003, an event stream ends. Anonymous
   * connections are bounded per IP only.
   * @default 20
   */
  maxConnectionsPerUser?: number;
  /**
   * Requests per authenticated user (per address for anonymous
   * callers), over all of that user's connections and HTTP requests on this
   * node (an HTTP batch of N calls takes N), as a
   * token bucket: `burst` requests at once, refilled at `perSecond`, so
   * closing and reopening a socket does not refill it. The budget is per
   * node: a user spread over N nodes gets N budgets. A request over it is
   * answered with `LIMIT_EXCEEDED` (the connection stays up).
   * `subscription.stop`, `PING` and `connectionParams` are not counted. The burst matches
   * `maxSubscriptionsPerConnection` and the client's offline queue, so a
   * reconnecting client that resends everything at once is never refused.
   * `false` turns it off.
   * @default { perSecond: 100, burst: 1_000 }
   */
  rate?: { perSecond?: number; burst?: number } | false;
  /**
   * Calls in HTTP requests one IP address may have in progress at once (a
   * batch of N calls counts N; event streams are connections and count
   * against `maxConnectionsPerIp` instead). One more request gets
   * `LIMIT_EXCEEDED` (HTTP 429). With `httpWriteTimeoutMs` it bounds the
   * answers one address can make the server build and hold.
   * @default 100
   */
  maxHttpCallsPerIp?: number;
  /**
   * Time an HTTP answer may take to reach its client once written; a client
   * that does not take it in time is dropped and the answer's memory freed.
   * An event stream whose client falls `maxBufferedBytes` behind is dropped
   * the same way (its EventSource reconnects and resumes).
   * @default 30_000
   */
  httpWriteTimeoutMs?: number;
  /**
   * Size of one HTTP answer (a batch's answer is one), counted as the
   * characters of its JSON as the server serializes it. An answer that would
   * be larger is not built: the request gets `PAYLOAD_TOO_LARGE` (HTTP 413)
   * telling it to ask for less at once (smaller batches) or to use tRPC's
   * `httpBatchStreamLink`, whose answers are streamed call by call with
   * backpressure and are not counted as one. The calls of a batch run 16
   * at a time, and once the results of those that ended are past this size
   * the rest are not run. Bounds the memory one request can make the server
   * hold, and the work it can make it do.
   * @default 8_388_608
   */
  maxHttpAnswerBytes?: number;
  /**
   * Bytes of HTTP answers one IP address may have the server hold at once:
   * built and not yet taken by their clients (counted as `maxHttpAnswerBytes`
   * counts them, until the answer is sent in full or its connection ends).
   * Past it, answers being built and further requests of that address get
   * `LIMIT_EXCEEDED` (HTTP 429) until its clients read what they asked for.
   * The HTTP side's `maxBufferedBytes`, per address rather than per socket.
   * @default 33_554_432
   */
  maxHttpAnswerBytesPerIp?: number;
  /**
   * Time a new TCP connection has to send its complete HTTP request headers
   * (a WebSocket upgrade included), and with `tls` to finish its TLS
   * handshake; then it is dropped (HTTP 408). Bounds sockets that connect
   * and stall. `createHeraldServer`'s own server only: an attached server
   * (`attachHerald`) keeps the app's settings.
   * @default 10_000
   */
  headersTimeoutMs?: number;
  /**
   * Time a plain HTTP request has to arrive whole (headers and body).
   * `createHeraldServer`'s own server only, as `headersTimeoutMs`.
   * @default 30_000
   */
  requestTimeoutMs?: number;
}

/** permessage-deflate (RFC 7692) for WebSocket frames; off by default. */
export interface CompressionOptions {
  /**
   * Frames smaller than this many bytes go out uncompressed (compressing
   * them costs more CPU than it saves bandwidth).
   * @default 1_024
   */
  threshold?: number;
  /**
   * zlib level, 1 (fastest) to 9 (smallest).
   * @default 3
   */
  level?: number;
  /**
   * Keep the compression window between frames: a better ratio, but zlib
   * state kept for every connection and every message compressed once per
   * socket (section 6 of bench/results.md measures both). Off, each frame is
   * compressed on its own, once for all subscribers, and a connection costs
   * only what is in flight.
   * @default false
   */
  contextTakeover?: boolean;
}

/**
 * A Prometheus registry, as Herald's types name it: the part of
 * prom-client's `Registry` they need, so that an app that does not install
 * prom-client compiles without its types. Every prom-client `Registry` is
 * one. To use prom-client's own type (`collectDefaultMetrics({ register })`),
 * pass a `Registry` of yours as `metrics.registry` and keep your reference.
 */
export interface MetricsRegistry {
  /** The exposition, in Prometheus text format. */
  metrics(): Promise<string>;
  /** The exposition's content type. */
  readonly contentType: string;
  /** One metric's exposition. */
  getSingleMetricAsString(name: string): Promise<string>;
  /** Resets every metric's value. */
  resetMetrics(): void;
}

/** Prometheus metrics (`prom-client`). */
export interface MetricsOptions {
  /**
   * Where the metrics are registered. Pass your own to add Herald's to an
   * app's registry; several servers in one process must not share one.
   * @default a new `Registry` per server (never prom-client's global one)
   */
  registry?: MetricsRegistry;
  /**
   * The HTTP path they are served on, in Prometheus text format; `false`
   * serves none (read `server.metrics.registry` yourself). It is on the
   * public port: block it at the proxy if the numbers are private.
   * @default '/metrics'
   */
  path?: string | false;
  /**
   * Prefix of every metric name.
   * @default 'herald_'
   */
  prefix?: string;
}

/** Mutations that run once per idempotency key (`idempotency` of `createHeraldServer`). */
export interface IdempotencyOptions {
  /**
   * How long an outcome is kept for repeats, and how long a claim whose run
   * never finished (its process died) blocks a repeat. Clients with a
   * durable outbox resend an entry until its `maxAgeMs`: keep this above
   * that plus `waitTimeoutMs` (docs/outbox.md).
   * @default 600_000
   */
  ttlMs?: number;
  /**
   * How long a repeat waits for a first attempt that is still running before
   * it fails with TIMEOUT.
   * @default 30_000
   */
  waitTimeoutMs?: number;
  /**
   * Who a key belongs to, from the caller's context: a caller presenting a
   * key of another scope runs its own call, never receives another's
   * result. Return null to use the default.
   * @default the caller's user (`userKey`), or for an anonymous caller its address
   */
  scope?: (ctx: unknown) => string | null | undefined;
  /**
   * Idempotency records one caller (one `scope`) may start on this node per
   * `ttlMs` (each is kept that long). One more keyed mutation is refused
   * with `LIMIT_EXCEEDED` and runs nothing: send it without a key, or later.
   * @default 10_000
   */
  maxRecordsPerCaller?: number;
  /**
   * Bytes of stored outcomes one caller may have this node keep per `ttlMs`;
   * past it, as `maxRecordsPerCaller`.
   * @default 16_777_216
   */
  maxRecordBytesPerCaller?: number;
}

/**
 * The options of a Herald handler (`createHeraldHandler`, `attachHerald`),
 * and all but the listener's options of `createHeraldServer`: the app's
 * router and `createContext` (required), who may connect, limits,
 * shutdown, logs and metrics. Each field's default is in `serverDefaults`;
 * docs/options.md lists them all.
 */
export interface HeraldHandlerOptions<TRouter extends AnyRouter, TUser = never> {
  /**
   * The app's tRPC router, built with Herald's `transformer`
   * (`initTRPC.create({ transformer })`, imported from `@herald/server`);
   * `createHeraldServer` refuses a router with any other.
   */
  router: TRouter;
  /**
   * Builds the context every call on a connection shares, after
   * `authenticate` (its user is `opts.user`). Throw a `TRPCError` to refuse
   * the connection (UNAUTHORIZED or FORBIDDEN close it with 4001).
   */
  createContext: (opts: HeraldContextOptions<TUser>) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  /**
   * Decides each connection's user before anything else runs on it; see
   * `Authenticate`.
   * @default none: every connection is anonymous (`user: null`)
   */
  authenticate?: Authenticate<TUser>;
  /**
   * The key `limits.maxConnectionsPerUser` counts a user under.
   * @default the user's `id` or `sub` property, or the user itself if it is a string
   */
  userKey?: (user: TUser) => string | null;
  /** The channels hub, so health reports its broker and shutdown covers it. */
  herald?: Herald;
  /**
   * Path WebSocket upgrades are accepted on; other paths get 404.
   * @default '/ws'
   */
  path?: string;
  /**
   * Path prefix the router is also served on over HTTP, for networks that
   * strip WebSocket upgrades: tRPC's HTTP protocol (`<httpPath>/<procedure>`,
   * batched queries and mutations, subscriptions as Server-Sent Events), with
   * the same `createContext`, limits, resume and idempotency as the WebSocket.
   * `createContext` gets the SSE request's `connectionParams`, else `{ token }`
   * from an `Authorization: Bearer <token>` header. `false` turns it off.
   * @default '/trpc'
   */
  httpPath?: string | false;
  /** How the server finds dead clients: it pings quiet sockets and drops those that stay silent. */
  heartbeat?: HeartbeatOptions;
  /** Bounds that keep one client from taking more than its share. */
  limits?: LimitOptions;
  /**
   * Browser origins allowed to open WebSockets and call over HTTP (exact
   * `Origin` values such as `'https://chat.example.com'`, or a predicate).
   * A request with another `Origin` header is refused (HTTP 403 at the
   * upgrade, `FORBIDDEN` over HTTP); one without the header (a non-browser
   * client) is let in. This stops other sites from opening sockets with your
   * users' cookies. `'*'` lets every origin in.
   * @default the server's own origin only: the `Origin` host must match the request's `Host` (`X-Forwarded-Host` with `trustProxy`)
   */
  allowedOrigins?: readonly string[] | ((origin: string) => boolean) | '*';
  /**
   * Take the client's address from the first `X-Forwarded-For` entry (set
   * by your proxy) for `maxConnectionsPerIp`, the failed-authentication and
   * rate limits of anonymous clients, and logs; and the host of the
   * same-origin check from `X-Forwarded-Host`. Only behind a proxy that
   * overwrites the headers: clients can send anything. Without it, behind a
   * proxy all clients share the proxy's address: the server logs one
   * warning when requests carry `X-Forwarded-For` while this is off.
   * @default false
   */
  trustProxy?: boolean;
  /**
   * Whether the HTTP fallback lets pages of the other origins
   * `allowedOrigins` admits send cookies with their calls
   * (`Access-Control-Allow-Credentials: true`). Herald's client sends
   * credentials in headers, so only an `authenticate` that reads cookies
   * needs it.
   * @default false
   */
  corsCredentials?: boolean;
  /**
   * permessage-deflate for WebSocket frames (only with clients that offer
   * it). `true` uses the defaults of `CompressionOptions`.
   * @default false
   */
  compression?: boolean | CompressionOptions;
  /**
   * How long `close()` waits for calls in flight (queries and mutations;
   * subscriptions are resumed elsewhere) to answer after it stopped
   * accepting and sent the reconnect notice. Then sockets are closed.
   * @default 10_000
   */
  drainTimeoutMs?: number;
  /**
   * How long `close()` waits for clients to close their sockets after the
   * reconnect notice before it terminates them.
   * @default 2_000
   */
  closeTimeoutMs?: number;
  /**
   * A pino logger: one line per connection opened and closed (with its
   * code, its reason and who closed it) at `info`; refusals at `warn`, one
   * line per reason per 10 s with how many more there were.
   * @default pino at 'info' on stdout; silent when NODE_ENV is 'test' or under vitest
   */
  logger?: Logger;
  /**
   * Prometheus metrics, on `prom-client` (an optional peer dependency:
   * install it to keep metrics on). `false` keeps none, serves no `/metrics`
   * and never imports prom-client.
   * @default { path: '/metrics', prefix: 'herald_' } on a registry of the server's own
   */
  metrics?: MetricsOptions | false;
  /**
   * Serve `/healthz` and `/readyz` (see docs/production.md). Turn it off when
   * the app answers these paths itself.
   * @default true
   */
  health?: boolean;
  /** Credentials over the life of a connection: expiry grace and the failed-authentication limit. */
  auth?: AuthOptions;
  /**
   * Development mode: error answers carry stack traces (with file paths).
   * Keep it off for anything reachable by others.
   * @default true only when NODE_ENV is 'development'
   */
  development?: boolean;
  /** Mutations sent with an idempotency key (Herald's client does) run once per key. */
  idempotency?: IdempotencyOptions;
  /**
   * The admin page and its router, served by this server (see
   * `AdminOptions`). Every node of a cluster that should appear on the page
   * turns it on. Off: no route, no timer, no broker topic.
   * @default undefined (off)
   */
  admin?: AdminOptions<inferRouterContext<TRouter>>;
  /** Called for every error a procedure throws, and for connection errors. */
  onError?: (info: { error: Error; path: string | undefined; type: string }) => void;

}

/**
 * The options of `createHeraldServer`: a handler's options, plus the HTTP(S)
 * server it listens with (port, interface, TLS, the app's other requests).
 */
export interface HeraldServerOptions<TRouter extends AnyRouter, TUser = never> extends HeraldHandlerOptions<TRouter, TUser> {
  /**
   * TCP port. `0` picks a free one (see `server.port`).
   * @default 8787
   */
  port?: number;
  /**
   * Interface to listen on.
   * @default undefined (every interface, as Node's `listen`)
   */
  host?: string;
  /**
   * Serve `wss://` and `https://`: Node TLS options, at least `key` and
   * `cert` (PEM). `server.url` then starts with `wss://`.
   * @default none: plain `ws://` and `http://`
   */
  tls?: TlsOptions & { key: NonNullable<TlsOptions['key']>; cert: NonNullable<TlsOptions['cert']> };
  /**
   * Serves HTTP requests Herald does not (anything other than `/healthz`,
   * `/readyz` and `httpPath`), for example a built web app. Return `false` to let Herald
   * answer 404.
   */
  handleHttp?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/**
 * The admin page (`admin` of `createHeraldServer`): live figures of every
 * node sharing the `herald` broker, served at `path` and streamed over a
 * WebSocket of its own at `${path}/ws`. The page asks for a token (the field
 * "Admin token") and sends it as the connection params `{ token }`; scripts
 * send it as `Authorization: Bearer <token>` to `${path}/api/cluster`.
 */
export interface AdminOptions<TContext = unknown> {
  /**
   * Where the page is served. Its router's WebSocket is `${path}/ws`, and
   * the cluster figures as JSON are at `${path}/api/cluster`.
   * @default '/admin'
   */
  path?: string;
  /**
   * Decides whether an admin token is valid; `req` is the upgrade or HTTP
   * request. Return false (or throw) to refuse: the socket gets
   * `UNAUTHORIZED` (close 4001), HTTP gets 401. Every origin must pass it:
   * `allowedOrigins` does not apply to the admin socket, whose credentials are
   * never sent by a browser on its own. Compare secrets in constant time
   * (`crypto.timingSafeEqual`). Failures count against `auth.failedAttempts`.
   */
  authenticate: (token: string, req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * How often each node publishes its figures through the broker (topic
   * `#herald/admin-stats`); a node silent for 2.5 intervals leaves the page.
   * @default 1000
   */
  intervalMs?: number;
  /**
   * Names the user of a connection on the admin page, from the context
   * `createContext` made for it (`(ctx) => ctx.user.name`): the lookup finds
   * connections by any part of this name (without case) as well as by user
   * key or connection id prefix, and lists it beside the user key. Called
   * when a lookup runs, for each admitted connection with a user; a throw or
   * a blank answer shows no name. Leave it out to show user keys only.
   * @default undefined (user keys only)
   */
  displayName?: (ctx: TContext) => string | null | undefined;
}

/** The defaults of `HeraldServerOptions`, merged once under the options passed. */
export const serverDefaults = {
  port: 8787,
  path: WS_PATH,
  httpPath: HTTP_PATH,
  heartbeat: {
    pingIntervalMs: DEFAULT_SERVER_PING_INTERVAL_MS,
    pongTimeoutMs: DEFAULT_SERVER_PONG_TIMEOUT_MS,
  },
  limits: {
    maxPayloadBytes: 1_048_576,
    maxSubscriptionsPerConnection: 1_000,
    maxBatchSize: 100,
    maxBufferedBytes: 4_194_304,
    connectionParamsTimeoutMs: 10_000,
    maxConnections: 10_000,
    maxConnectionsPerIp: 100,
    maxHttpCallsPerIp: 100,
    httpWriteTimeoutMs: 30_000,
    maxHttpAnswerBytes: 8_388_608,
    maxHttpAnswerBytesPerIp: 33_554_432,
    maxConnectionsPerUser: 20,
    rate: { perSecond: 100, burst: 1_000 },
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
  },
  compression: { threshold: 1_024, level: 3, contextTakeover: false },
  drainTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  metrics: { path: '/metrics', prefix: 'herald_' },
  health: true,
  idempotency: { ttlMs: 600_000, waitTimeoutMs: 30_000, maxRecordsPerCaller: 10_000, maxRecordBytesPerCaller: 16_777_216 },
  auth: { expiryGraceMs: 5_000, failedAttempts: { perSecond: 0.5, burst: 20 }, revocationTtlMs: 86_400_000 },
  admin: { path: '/admin', intervalMs: 1_000 },
} as const;
