/**
 * dbguard as a library: the same operations the CLI runs.
 *
 *   import { backup, resolveDatabase } from 'dbguard';
 *   await backup({ target: resolveDatabase(), type: 'automatic', label: 'startup' });
 */
import { loadConfig } from './config/config-file.js';
import { type DatabaseTarget, locateDatabaseUrl, parseDatabaseUrl } from './config/database-url.js';
import { resolveNamedDatabase } from './config/databases.js';

export { backup, RemoteCopyError, DEFAULT_BACKUP_DIR, type BackupOptions, type BackupResult } from './core/backup.js';
export { listBackups, showBackup, type ListOptions } from './core/list.js';
export type { ListedBackup, CopyLocation } from './core/find-backup.js';
export { pushBackups, pullFromRemote, type PushOptions, type PushResult, type PullOptions } from './core/push.js';
export { resolveRemote, parseRemoteUrl, type RemoteSettings, type RemoteConfig } from './config/remote.js';
export { prune, type PruneOptions, type PruneResult, type PruneDecision } from './core/prune.js';
export { decideRetention, DEFAULT_RETENTION_POLICIES, type RetentionPolicies, type RetentionPolicy } from './core/retention.js';
export { verifyBackup, type VerifyOptions, type VerifyResult } from './core/verify.js';
export { exportSubject, type ExportOptions, type ExportResult, type ExportFormat } from './core/export.js';
export type { ExportRules } from './core/export-redaction.js';
export { restore, type RestoreOptions, type RestorePlan, type RestoreResult, type RestoreStep } from './core/restore.js';
export { migrate, lint, type MigrateOptions, type MigrateResult, type MigrateStep, type LintOptions } from './migrate/migrate.js';
export {
  withBackup,
  rollbackReport,
  type WithBackupOptions,
  type WithBackupResult,
  type WithBackupStep,
  type RollbackReport,
} from './migrate/with-backup.js';
export { analyzeSql, type Finding, type FindingKind } from './migrate/analyze.js';
export { describeFinding, type MeasuredFinding } from './migrate/impact.js';
export { BACKUP_TYPES, type BackupManifest, type BackupType, type StoredBackup, type Verification } from './storage/manifest.js';
export { DbguardError, UsageError, RefusedError, ExitCode } from './errors.js';
export { parseDatabaseUrl, locateDatabaseUrl, redactUrl, type DatabaseTarget } from './config/database-url.js';
export { DBGUARD_VERSION } from './version.js';
export { loadConfig, type DbguardConfig, type DatabaseEntry } from './config/config-file.js';
export {
  resolveNamedDatabase,
  resolveDatabases,
  databaseNames,
  configuredBackupOptions,
  interpolateEnv,
  DEFAULT_DATABASE_NAME,
  type NamedDatabase,
  type ConfiguredBackupOptions,
} from './config/databases.js';
export { backupStatus, type DatabaseStatus, type StatusOptions, type BackupSummary } from './core/status.js';
export {
  classifyCommand,
  answerHook,
  AGENT_HOOKS,
  guardedRun,
  scanText,
  scanStaged,
  readEnvironmentMarker,
  writeEnvironmentMarker,
  readAudit,
  GUARDED_TOOLS,
  type ClassifyOptions,
  type AgentHook,
  type HookAnswer,
  type Classification,
  type Reason,
  type Verdict,
  type GuardedRunOptions,
  type GuardedRunResult,
  type RunEvent,
  type AuditEntry,
  type ScanFinding,
} from './guard/index.js';

/**
 * The database from `db`, else the one named `database` in dbguard.config, else `DATABASE_URL` in the environment,
 * else in `./.env`. `resolveNamedDatabase` also returns a named database's backup options and schedules.
 */
export function resolveDatabase(options: { db?: string; database?: string; cwd?: string; env?: Record<string, string | undefined> } = {}): DatabaseTarget {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  if (options.database !== undefined) return resolveNamedDatabase({ config: loadConfig(cwd).config, env, cwd, name: options.database }).target;
  const { url } = locateDatabaseUrl({ db: options.db, env, cwd });
  return parseDatabaseUrl(url, cwd);
}
