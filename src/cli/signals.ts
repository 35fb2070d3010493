/**
 * Runs `operation` with an AbortSignal fired by SIGINT or SIGTERM, so it can remove what it wrote before
 * the process exits (128 + signal number, as shells expect).
 */
export async function withCancellation<T>(operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
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
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (received) {
      process.stderr.write(`\nInterrupted by ${received}; partial files removed.\n`);
      process.exit(received === 'SIGINT' ? 130 : 143);
    }
  }
}
