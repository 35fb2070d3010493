/** Exit codes shared by the CLI and documented in the README. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Every error dbguard raises on purpose: what happened, what to do next, and the exit code.
 * The CLI renders these without a stack trace.
 */
export class DbguardError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbguardError';
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.hint = options.hint;
  }
}

/** Bad input or configuration (exit 2). */
export class UsageError extends DbguardError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
    this.name = 'UsageError';
  }
}

/** Refused by a safety check (exit 3). */
export class RefusedError extends DbguardError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.refused, hint });
    this.name = 'RefusedError';
  }
}

/** An error as plain data, to cross from a worker thread: its message, hint and exit code survive. */
export interface ErrorData {
  message: string;
  exitCode?: ExitCode | undefined;
  hint?: string | undefined;
  code?: string | undefined;
}

export function errorData(error: unknown): ErrorData {
  const { message, code } = error as { message?: string; code?: unknown };
  const text = message ?? String(error);
  if (error instanceof DbguardError) return { message: text, exitCode: error.exitCode, hint: error.hint };
  return { message: text, code: typeof code === 'string' ? code : undefined };
}

export function errorFromData(data: ErrorData): Error {
  if (data.exitCode === ExitCode.usage) return new UsageError(data.message, data.hint);
  if (data.exitCode === ExitCode.refused) return new RefusedError(data.message, data.hint);
  if (data.exitCode !== undefined) return new DbguardError(data.message, { exitCode: data.exitCode, hint: data.hint });
  return Object.assign(new Error(data.message), data.code === undefined ? {} : { code: data.code });
}
