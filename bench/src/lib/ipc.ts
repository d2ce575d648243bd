import type { ChildProcess } from 'node:child_process';

/**
 * Typed request/response over Node's process IPC channel, plus one-way
 * notes (parent to child) and events (child to parent). A command map
 * `C` names each command's argument and result types.
 */
export type CommandMap = Record<string, { args: unknown; result: unknown }>;

export type Handlers<C extends CommandMap> = {
  [K in keyof C]: (args: C[K]['args']) => C[K]['result'] | Promise<C[K]['result']>;
};

type Wire =
  | { k: 'req'; id: number; cmd: string; args: unknown }
  | { k: 'res'; id: number; ok: true; value: unknown }
  | { k: 'res'; id: number; ok: false; error: string }
  | { k: 'note'; type: string; data: unknown }
  | { k: 'evt'; type: string; data: unknown };

/** The parent's side: requests to one child, its events. */
export class IpcClient<C extends CommandMap> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Map<string, Set<(data: unknown) => void>>();

  constructor(
    private readonly child: ChildProcess,
    private readonly label: string,
  ) {
    child.on('message', (raw: Wire) => this.onMessage(raw));
    child.on('exit', (code, signal) => {
      for (const [id, entry] of this.pending) {
        clearTimeout(entry.timer);
        entry.reject(new Error(`${label} exited (${signal ?? code}) during request ${id}`));
      }
      this.pending.clear();
    });
  }

  request<K extends keyof C & string>(cmd: K, args: C[K]['args'], timeoutMs = 120_000): Promise<C[K]['result']> {
    const id = this.nextId++;
    return new Promise<C[K]['result']>((resolve, reject) => {
      if (!this.child.connected) {
        reject(new Error(`${this.label} is not connected (request ${cmd})`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.child.send({ k: 'req', id, cmd, args } satisfies Wire);
    });
  }

  /** A one-way message; dropped if the child is gone. */
  note(type: string, data: unknown): void {
    if (this.child.connected) this.child.send({ k: 'note', type, data } satisfies Wire);
  }

  on(type: string, listener: (data: unknown) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  private onMessage(message: Wire): void {
    if (message.k === 'res') {
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      if (message.ok) entry.resolve(message.value);
      else entry.reject(new Error(`${this.label}: ${message.error}`));
    } else if (message.k === 'evt') {
      for (const listener of this.listeners.get(message.type) ?? []) listener(message.data);
    }
  }
}

/**
 * The child's side: answers requests with `handlers`, passes notes to
 * `onNote`, and exits when the parent goes away, so no bench process outlives
 * the run.
 */
export function serveIpc<C extends CommandMap>(handlers: Handlers<C>, onNote: (type: string, data: unknown) => void = () => {}): void {
  if (!process.send) throw new Error('This bench process must be started with an IPC channel');
  process.on('message', (message: Wire) => {
    if (message.k === 'note') {
      onNote(message.type, message.data);
      return;
    }
    if (message.k !== 'req') return;
    const handler = handlers[message.cmd as keyof C];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args as C[keyof C]['args']);
      })
      .then(
        (value) => sendToParent({ k: 'res', id: message.id, ok: true, value: value ?? null }),
        (error: unknown) =>
          sendToParent({ k: 'res', id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** An event to the parent. */
export function emitEvent(type: string, data: unknown): void {
  sendToParent({ k: 'evt', type, data });
}

function sendToParent(message: Wire): void {
  if (process.connected) process.send?.(message);
}
