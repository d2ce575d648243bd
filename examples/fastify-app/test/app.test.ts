import { describeChatOnOnePort } from '../../chat-server/test/helpers/onePort.js';
import { startFastifyApp } from '../src/app.js';

describeChatOnOnePort('Fastify 5', () => startFastifyApp({ port: 0, host: '127.0.0.1' }));
