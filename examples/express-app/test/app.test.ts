import { describeChatOnOnePort } from '../../chat-server/test/helpers/onePort.js';
import { startExpressApp } from '../src/app.js';

describeChatOnOnePort('Express 5', () => startExpressApp({ port: 0, host: '127.0.0.1' }));
