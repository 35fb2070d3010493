import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RefusedError } from '../errors.js';
import { ensurePrivateDir, isProcessAlive } from './fs-atomic.js';

const heldHere = new Set<string>();

/**
 * Runs `fn` holding an exclusive lock on a database (per backups folder): two restores or migrations of the same
 * database never interleave. Re-entrant within a process (a failed migration's rollback is a restore). A lock left
 * by a dead process is taken over.
 */
export async function withDatabaseLock<T>(root: string, databaseKey: string, what: string, fn: () => Promise<T>): Promise<T> {
  if (heldHere.has(databaseKey)) return fn();
  const dir = path.join(root, '.dbguard', 'locks');
  await ensurePrivateDir(dir);
  const file = path.join(dir, `${createHash('sha256').update(databaseKey).digest('hex').slice(0, 16)}.lock`);
  await acquire(file, databaseKey, what);
  heldHere.add(databaseKey);
  try {
    return await fn();
  } finally {
    heldHere.delete(databaseKey);
    await fs.rm(file, { force: true });
  }
}

async function acquire(file: string, databaseKey: string, what: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }), { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readHolder(file);
      if (holder && isProcessAlive(holder.pid)) {
        throw new RefusedError(
          `Another dbguard ${holder.what} (pid ${holder.pid}, since ${holder.since}) is working on ${databaseKey}.`,
          'Wait for it to finish, then retry.',
        );
      }
      await fs.rm(file, { force: true }); // its process is gone
    }
  }
  throw new RefusedError(`Could not lock ${databaseKey}: another dbguard process keeps taking it.`);
}

async function readHolder(file: string): Promise<{ pid: number; what: string; since: string } | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
