import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from './cli.js';

export interface ServeEvent {
  time: string;
  level: string;
  event: string;
  database?: string;
  [key: string]: unknown;
}

/** `dbguard serve` as a real child process (JSON logs, since stdout is a pipe), on a free port. */
export function startServe(cwd: string, env: Record<string, string | undefined> = {}, args: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: undefined, NO_COLOR: '1', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: ServeEvent[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as ServeEvent);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));

  /** Waits (polling, with a deadline) until `count` events match. */
  async function waitFor(predicate: (e: ServeEvent) => boolean, what: string, { count = 1, timeoutMs = 60_000 } = {}): Promise<ServeEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.filter(predicate);
      if (found.length >= count) return found;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`serve: no ${count} x ${what} (exit ${child.exitCode ?? child.signalCode}).\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const event = (name: string, database?: string) => (e: ServeEvent) => e.event === name && (database === undefined || e.database === database);

  return {
    child,
    events,
    exited,
    output: () => ({ stdout, stderr }),
    waitFor,
    event,
    /** The URL serve listens on, once it has started. */
    url: async () => (await waitFor(event('serve.start'), 'serve.start'))[0]!.url as string,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after the deadline. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
