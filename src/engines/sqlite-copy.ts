import type Database from 'better-sqlite3';

/**
 * Copies `source` into the file `destination` with SQLite's backup API, every page in one step: one read
 * transaction on the source and one write transaction on the destination. Done in one step, the copy is consistent
 * and never restarts when another connection writes to the source (a copy in many steps restarts after every
 * foreign write, which is why `sqlite3 .backup` may never finish under a busy writer).
 *
 * better-sqlite3 reports a lock held by another connection at the first step as a finished copy of zero pages:
 * that becomes a wait bounded by `timeoutMs`, then an error.
 */
export async function copyDatabaseInOneStep(source: Database.Database, destination: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const stillLocked = () => new Error(`the database stayed locked for ${timeoutMs / 1000} s`);
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    let steps = 0;
    const progress = await source.backup(destination, {
      progress: () => {
        if (++steps > 1 && Date.now() > deadline) throw stillLocked();
        return 0x7fffffff;
      },
    });
    if (progress.totalPages > 0 || isEmpty(source)) return;
    if (Date.now() > deadline) throw stillLocked();
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function isEmpty(db: Database.Database): boolean {
  try {
    return Number(db.pragma('page_count', { simple: true })) === 0;
  } catch {
    return false; // locked: not known to be empty, so wait
  }
}
