/** What the UI needs from a failed call: the tRPC code (when the server sent one) and a message to show. */
export function describeError(error: unknown): { code: string | null; message: string } {
  const data = typeof error === 'object' && error !== null ? (error as { data?: unknown }).data : undefined;
  const code = typeof data === 'object' && data !== null && typeof (data as { code?: unknown }).code === 'string' ? (data as { code: string }).code : null;
  const message = error instanceof Error ? error.message : String(error);
  return { code, message };
}

/** An error that never reached the server's handler (the socket dropped or was closed): it has no server code. */
export function isConnectionError(error: unknown): boolean {
  return describeError(error).code === null;
}
