import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { MysqlConnection } from '../config/database-url.js';
import { DbguardError, UsageError } from '../errors.js';
import { DumpRowCounter, dumpCompleted } from './mysql-dump-counter.js';
import { baseTables } from './mysql-objects.js';
import { copyTables, swapIn } from './mysql-swap.js';
import { connectMysql, connectionArgs, mysqlTool, mysqlToolEnv, quoteMysqlIdent as q, spawnMysqlTool, waitForMysqlTool } from './mysql-tools.js';
import type { RowStream, SchemaGraph } from './types.js';
import type { DatabaseEngine, Dump, DumpOptions, ImpactQuery, RestoreOptions, RestoreSource, StagingOptions, TableCounts } from './types.js';

const NO_SUCH_TABLE = ['ER_NO_SUCH_TABLE', 'ER_BAD_DB_ERROR'];

/**
 * MySQL and MariaDB through their own dump tool and client (mariadb-dump/mysqldump, mariadb/mysql) and mysql2 for
 * queries. A backup is the dump tool's SQL script of the one database; a restore loads it into a scratch database on
 * the same server and swaps it in (see mysql-swap.ts).
 */
export class MysqlEngine implements DatabaseEngine {
  readonly kind = 'mysql' as const;

  constructor(readonly connection: MysqlConnection) {
    if (connection.database.startsWith('-')) throw new UsageError(`"${connection.database}" cannot be passed to the MySQL tools as a database name.`);
  }

  dumpFormat() {
    return { format: 'mysql-sql', extension: '.sql' } as const;
  }

  identity() {
    return { name: this.connection.database, host: `${this.connection.host}:${this.connection.port}`, schema: null };
  }

  async probe(): Promise<{ serverVersion: string }> {
    return this.withClient(async (client) => {
      const [rows] = await client.query<RowDataPacket[]>('SELECT VERSION() AS v');
      return { serverVersion: String(rows[0]!.v) };
    });
  }

  /**
   * The dump tool reads every table in one `--single-transaction` snapshot (InnoDB tables), and the row counts are
   * read from the dump itself as it streams past (DumpRowCounter): they describe exactly the rows the backup holds.
   */
  async dump({ signal }: DumpOptions): Promise<Dump> {
    const tool = await mysqlTool('dump');
    const args = [
      ...connectionArgs(this.connection, tool),
      '--single-transaction',
      '--routines',
      '--triggers',
      '--events',
      '--hex-blob',
      '--default-character-set=utf8mb4',
      '--no-tablespaces',
      '--comments',
      '--quick',
      ...(tool.flavor === 'mysql' ? ['--set-gtid-purged=OFF'] : []),
      this.connection.database,
    ];
    const child = spawnMysqlTool(tool, args, mysqlToolEnv(this.connection), 'ignore');
    const cancel = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', cancel, { once: true });
    const counter = new DumpRowCounter();
    const stream = new PassThrough();
    const flowed = pipeline(child.stdout!, counter, stream).catch((error: unknown) => {
      child.kill('SIGTERM');
      throw error;
    });
    const completed = Promise.all([waitForMysqlTool(tool, child, this.connection), flowed])
      .then(() => {
        if (!dumpCompleted(counter.tail)) throw new DbguardError(`${tool.name} ended without writing its closing line: the dump is incomplete.`);
        return { tables: counter.tables };
      })
      .catch((error: unknown) => {
        stream.destroy(error as Error);
        throw error;
      })
      .finally(() => signal?.removeEventListener('abort', cancel));
    return { kind: 'stream', stream, completed, cancel };
  }

  async restore(source: RestoreSource, options: RestoreOptions): Promise<void> {
    const { tables, exact, expectedTables, signal } = options;
    if (options.jobs !== undefined && options.jobs > 1) throw new UsageError('--jobs is for PostgreSQL restores.');
    const client = await connectMysql(this.connection, null);
    const scratch = `${this.scratchPrefix()}${randomBytes(4).toString('hex')}`;
    try {
      await this.dropLeftoverScratch(client);
      const [[charset]] = await client.query<RowDataPacket[]>(
        'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
        [this.connection.database],
      );
      const settings = charset ? ` CHARACTER SET ${String(charset.cs)} COLLATE ${String(charset.co)}` : '';
      await client.query(`CREATE DATABASE ${q(scratch)}${settings}`);
      await this.load(source, scratch, signal);
      if (expectedTables) {
        const loaded = await countTables(client, scratch);
        const wrong = Object.keys(expectedTables).filter((t) => loaded[t] !== expectedTables[t]);
        if (wrong.length > 0) {
          const t = wrong[0]!;
          throw new DbguardError(`the loaded backup has ${loaded[t] ?? 'no'} rows in ${t}, its manifest says ${expectedTables[t]}.`);
        }
      }
      signal?.throwIfAborted();
      if (tables && tables.length > 0) await copyTables(client, this.connection.database, scratch, tables);
      else await swapIn(client, this.connection.database, scratch, exact !== undefined);
    } finally {
      await client.query(`DROP DATABASE IF EXISTS ${q(scratch)}`).catch(() => {});
      await client.end().catch(() => {});
    }
  }

  /** Scratch databases of restores into this database: a killed restore's are dropped by the next one (under the lock). */
  private scratchPrefix(): string {
    return `dbguard_restore_${createHash('sha256').update(this.connection.database).digest('hex').slice(0, 8)}_`;
  }

