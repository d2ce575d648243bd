// Runs the bench's TypeScript (and Herald's, through the `herald-source`
// export condition) without tsx: `node --conditions=herald-source --import
// ./bench/loader/register.mjs <entry.ts>`. See hooks.mjs for why.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
