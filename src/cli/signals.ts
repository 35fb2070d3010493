/**
 * Runs `operation` with an AbortSignal fired by SIGINT or SIGTERM, so it can undo what it started. When the
 * operation then fails, the process exits with 128 + the signal number (as shells expect) after saying what was
 * undone. An operation that completed anyway (the signal came during a step that cannot be interrupted) returns
 * its result, unless `completedAnyway` is given: then the process says what it completed and exits the same way,
 * so an interrupt never ends in silence with 0.
 */
export async function withCancellation<T>(
  operation: (signal: AbortSignal) => Promise<T>,
  undone = 'partial files removed',
  completedAnyway?: (result: T) => string,
): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal;
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await operation(controller.signal);
    if (received && completedAnyway) {
      process.stderr.write(`\nInterrupted by ${received} too late to stop it: ${completedAnyway(result)}.\n`);
      process.exit(interruptedExitCode(received));
    }
    return result;
  } catch (error) {
    if (received) {
      process.stderr.write(`\nInterrupted by ${received}; ${undone}.\n`);
      process.exit(interruptedExitCode(received));
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function interruptedExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}
