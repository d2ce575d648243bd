import { z } from 'zod';

/** The echo call's input (`ECHO_INPUT`'s shape), validated as an app would; Herald's and stock tRPC's bench routers share it. */
export const echoInput = z.object({ id: z.number().int(), user: z.string(), text: z.string(), tags: z.array(z.string()), ok: z.boolean() });
