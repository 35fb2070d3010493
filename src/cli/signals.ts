/**
 * Runs `operation` with an AbortSignal fired by SIGINT or SIGTERM, so it can undo what it started. When the
 * operation then fails, the process exits with 128 + the signal number (as shells expect) after saying what was
 * undone; an operation that completed anyway returns its result.
 */
export async function withCancellation<T>(operation: (signal: AbortSignal) => Promise<T>, undone = 'partial files removed'): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal;
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await operation(controller.signal);
  } catch (error) {
    if (received) {
      process.stderr.write(`\nInterrupted by ${received}; ${undone}.\n`);
      process.exit(received === 'SIGINT' ? 130 : 143);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
