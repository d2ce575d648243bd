// client.ts: imports only the router's type
import { createHeraldClient } from '@herald/client';
import type { AppRouter } from './server.js';

const client = createHeraldClient<AppRouter>({ url: 'ws://localhost:8787/ws', connectionParams: { name: 'ann' } });
client.connection.subscribe((state) => console.log(state.status)); // connecting | open | reconnecting | closed

const received = new Promise<void>((resolve) => {
  const subscription = client.trpc.onMessage.subscribe(
    { room: 'lobby' },
    {
      onData: ({ data: event }) => {
        if (event.type === 'gap') console.log('history could not cover the outage:', event.reason); // refetch a snapshot here
        if (event.type !== 'message') return;
        console.log(event.message.text, event.message.sentAt); // a real Date
        subscription.unsubscribe();
        resolve();
      },
    },
  );
});
// Calls on one connection take effect in the order they were sent: the subscription above sees this message.
await client.trpc.send.mutate({ room: 'lobby', text: 'hello' });
await received;
await client.close(); // with its socket closed, the process exits
