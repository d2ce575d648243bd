import { Component, type ErrorInfo, type ReactNode } from 'react';

interface State {
  readonly error: Error | null;
}

/**
 * What the page shows when rendering throws, instead of a blank page: what
 * happened in plain words and a way back (the lobby, reloaded). Messages
 * not yet sent stay in the outbox and go out after the reload.
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('[chat] the page failed to render', error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main className="login">
        <div className="login__card" role="alert">
          <h1 className="login__title">Something went wrong on this page</h1>
          <p className="login__lead">
            The chat could not show this page ({error.message}). Messages you wrote and have not seen sent are kept, and go out when the chat is back.
          </p>
          <a
            className="button button--primary"
            href="#/lobby"
            onClick={(event) => {
              event.preventDefault();
              history.replaceState(null, '', `${location.pathname}#/lobby`);
              location.reload();
            }}
          >
            Back to the lobby
          </a>
        </div>
      </main>
    );
  }
}