  private async dropLeftoverScratch(client: Connection): Promise<void> {
    const [rows] = await client.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [
      `${this.scratchPrefix()}%`,
    ]);
    for (const { name } of rows) await client.query(`DROP DATABASE IF EXISTS ${q(String(name))}`);
  }

  /** Runs the dump script with the command-line client into `database`. */
  private async load(source: RestoreSource, database: string, signal: AbortSignal | undefined): Promise<void> {
    const tool = await mysqlTool('client');
    const args = [...connectionArgs(this.connection, tool), '--binary-mode', '--default-character-set=utf8mb4', database];
    const child = spawnMysqlTool(tool, args, mysqlToolEnv(this.connection), 'pipe', signal);
    const done = waitForMysqlTool(tool, child, { ...this.connection, database });
    const input: Readable = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : await source.open();
    const feeding = pipeline(input, child.stdin!).catch((error: NodeJS.ErrnoException) => {
      // The client closing its input early (EPIPE) is reported by its own exit status.
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        child.kill('SIGTERM');
        throw error;
      }
    });
    await Promise.all([feeding, done]);
  }

  async countRows(): Promise<TableCounts> {
    return this.withClient(async (client) => {
      await client.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      try {
        return await countTables(client, this.connection.database);
      } finally {
        await client.query('COMMIT');
      }
    });
  }

  async exists(): Promise<boolean> {
    return this.withClient(
      async (client) => {
        const [rows] = await client.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [this.connection.database]);
        return rows.length > 0;
      },
      null,
    );
  }

  async create(): Promise<boolean> {
    return this.withClient(
      (client) =>
        client.query(`CREATE DATABASE ${q(this.connection.database)}`).then(
          () => true,
          (error: { code?: string }) => {
            if (error.code === 'ER_DB_CREATE_EXISTS') return false;
            throw error;
          },
        ),
      null,
    );
  }

  async drop(): Promise<void> {
    await this.withClient((client) => client.query(`DROP DATABASE IF EXISTS ${q(this.connection.database)}`), null);
  }

  async integrityProblems(): Promise<string[]> {
    return [];
  }

  /** dbguard's own queries (selectRows, execute) are standard SQL: double quotes name identifiers, as elsewhere. */
  private async ansiQuotes(client: Connection): Promise<void> {
    await client.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')");
  }

  async selectRows(sql: string): Promise<Array<Record<string, unknown>> | null> {
    return this.withClient(async (client) => {
      await this.ansiQuotes(client);
      await client.query('START TRANSACTION READ ONLY');
      try {
        return (await client.query<RowDataPacket[]>(sql))[0];
      } catch (error) {
        if (NO_SUCH_TABLE.includes((error as { code?: string }).code ?? '')) return null;
        throw error;
      } finally {
        await client.query('ROLLBACK').catch(() => {});
      }
    });
  }

  async execute(sql: string): Promise<void> {
    await this.withClient(async (client) => {
      await this.ansiQuotes(client);
      await client.query('START TRANSACTION');
      for (const statement of sql.split(/;\s*(?=(?:[^']*'[^']*')*[^']*$)/).filter((s) => s.trim())) await client.query(statement);
      await client.query('COMMIT');
    });
  }

  async measure({ table, column, rows }: ImpactQuery): Promise<number | undefined> {
    const where = column && rows !== 'all' ? ` WHERE ${q(column)} IS ${rows === 'null' ? '' : 'NOT '}NULL` : '';
    const relation = `${table.schema ? `${q(table.schema)}.` : ''}${q(table.name)}`;
    try {
      const result = await this.selectRows(`SELECT count(*) AS n FROM ${relation}${where}`);
      return result ? Number(result[0]!.n) : undefined;
    } catch (error) {
      if ((error as { code?: string }).code === 'ER_BAD_FIELD_ERROR') return undefined;
      throw error;
    }
  }

  async describeSchema(): Promise<SchemaGraph> {
    throw new UsageError('dbguard export does not support MySQL/MariaDB yet.');
  }

  async readSnapshot<T>(_fn: (rows: RowStream) => Promise<T>): Promise<T> {
    throw new UsageError('dbguard export does not support MySQL/MariaDB yet.');
  }

  async createScratch(): Promise<{ engine: DatabaseEngine; drop(): Promise<void> }> {
    const name = `dbguard_scratch_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await this.withClient((client) => client.query(`CREATE DATABASE ${q(name)}`), null);
    const engine = new MysqlEngine({ ...this.connection, database: name });
    return { engine, drop: () => engine.drop() };
  }

  private async withClient<T>(fn: (client: Connection) => Promise<T>, database: string | null = this.connection.database): Promise<T> {
    const client = await connectMysql(this.connection, database);
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** Row counts of every base table of `database`, in the client's current transaction. */
async function countTables(client: Connection, database: string): Promise<TableCounts> {
  const counts: TableCounts = {};
  for (const table of await baseTables(client, database)) {
    const [rows] = await client.query<RowDataPacket[]>(`SELECT count(*) AS n FROM ${q(database)}.${q(table)}`);
    counts[table] = Number(rows[0]!.n);
  }
  return counts;
}

/** Reads a dump end to end: it must be the dump tool's complete output. Its row counts are returned for comparison. */
export async function checkMysqlDump(source: RestoreSource, options: StagingOptions = {}): Promise<{ tables: TableCounts | undefined }> {
  const input: Readable = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : await source.open();
  const counter = new DumpRowCounter();
  await pipeline(input, counter, async function* (chunks) {
    for await (const _ of chunks);
  }, { signal: options.signal });
  if (!dumpCompleted(counter.tail)) throw new DbguardError('the dump is incomplete (it lacks the dump tool\'s closing line).');
  return { tables: counter.tables };
}
