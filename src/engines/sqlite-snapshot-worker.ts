/**
 * Takes the snapshot off the main thread: SQLite's backup API copies every page in one step, one read transaction,
 * so the copy is consistent and finishes even while another process writes without pause. The copy is then made a
 * single self-contained file (journal_mode DELETE, not the source's WAL), and its row counts are read from it, so
 * they match it exactly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { copyDatabaseInOneStep } from './sqlite-copy.js';
import { countSqliteRows } from './sqlite-counts.js';

const { source, destination, busyTimeoutMs } = workerData as { source: string; destination: string; busyTimeoutMs: number };

try {
  const db = new Database(source, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    await copyDatabaseInOneStep(db, destination, busyTimeoutMs);
  } finally {
    db.close();
  }
  const snapshot = new Database(destination, { fileMustExist: true });
  try {
    snapshot.pragma('journal_mode = DELETE');
    parentPort!.postMessage({ ok: true, tables: countSqliteRows(snapshot) });
  } finally {
    snapshot.close();
  }
} catch (error) {
  const err = error as { message?: string; code?: string };
  parentPort!.postMessage({ ok: false, message: err.message ?? String(error), code: err.code });
}
