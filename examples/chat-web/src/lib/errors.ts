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

/**
 * The outbox could not record the mutation (storage full or unavailable), so
 * it was neither kept nor sent: the only send failure the outbox does not
 * keep as a failed entry. Told by the client's message (docs/outbox.md).
 */
export function isRecordFailure(error: unknown): boolean {
  return describeError(error).code === null && /^The outbox could not (record|start)/.test(describeError(error).message);
}

/** The failure in plain words, with the browser's reason (a `QuotaExceededError`...). */
export function recordFailureText(error: unknown): string {
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  // TRPCClientError.from wraps the outbox's Error, whose cause is the storage's.
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : describeError(error).message;
  return `Not sent: this browser could not store the message (${reason}). Free some space, then Retry.`;
}

/** A failed Join in plain words: no server code means the server was never reached. */
export function joinFailureText(error: unknown): string {
  const { code, message } = describeError(error);
  if (code === null) return 'Could not reach the chat server. Check your connection, then press Join again.';
  // A refused name: the server's own words for it (data.zodIssues, from heraldErrorFormatter), not zod's JSON.
  const data = (error as { data?: { zodIssues?: readonly { message: string }[] | null } }).data;
  const issue = data?.zodIssues?.[0]?.message;
  return `Could not join: ${issue ?? message}`;
}

/**
 * Why an image was refused, in the server's own words: the first of its
 * input issues (`data.zodIssues`, from heraldErrorFormatter, or the issues
 * tRPC puts in the message as JSON), else the message as it is.
 */
export function imageRefusalText(error: unknown): string {
  const data = typeof error === 'object' && error !== null ? (error as { data?: { zodIssues?: readonly { message: string }[] | null } }).data : undefined;
  const issue = data?.zodIssues?.[0]?.message;
  if (issue) return issue;
  const message = typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string' ? (error as { message: string }).message : String(error);
  try {
    const issues = JSON.parse(message) as unknown;
    if (Array.isArray(issues) && typeof (issues[0] as { message?: unknown } | undefined)?.message === 'string') return (issues[0] as { message: string }).message;
  } catch {
    // Not JSON: the message is meant to be read as it is.
  }
  return message;
}
