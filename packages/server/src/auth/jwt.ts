import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { HeraldError } from '../errors.js';
import { withExpiry } from './identity.js';
import type { Authenticate } from '../options.js';
import { headerOf, type HeraldRequest } from '../transport/requestHead.js';

/** Where the verification keys come from: a shared secret (HS256) or a JSON Web Key Set. */
export type JwtKeySource =
  | {
      /** The HMAC secret every token is signed with (HS256); at least 32 bytes. */
      secret: string | Uint8Array;
      jwks?: never;
    }
  | {
      /**
       * A JWKS URL (fetched and cached with jose's `createRemoteJWKSet`, so
       * rotated keys are picked up), or a key set in hand (`createLocalJWKSet`).
       */
      jwks: string | URL | JSONWebKeySet;
      secret?: never;
    };

/** What `jwtAuthenticator` checks in a token besides its signature, and how it turns the claims into the app's user. */
export interface JwtAuthenticatorOptions<TUser> {
  /** Required `iss` claim (one of these). @default any issuer */
  issuer?: string | string[];
  /** Required `aud` claim (one of these). @default any audience */
  audience?: string | string[];
  /**
   * Accepted signature algorithms. Never mix HMAC with public-key ones.
   * @default ['HS256'] with `secret`; the RSA, RSA-PSS, ECDSA and EdDSA family with `jwks`
   */
  algorithms?: string[];
  /** Leeway for `exp` and `nbf`, in seconds. @default 5 */
  clockToleranceSec?: number;
  /**
   * The `connectionParams` field that carries the token. Without it, an
   * `Authorization: Bearer <token>` header of the upgrade request is used.
   * @default 'token'
   */
  param?: string;
  /**
   * Refuse connections that bring no token (UNAUTHORIZED, close 4001).
   * Off, they are let in with no user, so public procedures (a login) work.
   * @default false
   */
  required?: boolean;
  /**
   * The user a verified token stands for. Throw to refuse the token.
   * @default the token's payload (`sub`, claims)
   */
  toUser?: (payload: JWTPayload) => TUser | Promise<TUser>;
  /** For a `jwks` URL: how long a key-set fetch may take, in ms. @default 5_000 */
  jwksTimeoutMs?: number;
}

/**
 * What `jwtAuthenticator` returns: an `Authenticate` of its user type, marked
 * `scheme: 'jwt'`. The mark is for the compiler: while TypeScript infers a
 * call's type arguments, it skips any argument that calls a generic function
 * whose return type is a function (`isGenericFunctionReturningFunction` in its
 * checker), so `createHeraldServer({ authenticate: jwtAuthenticator(...),
 * createContext: ({ user }) => ... })` would infer no user and refuse the
 * authenticator. An intersection is not a function type: the user is inferred
 * from it, with `authenticate` before or after `createContext`.
 */
export type JwtAuthenticate<TUser> = Authenticate<TUser> & { readonly scheme: 'jwt' };

const HMAC_ALGORITHMS = ['HS256'];
const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const MIN_SECRET_BYTES = 32;

/**
 * An `authenticate` for `createHeraldServer` that verifies a JWT: HS256 with
 * a shared secret, or any public-key algorithm against a JWKS (a URL, fetched
 * and cached, or a key set in hand). The token comes from
 * `connectionParams.token` (see `param`) or an `Authorization: Bearer` header.
 *
 * No token: the connection is anonymous (`user: null`), unless `required`.
 * A token that fails (bad signature, expired, wrong issuer or audience, or
 * refused by `toUser`): the connection is refused with `UNAUTHORIZED` and
 * close code 4001, and the error says which of those it was. A token with
 * `exp` is trusted until then (see `withExpiry`): Herald's client refreshes
 * it in-band before, other clients are closed with 4005 and reconnect.
 *
 * ```ts
 * import { jwtAuthenticator } from '@herald/server/jwt';
 *
 * createHeraldServer({ router, authenticate: jwtAuthenticator({ jwks: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/', audience: 'chat' }), createContext: ({ user }) => ({ user }) });
 * ```
 */
export function jwtAuthenticator<TUser = JWTPayload>(options: JwtKeySource & JwtAuthenticatorOptions<TUser>): JwtAuthenticate<TUser> {
  const key = verificationKey(options);
  const param = options.param ?? 'token';
  const verifyOptions = {
    algorithms: options.algorithms ?? (options.secret !== undefined ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS),
    clockTolerance: options.clockToleranceSec ?? 5,
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
  };
  const toUser = options.toUser ?? ((payload: JWTPayload) => payload as TUser);

  const authenticate: Authenticate<TUser> = async (connectionParams, req) => {
    const token = connectionParams?.[param] ?? bearerToken(req);
    if (!token) {
      if (options.required) throw new HeraldError('UNAUTHORIZED', `No token: pass one as connectionParams.${param}`);
      return null;
    }
    let payload: JWTPayload;
    try {
      // Two calls because jwtVerify's overloads take a key or a key getter, not the union.
      const verified = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
      payload = verified.payload;
    } catch (cause) {
      throw new HeraldError('UNAUTHORIZED', `Token refused: ${refusalReason(cause)}`, { cause });
    }
    let user: TUser;
    try {
      user = await toUser(payload);
    } catch (cause) {
      throw new HeraldError('UNAUTHORIZED', 'Token refused: it names no valid user', { cause });
    }
    // The token's `exp` is how long the connection is trusted (see `withExpiry`).
    // Its `iat`, when it has one, says which tokens a revocation (`server.disconnectUser`) covers.
    const issuedAt = typeof payload.iat === 'number' ? { issuedAt: payload.iat * 1000 } : {};
    return typeof payload.exp === 'number' && user !== null ? withExpiry(user, payload.exp * 1000, issuedAt) : user;
  };
  return Object.assign(authenticate, { scheme: 'jwt' as const });
}

function verificationKey(source: JwtKeySource & { jwksTimeoutMs?: number }): Uint8Array | JWTVerifyGetKey {
  if (source.secret !== undefined) {
    const secret = typeof source.secret === 'string' ? new TextEncoder().encode(source.secret) : source.secret;
    if (secret.byteLength < MIN_SECRET_BYTES) throw new TypeError(`jwtAuthenticator: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
    return secret;
  }
  if (source.jwks === undefined) throw new TypeError('jwtAuthenticator: pass { secret } or { jwks }');
  if (typeof source.jwks === 'string' || source.jwks instanceof URL) {
    return createRemoteJWKSet(new URL(source.jwks), { timeoutDuration: source.jwksTimeoutMs ?? 5_000 });
  }
  return createLocalJWKSet(source.jwks);
}

function bearerToken(req: HeraldRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headerOf(req, 'authorization') ?? '');
  return match?.[1] ?? null;
}

/** What the client is told about a token that failed, without echoing it. */
function refusalReason(cause: unknown): string {
  if (cause instanceof joseErrors.JWTExpired) return 'token expired';
  if (cause instanceof joseErrors.JWTClaimValidationFailed) return `claim "${cause.claim}" invalid (${cause.reason})`;
  if (cause instanceof joseErrors.JOSEAlgNotAllowed) return 'signature algorithm not allowed';
  if (cause instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the key set matches the token';
  if (cause instanceof joseErrors.JWKSTimeout || cause instanceof joseErrors.JWKSInvalid) return 'the key set could not be fetched';
  return 'token signature or format invalid';
}
