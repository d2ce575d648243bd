import { startEchoBot } from './bot.js';

const url = (process.env['HERALD_URL'] ?? 'ws://127.0.0.1:8787/ws').split(',');
const room = process.env['ROOM'] ?? 'lobby';

const bot = await startEchoBot({ url, room, onReply: (text) => console.log(`[echo-bot] replied: ${text}`) });
console.log(`[echo-bot] answering /echo and /time in room "${room}" at ${url.join(', ')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    bot.close().finally(() => process.exit(0));
  });
}
