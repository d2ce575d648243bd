import { useState } from 'react';
import { Dashboard } from './components/Dashboard.js';
import { SignIn } from './components/SignIn.js';

const TOKEN_KEY = 'herald-admin:token';

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The admin token form until a token is given, then the dashboard; a refused token returns to the form. */
export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const [refusal, setRefusal] = useState<string | null>(null);

  const signIn = (next: string) => {
    sessionStorage.setItem(TOKEN_KEY, next);
    setRefusal(null);
    setToken(next);
  };
  const signOut = (reason: string | null) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setRefusal(reason);
    setToken(null);
  };

  return (
    <div className="app">
      <header className="app__header">
        <h1>Herald admin</h1>
        {token ? (
          <button type="button" className="button button--quiet" onClick={() => signOut(null)}>
            Sign out
          </button>
        ) : null}
      </header>
      {token ? <Dashboard key={token} token={token} onRefused={(message) => signOut(message)} /> : <SignIn onSubmit={signIn} error={refusal} />}
    </div>
  );
}
