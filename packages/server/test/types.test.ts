import { describe, expectTypeOf, it } from 'vitest';
import { initTRPC } from '@trpc/server';
import type { JWTPayload } from 'jose';
import {
  attachHerald,
  createHeraldHandler,
  createHeraldServer,
  transformer,
  type HeraldHandlerOptions,
  type HeraldRequest,
  type HeraldServerOptions,
  type MetricsRegistry,
} from '@herald/server';
import { jwtAuthenticator } from '@herald/server/jwt';
import type { Registry } from 'prom-client';

/**
 * The server's option types as the docs use them: compiled by `pnpm
 * typecheck` (`tsc`), the functions never called. `createContext`'s user is
 * inferred from `authenticate`, in either order of the two.
 */

interface Member {
  readonly id: string;
  readonly role: 'member' | 'admin';
}

const t = initTRPC.context<{ user: unknown }>().create({ transformer });
const router = t.router({ ping: t.procedure.query(() => 'pong') });

describe('HeraldServerOptions<TRouter, TUser>', () => {
  it("infers createContext's user from jwtAuthenticator, authenticate first (docs/production.md's order)", () => {
    const options = {
      router,
      authenticate: jwtAuthenticator({ jwks: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/', audience: 'chat' }),
      createContext: ({ user }: { user: JWTPayload | null }) => ({ user }),
    };
    expectTypeOf(options).toExtend<HeraldServerOptions<typeof router, JWTPayload>>();
    const _start = () =>
      createHeraldServer({
        router,
        authenticate: jwtAuthenticator({ jwks: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/', audience: 'chat' }),
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<JWTPayload | null>();
          return { user };
        },
      });
  });

  it("infers createContext's user from toUser, authenticate first or last", () => {
    const toUser = (payload: JWTPayload): Member => ({ id: payload.sub ?? '', role: 'member' });
    const _first = () =>
      createHeraldServer({
        router,
        authenticate: jwtAuthenticator({ secret: new Uint8Array(32), toUser }),
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<Member | null>();
          return { user };
        },
      });
    const _last = () =>
      createHeraldServer({
        router,
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<Member | null>();
          return { user };
        },
        authenticate: jwtAuthenticator({ secret: new Uint8Array(32), toUser }),
      });
  });

  it('infers the user of a hand-written authenticate, and of the handler and attach forms', () => {
    const authenticate = (params: Readonly<Record<string, string>> | null, _req: HeraldRequest): Member | null =>
      params?.['token'] ? { id: params['token'], role: 'admin' } : null;
    const _handler = () =>
      createHeraldHandler({
        router,
        authenticate,
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<Member | null>();
          return { user };
        },
        userKey: (user) => {
          expectTypeOf(user).toEqualTypeOf<Member>();
          return user.id;
        },
      });
    const _attach = (server: Parameters<typeof attachHerald>[0]) =>
      attachHerald(server, {
        router,
        authenticate: async (params) => (params ? { id: 'x', role: 'member' as const } : null),
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<{ id: string; role: 'member' } | null>();
          return { user };
        },
      });
    // Without authenticate every connection is anonymous: the user is null.
    const _anonymous = () =>
      createHeraldServer({
        router,
        createContext: ({ user }) => {
          expectTypeOf(user).toEqualTypeOf<null>();
          return { user };
        },
      });
    expectTypeOf<HeraldHandlerOptions<typeof router, Member>['userKey']>().toEqualTypeOf<((user: Member) => string | null) | undefined>();
  });

  it("takes prom-client's Registry as its metrics registry, and names none of prom-client's types", () => {
    expectTypeOf<Registry>().toExtend<MetricsRegistry>();
    expectTypeOf<NonNullable<HeraldServerOptions<typeof router>['metrics']>>().toExtend<false | { registry?: MetricsRegistry }>();
  });
});
