import type { Readable } from 'node:stream';

export type TableCounts = Record<string, number>;

export interface ImpactQuery {
  table: { schema?: string | undefined; name: string };
  column?: string | undefined;
  rows: 'all' | 'non-null' | 'null';
}

/** A dump in progress: bytes to consume, and counts taken in the same snapshot. */
export type Dump =
  | {
      kind: 'stream';
      stream: Readable;
      /** Resolves once the dump tool exited successfully (after `stream` ended). */
      completed: Promise<{ tables: TableCounts }>;
      cancel(): void;
    }
  | {
      /** The whole snapshot was written to the scratch file the caller gave. */
      kind: 'file';
      path: string;
      tables: TableCounts;
    };

/**
 * Bytes done so far. Engines that write an intermediate snapshot first report it as phase `snapshot`; compressing or
 * encrypting that file afterwards is phase `compressing`, with the snapshot's size as `total`.
 */
export type ProgressListener = (bytes: number, detail?: { phase: 'snapshot' | 'compressing'; total?: number }) => void;

export interface DumpOptions {
  /** A path the engine may write an intermediate snapshot to (same folder as the backup). */
  scratchPath: string;
  signal?: AbortSignal | undefined;
  /** PostgreSQL: pg_dump's own compression level (0 = none); the tool's default when undefined. */
  nativeCompressionLevel?: number | undefined;
  /** PostgreSQL: parallel pg_dump jobs (directory format, packed into one tar by the engine). */
  jobs?: number | undefined;
  /** Bytes written so far, for engines that write a file. */
  onProgress?: ProgressListener | undefined;
}

export interface RestoreOptions {
  /** Restore only these tables (their data replaced); all when undefined. */
  tables?: string[] | undefined;
  /**
   * Also drop what the target holds and the backup does not, in the same transaction: the result is exactly the
   * backup. Used to roll back a failed migration that created tables (PostgreSQL: also schemas, types, functions,
   * views, sequences, extensions, found by comparing the catalog with the dump's table of contents).
   */
  exact?: { backupTables: string[] } | undefined;
  signal?: AbortSignal | undefined;
  /** The backup's row counts: engines that restore into a scratch copy first check it against them before the swap. */
  expectedTables?: TableCounts | undefined;
  /**
   * PostgreSQL: parallel pg_restore jobs. Such a restore cannot run in one transaction, so it is only allowed into an
   * empty database this restore created, which the caller drops if the restore fails.
   */
  jobs?: number | undefined;
  /** A private folder on the backups' disk for a decoded copy of a compressed or encrypted backup. */
  stagingDir?: string | undefined;
}

/** Backup bytes to restore from: a plain file on disk, or a stream when they must be decoded first. */
export type RestoreSource = ({ kind: 'file'; path: string } | { kind: 'stream'; open(): Promise<Readable> }) & {
  /** The bytes are a tar of a pg_dump directory-format dump (`pg-directory`), unpacked before pg_restore reads it. */
  packedDirectory?: boolean | undefined;
};

export type BackupFormat = 'pg-custom' | 'pg-directory' | 'sqlite' | 'pg-base-tar' | 'mysql-sql';

/** A table of the live schema. `id` is `schema.name` on PostgreSQL, the name on SQLite (as in TableCounts). */
export interface SchemaTable {
  id: string;
  schema: string | null;
  name: string;
  columns: string[];
  /** Empty when the table has no primary key. */
  primaryKey: string[];
  /** The column lists of its indexes, the primary key's included (to warn about unindexed foreign keys). */
  indexes: string[][];
}

/** `table(columns) REFERENCES references.table(references.columns)`, columns in the constraint's order. */
export interface ForeignKey {
  table: string;
  columns: string[];
  references: { table: string; columns: string[] };
}

export interface SchemaGraph {
  tables: SchemaTable[];
  foreignKeys: ForeignKey[];
}

/**
 * Streams a read-only query's rows in batches of at most 1000 (a cursor, never all rows at once). Values: Buffer for
 * bytes, bigint or string for big integers, ISO 8601 strings for dates and times, parsed objects for JSON.
 */
export type RowStream = (sql: string) => AsyncIterable<Array<Record<string, unknown>>>;

export type EngineKind = 'postgres' | 'sqlite' | 'mysql';

export interface DatabaseEngine {
  readonly kind: EngineKind;
  /** The backup format a dump with these options writes, and its file extension (before compression/encryption). */
  dumpFormat(options: { jobs?: number | undefined }): { format: BackupFormat; extension: string };
  /** Name and host, never credentials; for SQLite also the file's absolute path (see `retentionDatabaseKey`). */
  identity(): { name: string; host: string | null; schema: string | null; file?: string };
  /** Connects (or opens) and returns the server version; fails clearly when unreachable. */
  probe(): Promise<{ serverVersion: string }>;
  /** Whether the target database exists (a restore into a missing one needs no safety backup). */
  exists(): Promise<boolean>;
  dump(options: DumpOptions): Promise<Dump>;
  /** Replaces the target's content with the backup, all or nothing. */
  restore(source: RestoreSource, options: RestoreOptions): Promise<void>;
  countRows(): Promise<TableCounts>;
  /** Creates the target database, found missing a moment ago; false when it exists by now (created meanwhile). */
  create(): Promise<boolean>;
  /** Deletes the target database: undoes a failed restore into a database that restore created. */
  drop(): Promise<void>;
  /** Problems found by the database's own integrity check after a restore (none for PostgreSQL). */
  integrityProblems(): Promise<string[]>;
  /** Read-only query; null when a table it reads does not exist. */
  selectRows(sql: string): Promise<Array<Record<string, unknown>> | null>;
  /** Runs statements that return nothing (dbguard's own `_dbguard` marker table); in one transaction. */
  execute(sql: string): Promise<void>;
  /** Rows a destructive statement would touch: all rows, or those whose column is (not) null; undefined if absent. */
  measure(query: ImpactQuery): Promise<number | undefined>;
  /** Tables, primary keys, indexes and foreign keys of the live schema (every schema on PostgreSQL). */
  describeSchema(): Promise<SchemaGraph>;
  /** Runs `fn` in one read-only snapshot: every query it streams sees the same data. */
  readSnapshot<T>(fn: (rows: RowStream) => Promise<T>): Promise<T>;
  /** An empty throwaway database of the same kind, for restore tests; `drop` removes it. */
  createScratch(): Promise<{ engine: DatabaseEngine; drop(): Promise<void> }>;
}

/**
 * Reads a backup with the database's own tools (pg_restore --list, PRAGMA integrity_check) without any target.
 * Returns the backup's row counts when reading them is cheap (SQLite).
 */
export type BackupChecker = (source: RestoreSource, options?: StagingOptions) => Promise<{ tables: TableCounts | undefined }>;

/** Where a backup may be decoded to a file (a private folder on the backups' disk), and a signal that stops it. */
export interface StagingOptions {
  stagingDir?: string | undefined;
  signal?: AbortSignal | undefined;
}
