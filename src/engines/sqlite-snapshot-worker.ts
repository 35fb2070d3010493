/**
 * Runs `VACUUM INTO` off the main thread: the snapshot is one read transaction, so it is consistent and
 * finishes even while another process writes without pause (the online backup API would restart on every
 * foreign write). Row counts are then read from the snapshot itself, so they match it exactly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { countSqliteRows } from './sqlite-counts.js';

const { source, destination, busyTimeoutMs } = workerData as { source: string; destination: string; busyTimeoutMs: number };

try {
  const db = new Database(source, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    db.prepare('VACUUM INTO ?').run(destination);
  } finally {
    db.close();
  }
  const snapshot = new Database(destination, { readonly: true, fileMustExist: true });
  try {
    parentPort!.postMessage({ ok: true, tables: countSqliteRows(snapshot) });
  } finally {
    snapshot.close();
  }
} catch (error) {
  const err = error as { message?: string; code?: string };
  parentPort!.postMessage({ ok: false, message: err.message ?? String(error), code: err.code });
}
