import type { DatabaseTarget } from '../config/database-url.js';
import type { BackupManifest } from '../storage/manifest.js';
import { PostgresEngine, checkPgArchive } from './postgres.js';
import { checkBaseTar } from './pg-base.js';
import { SqliteEngine, checkSqliteSnapshot } from './sqlite.js';
import type { BackupChecker, DatabaseEngine } from './types.js';

export function engineFor(target: DatabaseTarget): DatabaseEngine {
  return target.engine === 'postgres' ? new PostgresEngine(target.connection, target.schema) : new SqliteEngine(target.path);
}

export function checkerFor(format: BackupManifest['format']): BackupChecker {
  if (format === 'pg-base-tar') return checkBaseTar;
  return format === 'sqlite' ? checkSqliteSnapshot : checkPgArchive;
}
