import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RefusedError } from '../errors.js';
import { ensurePrivateDir, isProcessAlive } from './fs-atomic.js';

/** The locks held by the current async context: re-entrant for the code it calls, never for concurrent callers. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Runs `fn` holding an exclusive lock on a database (per backups folder): two restores or migrations of the same
 * database never interleave. Re-entrant within the call it protects (a failed migration's rollback is a restore).
 * A lock left by a dead process is taken over. A lock held by a live one refuses at once, or after `waitMs`.
 */
export async function withDatabaseLock<T>(
  root: string,
  databaseKey: string,
  what: string,
  fn: () => Promise<T>,
  options: { waitMs?: number | undefined; onWait?: ((holder: string) => void) | undefined; display?: string | undefined } = {},
): Promise<T> {
  const mine = held.getStore() ?? new Set<string>();
  if (mine.has(databaseKey)) return fn();
  const dir = path.join(root, '.dbguard', 'locks');
  await ensurePrivateDir(dir);
  const file = path.join(dir, `${createHash('sha256').update(databaseKey).digest('hex').slice(0, 16)}.lock`);
  await acquire(file, options.display ?? databaseKey, what, options.waitMs ?? 0, options.onWait);
  try {
    return await held.run(new Set([...mine, databaseKey]), fn);
  } finally {
    await fs.rm(file, { force: true });
  }
}

const RETRY_MS = 100;

async function acquire(file: string, database: string, what: string, waitMs: number, onWait?: (holder: string) => void): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let takenOver = 0, waited = false; ; ) {
    try {
      // Written aside and linked into place: a holder never sees a lock file without its content.
      const ready = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      await fs.writeFile(ready, JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }), { mode: 0o600 });
      try {
        await fs.link(ready, file);
      } finally {
        await fs.rm(ready, { force: true });
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readHolder(file);
      if (holder && isProcessAlive(holder.pid)) {
        const who = `dbguard ${holder.what} (pid ${holder.pid}, since ${holder.since})`;
        if (Date.now() < deadline) {
          if (!waited) onWait?.(who);
          waited = true;
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
          continue;
        }
        throw new RefusedError(
          `Another ${who} is working on ${database}${waited ? ` (waited ${Math.round(waitMs / 1000)} s)` : ''}.`,
          'Wait for it to finish, then retry.',
        );
      }
      if (++takenOver > 2) throw new RefusedError(`Could not lock ${database}: another dbguard process keeps taking it.`);
      await fs.rm(file, { force: true }); // its process is gone
    }
  }
}

async function readHolder(file: string): Promise<{ pid: number; what: string; since: string } | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
