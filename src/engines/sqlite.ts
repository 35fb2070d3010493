import { promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { DbguardError } from '../errors.js';
import { copyDatabaseInOneStep } from './sqlite-copy.js';
import { openSqlite } from './sqlite-driver.js';
import { countSqliteRows, quoteSqliteIdent } from './sqlite-counts.js';
import { describeSqliteSchema, readSqliteSnapshot } from './sqlite-schema.js';
import { withPlainFile } from './staged-file.js';
import type { RowStream, SchemaGraph } from './types.js';
import type { DatabaseEngine, Dump, DumpOptions, ImpactQuery, RestoreOptions, RestoreSource, StagingOptions, TableCounts } from './types.js';

/** How long to wait for another connection's lock; DBGUARD_SQLITE_BUSY_TIMEOUT_MS overrides it. */
function busyTimeoutMs(): number {
  const configured = Number(process.env.DBGUARD_SQLITE_BUSY_TIMEOUT_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : 30_000;
}

export class SqliteEngine implements DatabaseEngine {
  readonly kind = 'sqlite' as const;

  dumpFormat() {
    return { format: 'sqlite', extension: '.sqlite' } as const;
  }

  constructor(readonly file: string) {}

  identity() {
    return { name: path.basename(this.file), host: null, schema: null, file: canonicalPath(this.file) };
  }

  async probe(): Promise<{ serverVersion: string }> {
    await this.assertFileExists();
    const db = this.open({ readonly: true });
    try {
      db.prepare('SELECT count(*) FROM sqlite_schema').get(); // fails on a file that is not a database
      return { serverVersion: String(db.prepare('SELECT sqlite_version()').pluck().get()) };
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') throw describeSqliteError({ code: 'SQLITE_BUSY' }, this.file);
      throw new DbguardError(`${this.file} is not a readable SQLite database: ${(error as Error).message}`);
    } finally {
      db.close();
    }
  }

  async dump({ scratchPath, signal, onProgress }: DumpOptions): Promise<Dump> {
    await this.assertFileExists();
    const worker = new Worker(new URL('./sqlite-snapshot-worker.js', import.meta.url), {
      workerData: { source: this.file, destination: scratchPath, busyTimeoutMs: busyTimeoutMs() },
    });
    const poll = onProgress
      ? setInterval(() => {
          fs.stat(scratchPath).then((s) => onProgress(s.size, { phase: 'snapshot' }), () => {});
        }, 250)
      : undefined;
    try {
      const tables = await new Promise<TableCounts>((resolve, reject) => {
        const abort = () => reject(new DbguardError('Backup cancelled.'));
        signal?.addEventListener('abort', abort, { once: true });
        worker.once('message', (message: { ok: boolean; tables?: TableCounts; message?: string; code?: string; hint?: string }) => {
          signal?.removeEventListener('abort', abort);
          if (message.ok) resolve(message.tables!);
          else reject(describeSqliteError(message, this.file));
        });
        worker.once('error', reject);
      });
      return { kind: 'file', path: scratchPath, tables };
    } finally {
      if (poll) clearInterval(poll);
      // The copy runs in one native step that cannot be interrupted: wait for the worker to be gone, so that no
      // write into the snapshot (or its journal) can follow the caller's clean-up of a cancelled backup.
      await worker.terminate();
    }
  }

  /**
   * Writes the snapshot into the live file through SQLite's backup API: the destination is locked and
   * rewritten in one transaction, so a crash leaves it as it was, and SQLite manages its -wal/-shm.
   */
  async restore(source: RestoreSource, options: RestoreOptions): Promise<void> {
    if (options.tables && options.tables.length > 0) {
      throw new DbguardError('--table is supported for PostgreSQL only; a SQLite restore replaces the whole file.');
    }
    await withPlainFile(source, options, 'snapshot.sqlite', async (snapshotPath) => {
      // Past this point the copy runs to its end: a signal during it is only seen once it has completed. One
      // turn of the event loop first, so that a signal that has already arrived is handled and stops the restore.
      await setImmediate();
      options.signal?.throwIfAborted();
      const snapshot = openSqlite(snapshotPath, { readonly: true, fileMustExist: true });
      try {
        await copyDatabaseInOneStep(snapshot, this.file, busyTimeoutMs());
      } catch (error) {
        throw new DbguardError(`Restoring into ${this.file} failed, the file is unchanged: ${(error as Error).message}`, {
          hint: 'Another process may be holding a lock on the database: stop it (or your app) and retry.',
        });
      } finally {
        snapshot.close();
      }
    });
    const db = this.open({});
    try {
      if (db.pragma('journal_mode', { simple: true }) === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
  }

  async countRows(): Promise<TableCounts> {
    const db = this.open({ readonly: true });
    try {
      return countSqliteRows(db);
    } finally {
      db.close();
    }
  }

  async integrityProblems(): Promise<string[]> {
    const db = this.open({ readonly: true });
    try {
      return integrityProblems(db);
    } finally {
      db.close();
    }
  }

  async selectRows(sql: string): Promise<Array<Record<string, unknown>> | null> {
    const db = this.open({ readonly: true });
    try {
      return db.prepare(sql).all() as Array<Record<string, unknown>>;
    } catch (error) {
      if (/no such table/.test((error as Error).message)) return null;
      throw error;
    } finally {
      db.close();
    }
  }

  async execute(sql: string): Promise<void> {
    const db = this.open({});
    try {
      db.transaction(() => db.exec(sql))();
    } finally {
      db.close();
    }
  }

  async measure({ table, column, rows }: ImpactQuery): Promise<number | undefined> {
    const db = this.open({ readonly: true });
    try {
      const where = column && rows !== 'all' ? ` WHERE ${quoteSqliteIdent(column)} IS ${rows === 'null' ? '' : 'NOT '}NULL` : '';
      return Number(db.prepare(`SELECT count(*) FROM ${quoteSqliteIdent(table.name)}${where}`).pluck().get());
    } catch (error) {
      if (/no such (table|column)/.test((error as Error).message)) return undefined;
      throw error;
    } finally {
      db.close();
    }
  }

  async describeSchema(): Promise<SchemaGraph> {
    await this.assertFileExists();
    const db = this.open({ readonly: true });
    try {
      return describeSqliteSchema(db);
    } finally {
      db.close();
    }
  }

  async readSnapshot<T>(fn: (rows: RowStream) => Promise<T>): Promise<T> {
    await this.assertFileExists();
    const db = this.open({ readonly: true });
    try {
      return await readSqliteSnapshot(db, fn);
    } finally {
      db.close();
    }
  }

  async exists(): Promise<boolean> {
    return fs.access(this.file).then(
      () => true,
      () => false,
    );
  }

  async create(): Promise<boolean> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    // An empty file is an empty SQLite database; `wx` fails when the file appeared meanwhile.
    return fs.writeFile(this.file, '', { flag: 'wx' }).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      },
    );
  }

  async drop(): Promise<void> {
    await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => fs.rm(`${this.file}${suffix}`, { force: true })));
  }

  async createScratch(): Promise<{ engine: DatabaseEngine; drop(): Promise<void> }> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dbguard-scratch-'));
    return {
      engine: new SqliteEngine(path.join(dir, 'scratch.sqlite')),
      drop: () => fs.rm(dir, { recursive: true, force: true }),
    };
  }

  /**
   * Reading connections are read-write with `query_only`: a read-only connection cannot roll back the hot journal a
   * crashed writer leaves behind, and would fail on exactly the database that needs a backup most.
   */
  private open({ readonly }: { readonly?: boolean }): Database.Database {
    const db = openSqlite(this.file, { fileMustExist: true, timeout: busyTimeoutMs() });
    if (readonly) db.pragma('query_only = ON');
    return db;
  }

  private async assertFileExists(): Promise<void> {
    try {
      const stat = await fs.stat(this.file);
      if (!stat.isFile()) throw new DbguardError(`${this.file} is not a file.`);
    } catch (error) {
      if (error instanceof DbguardError) throw error;
      throw new DbguardError(`SQLite database ${this.file} does not exist.`, {
        hint: 'Check DATABASE_URL (Prisma resolves file: paths relative to prisma/schema.prisma).',
      });
    }
  }
}

