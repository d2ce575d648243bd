export { startEchoBot, replyTo, type EchoBot, type EchoBotOptions } from './bot.js';
