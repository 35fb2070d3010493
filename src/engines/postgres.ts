import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { PostgresConnection } from '../config/database-url.js';
import { DbguardError } from '../errors.js';
import {
  connectPg,
  pgToolEnv,
  dbnameConninfo,
  describeConnectError,
  pgToolVersion,
  spawnPgTool,
  waitForPgTool,
} from './pg-tools.js';
import { dropsNotInDump } from './pg-exact.js';
import { packDumpDirectory, watchDirectorySize, withUnpackedDumpDirectory } from './pg-directory.js';
import { describePgSchema, readPgSnapshot } from './pg-schema.js';
import { withPlainFile } from './staged-file.js';
import type { BackupFormat, RowStream, SchemaGraph } from './types.js';
import type { DatabaseEngine, Dump, DumpOptions, ImpactQuery, RestoreOptions, RestoreSource, StagingOptions, TableCounts } from './types.js';

/** SQLSTATE of CREATE DATABASE when the database exists. */
const DUPLICATE_DATABASE = '42P04';

const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

/** Row counts of every user table, keyed `schema.table`, within the client's current transaction. */
async function countUserTables(client: pg.Client): Promise<TableCounts> {
  const { rows } = await client.query<{ schema: string; name: string }>(USER_TABLES_SQL);
  const counts: TableCounts = {};
  for (const { schema, name } of rows) {
    const result = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`,
    );
    counts[`${schema}.${name}`] = Number(result.rows[0]!.n);
  }
  return counts;
}

/** pg_dump refuses servers newer than itself: say so before starting, with both versions. */
async function assertDumpCanRead(client: pg.Client, tool: { major: number; full: string }): Promise<void> {
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const serverMajor = Math.floor(Number(rows[0]!.v) / 10000);
  if (tool.major < serverMajor) {
    throw new DbguardError(`pg_dump ${tool.full} is older than the PostgreSQL ${serverMajor} server and cannot dump it.`, {
      hint: `Install the PostgreSQL ${serverMajor} client tools (or newer) and put them first on PATH, or set DBGUARD_PG_BINDIR.`,
    });
  }
}

export class PostgresEngine implements DatabaseEngine {
  readonly kind = 'postgres' as const;

  dumpFormat({ jobs }: { jobs?: number | undefined }): { format: BackupFormat; extension: string } {
    return jobs !== undefined && jobs > 1 ? ({ format: 'pg-directory', extension: '.dump.tar' } as const) : ({ format: 'pg-custom', extension: '.dump' } as const);
  }

  constructor(
    readonly connection: PostgresConnection,
    private readonly schema: string | undefined = undefined,
  ) {}

  identity() {
    return { name: this.connection.database, host: `${this.connection.host}:${this.connection.port}`, schema: this.schema ?? null };
  }

  async probe(): Promise<{ serverVersion: string }> {
    const client = await connectPg(this.connection);
    try {
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      return { serverVersion: rows[0]!.server_version.split(' ')[0]! };
    } finally {
      await client.end();
    }
  }

  async dump({ signal, nativeCompressionLevel, jobs, scratchPath, onProgress }: DumpOptions): Promise<Dump> {
    // pg_dump's version is asked while the connection is being made.
    const [connected, tool] = await Promise.allSettled([connectPg(this.connection), pgToolVersion('pg_dump')]);
    if (connected.status === 'rejected') throw connected.reason;
    const client = connected.value;
    try {
      if (tool.status === 'rejected') throw tool.reason;
      await assertDumpCanRead(client, tool.value);
      // One exported snapshot: pg_dump (all its jobs) and our row counts see exactly the same data.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      const parallel = jobs !== undefined && jobs > 1;
      const args = parallel
        ? // --no-sync: the folder is a scratch copy; the tar made from it is what gets fsynced.
          ['--format=directory', `--jobs=${jobs}`, `--file=${scratchPath}`, '--no-sync', `--snapshot=${snapshot}`, '--no-password']
        : ['--format=custom', `--snapshot=${snapshot}`, '--no-password'];
      if (nativeCompressionLevel !== undefined) args.push(`--compress=${nativeCompressionLevel}`);
      const child = spawnPgTool('pg_dump', args, pgToolEnv(this.connection));
      const cancel = () => child.kill('SIGTERM');
      signal?.addEventListener('abort', cancel, { once: true });
      const dumped = Promise.all([waitForPgTool('pg_dump', child), countUserTables(client)])
        .then(([, tables]) => ({ tables }))
        .finally(async () => {
          signal?.removeEventListener('abort', cancel);
          await client.query('COMMIT').catch(() => {});
          await client.end().catch(() => {});
        });
      if (!parallel) return { kind: 'stream', stream: child.stdout!, completed: dumped, cancel };
      child.stdout!.resume();
      const stopWatching = onProgress ? watchDirectorySize(scratchPath, (bytes) => onProgress(bytes, { phase: 'snapshot' })) : () => {};
      return packWhenDumped(scratchPath, dumped.finally(stopWatching), cancel);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  async restore(source: RestoreSource, options: RestoreOptions): Promise<void> {
    if (source.packedDirectory) {
      await withUnpackedDumpDirectory(source, options, (dir) => this.restore({ kind: 'file', path: dir }, options));
      return;
    }
    const { tables, exact, jobs, stagingDir, signal } = options;
    const env = pgToolEnv(this.connection);
    if (jobs !== undefined && jobs > 1) {
      if (tables?.length || exact) throw new DbguardError('A parallel restore (--jobs) restores the whole backup into a new database only.');
      await withPlainFile(source, { stagingDir, signal }, 'backup.dump', (file) => this.restoreInParallel(file, jobs, env, signal));
    } else if (tables && tables.length > 0) await this.restoreTables(source, tables, env, signal);
    else if (exact) await this.restoreExact(source, env, signal);
    else await this.restoreAll(source, env, signal);
  }

  /**
   * pg_restore -j into the empty database the caller created. pg_restore needs a seekable file to run jobs; they
   * run in separate sessions, so this is not one transaction: the caller drops the database if it fails.
   */
  private async restoreInParallel(file: string, jobs: number, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<void> {
    const args = ['--exit-on-error', '--no-owner', '--no-password', `--jobs=${jobs}`, `--dbname=${dbnameConninfo(this.connection.database)}`, file];
    await waitForPgTool('pg_restore', spawnPgTool('pg_restore', args, env, 'ignore', signal));
  }

  /** Everything in the dump, in one transaction: a failure leaves the database as it was. */
  private async restoreAll(source: RestoreSource, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<void> {
    const args = [
      '--clean',
      '--if-exists',
      '--single-transaction',
      '--exit-on-error',
      '--no-owner',
      '--no-password',
      `--dbname=${dbnameConninfo(this.connection.database)}`,
    ];
    if (source.kind === 'file') args.push(source.path);
    const child = spawnPgTool('pg_restore', args, env, source.kind === 'stream' ? 'pipe' : 'ignore', signal);
    await runFedByStream(child.stdin, source, waitForPgTool('pg_restore', child), child);
  }

  /**
   * Like restoreAll, and what the database holds and the dump does not (tables, schemas, types... a failed migration
   * created) is dropped first, in the same transaction: pg_restore writes the SQL, psql runs it after the DROPs.
   */
  private async restoreExact(source: RestoreSource, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<void> {
    const toc = await listArchive(source, env, signal);
    const client = await connectPg(this.connection);
    const drops = await dropsNotInDump(client, toc).finally(() => client.end().catch(() => {}));
    const psql = this.spawnPsql(env, signal);
    const psqlDone = waitForPgTool('psql', psql);
    const feed = async () => {
      for (const drop of drops) psql.stdin!.write(`${drop};\n`);
      const args = ['--clean', '--if-exists', '--no-owner', '--file=-'];
      if (source.kind === 'file') args.push(source.path);
      const restore = spawnPgTool('pg_restore', args, env, source.kind === 'stream' ? 'pipe' : 'ignore', signal);
      const restoreDone = waitForPgTool('pg_restore', restore);
      await Promise.all([runFedByStream(restore.stdin, source, restoreDone, restore), pipeline(restore.stdout!, psql.stdin!)]);
    };
    await Promise.all([feed().catch((error) => { psql.kill('SIGTERM'); throw error; }), psqlDone]);
  }

  private spawnPsql(env: NodeJS.ProcessEnv, signal: AbortSignal | undefined) {
    return spawnPgTool(
      'psql',
      ['--no-psqlrc', '--quiet', '--single-transaction', '--set=ON_ERROR_STOP=1', '--no-password', `--dbname=${dbnameConninfo(this.connection.database)}`],
      env,
      'pipe',
      signal,
    );
  }

  /**
   * Only the named tables' rows: pg_restore writes their data as SQL (one run per schema), psql runs it after a
   * TRUNCATE, all in one transaction. The tables' definitions, indexes and other tables are left as they are.
   */
  private async restoreTables(source: RestoreSource, tables: string[], env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<void> {
    const selectors = tables.map(splitQualifiedName);
    const psql = this.spawnPsql(env, signal);
    const psqlDone = waitForPgTool('psql', psql);
    const feed = async () => {
      const quoted = selectors.map(({ schema, name }) => (schema ? `${quoteIdent(schema)}.${quoteIdent(name)}` : quoteIdent(name)));
      psql.stdin!.write(`TRUNCATE ${quoted.join(', ')};\n`);
      for (const [schema, names] of groupBySchema(selectors)) {
        const args = ['--data-only', '--file=-', ...(schema ? [`--schema=${schema}`] : []), ...names.map((n) => `--table=${n}`)];
        if (source.kind === 'file') args.push(source.path);
        const restore = spawnPgTool('pg_restore', args, env, source.kind === 'stream' ? 'pipe' : 'ignore', signal);
        const restoreDone = waitForPgTool('pg_restore', restore);
        await Promise.all([runFedByStream(restore.stdin, source, restoreDone, restore), pipeline(restore.stdout!, psql.stdin!, { end: false })]);
      }
      psql.stdin!.end();
    };
    await Promise.all([feed().catch((error) => { psql.kill('SIGTERM'); throw error; }), psqlDone]);
  }

  async countRows(): Promise<TableCounts> {
    const client = await connectPg(this.connection);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return await countUserTables(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async exists(): Promise<boolean> {
    try {
      const client = await connectPg(this.connection);
      await client.end();
      return true;
    } catch (error) {
      if (error instanceof DbguardError && error.message.includes('does not exist')) return false;
      throw error;
    }
  }

  async create(): Promise<boolean> {
    return this.withMaintenanceClient(
      (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(this.connection.database)}`).then(() => true),
      (error) => ((error as { code?: string }).code === DUPLICATE_DATABASE ? false : undefined),
    );
  }

  async drop(): Promise<void> {
    const name = this.connection.database;
    await this.withMaintenanceClient((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
  }

  async selectRows(sql: string): Promise<Array<Record<string, unknown>> | null> {
    const client = await connectPg(this.connection);
    try {
      await client.query('BEGIN READ ONLY');
      return (await client.query(sql)).rows;
    } catch (error) {
      if ((error as { code?: string }).code === '42P01' || (error as { code?: string }).code === '3F000') return null;
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async execute(sql: string): Promise<void> {
    const client = await connectPg(this.connection);
    try {
      await client.query(`BEGIN; ${sql}; COMMIT`);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async measure({ table, column, rows }: ImpactQuery): Promise<number | undefined> {
    const client = await connectPg(this.connection);
    try {
      await client.query('BEGIN READ ONLY');
      const relation = `${table.schema ? `${client.escapeIdentifier(table.schema)}.` : ''}${client.escapeIdentifier(table.name)}`;
      const where = column && rows !== 'all' ? ` WHERE ${client.escapeIdentifier(column)} IS ${rows === 'null' ? '' : 'NOT '}NULL` : '';
      const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${relation}${where}`);
      return Number(result.rows[0]!.n);
    } catch (error) {
      if (['42P01', '42703', '3F000'].includes((error as { code?: string }).code ?? '')) return undefined;
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async integrityProblems(): Promise<string[]> {
    return [];
  }

  async describeSchema(): Promise<SchemaGraph> {
    const client = await connectPg(this.connection);
    try {
      return await describePgSchema(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async readSnapshot<T>(fn: (rows: RowStream) => Promise<T>): Promise<T> {
    const client = await connectPg(this.connection);
    try {
      return await readPgSnapshot(client, fn);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async createScratch(): Promise<{ engine: DatabaseEngine; drop(): Promise<void> }> {
    const name = `dbguard_scratch_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await this.withMaintenanceClient((client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
    const engine = new PostgresEngine({ ...this.connection, database: name });
    return { engine, drop: () => engine.drop() };
  }

  /** Runs `fn` on a connection to a database other than the target (for CREATE/DROP DATABASE). */
  /** Runs `fn` connected to the server's maintenance database; `expected` turns an error it knows into a result. */
  private async withMaintenanceClient<T>(fn: (client: pg.Client) => Promise<T>, expected?: (error: unknown) => T | undefined): Promise<T> {
    let client: pg.Client | undefined;
    let lastError: unknown;
    for (const database of ['postgres', 'template1']) {
      try {
        client = await connectPg(this.connection, database);
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!client) throw lastError instanceof DbguardError ? lastError : describeConnectError(lastError, this.connection, 'postgres');
    try {
      return await fn(client);
    } catch (error) {
      const result = expected?.(error);
      if (result !== undefined) return result;
      throw new DbguardError(`PostgreSQL refused: ${(error as Error).message}`, {
        hint: 'The database user needs the CREATEDB privilege to create or drop databases.',
      });
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** Feeds a stream source into a child's stdin (if any) and waits for the child. */
async function runFedByStream(
  stdin: Writable | null,
  source: RestoreSource,
  done: Promise<unknown>,
  child: { kill(signal?: NodeJS.Signals): boolean },
): Promise<void> {
  if (source.kind === 'file' || !stdin) {
    await done;
    return;
  }
  const input: Readable = await source.open();
  const feeding = pipeline(input, stdin).catch((error: NodeJS.ErrnoException) => {
    // The tool closing its input early (EPIPE) is reported by its own exit status.
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      child.kill('SIGTERM');
      throw error;
    }
  });
  await Promise.all([feeding, done]);
}

function splitQualifiedName(table: string): { schema: string | undefined; name: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: undefined, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

function groupBySchema(selectors: Array<{ schema: string | undefined; name: string }>): Map<string | undefined, string[]> {
  const groups = new Map<string | undefined, string[]>();
  for (const { schema, name } of selectors) groups.set(schema, [...(groups.get(schema) ?? []), name]);
  return groups;
}

function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * The tar of a parallel dump, streamed once pg_dump has finished writing its directory; the directory is deleted
 * once packed (or when the dump fails).
 */
function packWhenDumped(dir: string, dumped: Promise<{ tables: TableCounts }>, cancel: () => void): Dump {
  const stream = new PassThrough();
  const completed = dumped
    .then(async ({ tables }) => {
      await pipeline(await packDumpDirectory(dir), stream);
      return { tables };
    })
    .catch((error: unknown) => {
      stream.destroy(error as Error);
      throw error;
    })
    .finally(() => fs.rm(dir, { recursive: true, force: true }));
  return { kind: 'stream', stream, completed, cancel };
}

/** `pg_restore --list`: the archive's table of contents must be readable to the end. */
export async function checkPgArchive(source: RestoreSource, options: StagingOptions = {}): Promise<{ tables: TableCounts | undefined }> {
  if (source.packedDirectory) {
    // Reading the whole tar checks it end to end (and its decryption and decompression); pg_restore needs the toc.
    return withUnpackedDumpDirectory(source, { ...options, tocOnly: true }, (dir) => checkPgArchive({ kind: 'file', path: dir }, options));
  }
  await listArchive(source, process.env, options.signal);
  return { tables: undefined };
}

/** The archive's table of contents, as `pg_restore --list` prints it. */
async function listArchive(source: RestoreSource, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<string> {
  const args = ['--list'];
  if (source.kind === 'file') args.push(source.path);
  const child = spawnPgTool('pg_restore', args, env, source.kind === 'stream' ? 'pipe' : 'ignore', signal);
  let toc = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (toc += chunk));
  await runFedByStream(child.stdin, source, waitForPgTool('pg_restore', child), child);
  return toc;
}
