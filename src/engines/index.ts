import type { DatabaseTarget } from '../config/database-url.js';
import type { BackupManifest } from '../storage/manifest.js';
import { PostgresEngine, checkPgArchive } from './postgres.js';
import { checkBaseTar } from './pg-base.js';
import { MysqlEngine, checkMysqlDump } from './mysql.js';
import { SqliteEngine, checkSqliteSnapshot } from './sqlite.js';
import type { BackupChecker, DatabaseEngine, EngineKind } from './types.js';

export function engineFor(target: DatabaseTarget): DatabaseEngine {
  if (target.engine === 'postgres') return new PostgresEngine(target.connection, target.schema);
  if (target.engine === 'mysql') return new MysqlEngine(target.connection);
  return new SqliteEngine(target.path);
}

export function checkerFor(format: BackupManifest['format']): BackupChecker {
  if (format === 'pg-base-tar') return checkBaseTar;
  if (format === 'sqlite') return checkSqliteSnapshot;
  if (format === 'mysql-sql') return checkMysqlDump;
  return checkPgArchive;
}

/** What an engine's backups and restores can do, for the checks core makes before it starts. */
export interface EngineTraits {
  /** Parallel dump and restore jobs (`--jobs`). */
  parallelJobs: boolean;
  /** The dump tool compresses itself (pg_dump's custom format): dbguard compresses only when asked to. */
  nativeCompression: boolean;
  /** `verify --restore-test` restores into a scratch database on a server (a SQLite check reads the file itself). */
  restoreTest: boolean;
  /** `dbguard export` knows its SQL dialect. */
  exportable: boolean;
}

export function engineTraits(kind: EngineKind): EngineTraits {
  return {
    parallelJobs: kind === 'postgres',
    nativeCompression: kind === 'postgres',
    restoreTest: kind !== 'sqlite',
    exportable: kind !== 'mysql',
  };
}
