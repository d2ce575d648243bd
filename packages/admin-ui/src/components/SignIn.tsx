import { useId, useState, type FormEvent } from 'react';

/** The "Admin token" form. The token goes to the server as the admin socket's connection params, and stays in this tab (sessionStorage). */
export function SignIn({ onSubmit, error }: { onSubmit: (token: string) => void; error: string | null }) {
  const [token, setToken] = useState('');
  const inputId = useId();
  const errorId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = token.trim();
    if (trimmed) onSubmit(trimmed);
  };
  return (
    <main className="sign-in">
      <form onSubmit={submit} className="card sign-in__form" aria-labelledby={`${inputId}-title`}>
        <h2 id={`${inputId}-title`}>Sign in</h2>
        <p>The server's admin token (the demo reads it from ADMIN_TOKEN).</p>
        <label htmlFor={inputId}>Admin token</label>
        <input
          id={inputId}
          type="password"
          // The page's one field: the caret starts there.
          autoFocus
          autoComplete="current-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          required
        />
        {error ? (
          <p id={errorId} role="alert" className="sign-in__error">
            {error}
          </p>
        ) : null}
        <button type="submit" className="button">
          Open
        </button>
      </form>
    </main>
  );
}
