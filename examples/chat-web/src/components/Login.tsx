import { useId, useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useConnectionState, useTRPC } from '../herald.js';
import { joinFailureText } from '../lib/errors.js';
import type { Session } from '../lib/types.js';

export function Login({ notice, onLogin }: { notice: string | null; onLogin: (session: Session) => void }) {
  const trpc = useTRPC();
  const login = useMutation(trpc.auth.login.mutationOptions({ onSuccess: (session) => onLogin(session) }));
  const [name, setName] = useState('');
  const nameId = useId();
  const errorId = useId();
  const waitId = useId();
  const connected = useConnectionState().status === 'open';
  // Join pressed with no server: said at once, while the call waits for the connection.
  const waiting = login.isPending && !connected;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) login.mutate({ name: name.trim() });
  };

  return (
    <main className="login">
      <div className="login__card">
        <div className="brand brand--large">
          <span className="brand__mark" aria-hidden="true">H</span>
          <span>Herald Chat</span>
        </div>
        <h1 className="login__title">Join the conversation</h1>
        <p className="login__lead">Pick a name to chat in real time. No account needed.</p>
        {notice && (
          <p className="alert" role="alert">
            {notice}
          </p>
        )}
        <form onSubmit={submit} className="login__form">
          <label htmlFor={nameId}>Name</label>
          <input
            id={nameId}
            name="name"
            autoComplete="nickname"
            autoFocus
            maxLength={32}
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-invalid={login.isError || undefined}
            aria-describedby={login.isError ? errorId : waiting ? waitId : undefined}
          />
          {login.isError && (
            <p className="field-error" id={errorId} role="alert">
              {joinFailureText(login.error)}
            </p>
          )}
          {waiting && (
            <p className="field-note" id={waitId} role="status">
              The chat server is not answering right now. You will join as soon as it is back.
            </p>
          )}
          <button type="submit" className="button button--primary" disabled={login.isPending || !name.trim()}>
            {login.isPending ? 'Joining…' : 'Join'}
          </button>
        </form>
      </div>
    </main>
  );
}
