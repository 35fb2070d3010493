/**
 * Takes the snapshot off the main thread: SQLite's backup API copies every page in one step, one read transaction,
 * so the copy is consistent and finishes even while another process writes without pause. The copy is then made a
 * single self-contained file (journal_mode DELETE, not the source's WAL), and its row counts are read from it, so
 * they match it exactly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DbguardError } from '../errors.js';
import { copyDatabaseInOneStep } from './sqlite-copy.js';
import { countSqliteRows } from './sqlite-counts.js';
import { openSqlite } from './sqlite-driver.js';

const { source, destination, busyTimeoutMs } = workerData as { source: string; destination: string; busyTimeoutMs: number };

try {
  const db = openSqlite(source, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    await copyDatabaseInOneStep(db, destination, busyTimeoutMs);
  } finally {
    db.close();
  }
  const snapshot = openSqlite(destination, { fileMustExist: true });
  try {
    snapshot.pragma('journal_mode = DELETE');
    parentPort!.postMessage({ ok: true, tables: countSqliteRows(snapshot) });
  } finally {
    snapshot.close();
  }
} catch (error) {
  const err = error as { message?: string; code?: string };
  // A DbguardError (the SQLite driver is not built) travels with its hint.
  const hint = error instanceof DbguardError ? error.hint : undefined;
  parentPort!.postMessage({ ok: false, message: err.message ?? String(error), code: err.code, hint });
}