function integrityProblems(db: Database.Database): string[] {
  const rows = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>;
  return rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
}

function describeSqliteError(message: { message?: string; code?: string; hint?: string }, file: string): DbguardError {
  if (message.hint !== undefined) return new DbguardError(message.message ?? '', { hint: message.hint });
  if (message.code === 'SQLITE_BUSY' || /stayed locked/.test(message.message ?? '')) {
    return new DbguardError(`${file} stayed locked for ${busyTimeoutMs() / 1000} s: another process holds an exclusive lock on it.`, {
      hint: 'Retry when that process is done (DBGUARD_SQLITE_BUSY_TIMEOUT_MS sets how long to wait, in ms).',
    });
  }
  if (message.code === 'SQLITE_FULL' || /disk is full|ENOSPC/i.test(message.message ?? '')) {
    return new DbguardError('The disk is full: the SQLite snapshot could not be written, and its partial file was removed.', {
      hint: 'Free some space (or pass --dir to use another disk) and retry.',
    });
  }
  if (message.code?.startsWith('SQLITE_IOERR')) {
    return new DbguardError(`The SQLite snapshot could not be written (${message.message}): is the disk full, or a file size limit reached?`, {
      hint: 'Free some space (or pass --dir to use another disk) and retry. The partial file was removed.',
    });
  }
  return new DbguardError(`SQLite snapshot of ${file} failed: ${message.message}`);
}

/** Opens the snapshot read-only: PRAGMA integrity_check, then its row counts. */
export async function checkSqliteSnapshot(
  source: RestoreSource,
  options: StagingOptions = {},
): Promise<{ tables: TableCounts | undefined }> {
  return withPlainFile(source, options, 'snapshot.sqlite', async (file) => {
    let db: Database.Database;
    try {
      db = openSqlite(file, { readonly: true, fileMustExist: true });
    } catch (error) {
      if (error instanceof DbguardError) throw error;
      throw new DbguardError(`The backup is not a readable SQLite file: ${(error as Error).message}`);
    }
    try {
      const problems = integrityProblems(db);
      if (problems.length > 0) throw new DbguardError(`The backup fails PRAGMA integrity_check: ${problems.slice(0, 5).join('; ')}`);
      return { tables: countSqliteRows(db) };
    } catch (error) {
      if (error instanceof DbguardError) throw error;
      throw new DbguardError(`The backup is not a readable SQLite database: ${(error as Error).message}`);
    } finally {
      db.close();
    }
  });
}

/** The file's path with links resolved (as it is when it does not exist yet): one database, one key. */
function canonicalPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
