import { type DatabaseTarget, engineName } from '../config/database-url.js';
import { checkerFor, engineFor, engineTraits } from '../engines/index.js';
import type { DatabaseEngine, ProgressListener, RestoreSource, StagingOptions, TableCounts } from '../engines/types.js';
import { DbguardError, RefusedError, UsageError } from '../errors.js';
import type { Compression } from '../pipeline/compression.js';
import { digestFile } from '../pipeline/digest.js';
import type { DecryptionKeys, EncryptionKeys } from '../pipeline/encryption.js';
import { assertDecryptable, plainSource } from './codec.js';
import type { LocalBackupStore } from '../storage/local-store.js';
import type { RemoteSettings } from '../config/remote.js';
import { backup } from './backup.js';
import { type CopyLocation, findBackup } from './find-backup.js';
import { latestOf } from './list.js';
import { stageRemote } from './remote.js';
import { openSources, requireRemote } from './sources.js';
import { type BackupManifest, type BackupType, type StoredBackup, isExportFormat } from '../storage/manifest.js';
import { retentionDatabaseKey } from './retention.js';
import { compareTableCounts, resolveTableNames } from './table-counts.js';
import { withDatabaseLock } from '../storage/target-lock.js';

/** What the user is asked to confirm. */
export interface RestorePlan {
  backup: BackupManifest;
  /** Where the data goes, printable (no credentials). */
  target: string;
  /** The name the user types to confirm. */
  databaseName: string;
  targetExists: boolean;
  /** The tables whose content is replaced (all the backup's tables unless --table). */
  tables: string[];
}

export interface RestoreOptions {
  /** An id or `latest`. */
  ref: string;
  type?: BackupType | undefined;
  dir?: string | undefined;
  /** The database to restore into (the configured one, or `--to`). */
  target: DatabaseTarget;
  /** Whose backups `latest` means (default: the target's): with `--to`, the database the backups were taken of. */
  source?: DatabaseTarget | undefined;
  tables?: string[] | undefined;
  /** Asked once every check passed and before anything is touched; false refuses the restore. */
  confirm: (plan: RestorePlan) => Promise<boolean>;
  /** Keys for an encrypted backup; checked before anything is touched. */
  decryption?: DecryptionKeys | undefined;
  /** How the pre-restore safety backup is compressed and encrypted (as regular backups are). */
  safetyBackup?: { compression?: Compression | undefined; encryption?: EncryptionKeys | undefined } | undefined;
  /** Drop the target's tables that are not in the backup too (a migration rollback): see engine RestoreOptions. */
  exact?: boolean | undefined;
  /**
   * PostgreSQL: parallel pg_restore jobs for a large backup. Not one transaction, so only into a database that does
   * not exist yet (`--to`): it is created, and dropped again if the restore fails.
   */
  jobs?: number | undefined;
  /**
   * Stops the restore (Ctrl-C): the database tools are stopped, so a restore over an existing database rolls back,
   * and a database the restore created is dropped again.
   */
  signal?: AbortSignal | undefined;
  /** Tables that must exist after the restore. */
  requiredTables?: string[] | undefined;
  /** Called once the checks pass, with the safety backup's progress. */
  onStep?: ((step: RestoreStep) => void) | undefined;
  /** Bytes of the safety backup written so far. */
  onSafetyBackupProgress?: ProgressListener | undefined;
  engine?: DatabaseEngine | undefined;
  /** The bucket, when one is configured: a backup found only there is downloaded (and verified) first. */
  remote?: RemoteSettings | undefined;
  /** Restore from this copy (default: the local one when there is one). */
  from?: CopyLocation | undefined;
  /** Bytes of a remote backup downloaded so far. */
  onDownloadProgress?: ((bytes: number) => void) | undefined;
}

export type RestoreStep =
  | { step: 'verified'; backup: BackupManifest }
  | { step: 'safety-backup'; id: string }
  | { step: 'restoring' }
  | { step: 'checking' };

export interface RestoreResult {
  backup: BackupManifest;
  target: string;
  /** The pre-restore backup of what was replaced; absent when the target did not exist. */
  safetyBackupId: string | null;
  createdTarget: boolean;
  tables: TableCounts;
  durationMs: number;
}

/**
 * Restores a backup: checksum and readability first, then confirmation, then a safety backup of the target,
 * then an all-or-nothing restore, then integrity and row counts compared with the manifest.
 */
export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const sources = openSources(options);
  const store = sources.local;
  const engine = options.engine ?? engineFor(options.target);
  const found = await findBackup(sources, options.ref, { type: options.type, from: options.from, database: latestOf(options.source ?? options.target) });
  if (isExportFormat(found.manifest.format)) {
    throw new UsageError(`${found.manifest.id} is a personal-data export, not a backup of the database: it cannot be restored.`, 'Pick a backup with `dbguard list`.');
  }
  if (found.manifest.format === 'pg-base-tar') {
    throw new UsageError(
      `${found.manifest.id} is a base backup of the whole server for point-in-time recovery: it is restored to a moment, not as it is.`,
      'Run `dbguard restore --at <time>` (see `dbguard pitr status` for the restorable window).',
    );
  }
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  return withDatabaseLock(store.root, databaseKey, 'restore', async () => {
    const release = await store.markReading(found.manifest.id);
    let staged: Awaited<ReturnType<typeof stageRemote>> | undefined;
    try {
      const useLocal = found.copies.local && options.from !== 'remote';
      if (!useLocal) {
        staged = await stageRemote(store, requireRemote(sources), found.copies.remote!, { signal: options.signal, onProgress: options.onDownloadProgress });
      }
      return await restoreStored(store, staged?.staged ?? found.copies.local!, { ...options, engine }, started);
    } finally {
      await staged?.dispose();
      await release();
    }
  }, { display: options.target.display });
}

/**
 * Restores a backup file kept outside the backups folder (the point-in-time copy of a recovery), with every check of
 * `restore`: confirmation, safety backup (into `dir`), all or nothing, row counts after.
 */
export async function restoreFromFile(stored: StoredBackup, options: Omit<RestoreOptions, 'ref' | 'type' | 'from'>): Promise<RestoreResult> {
  const started = performance.now();
  const store = openSources(options).local;
  const engine = options.engine ?? engineFor(options.target);
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  return withDatabaseLock(store.root, databaseKey, 'restore', () => restoreStored(store, stored, { ...options, ref: stored.manifest.id, engine }, started), {
    display: options.target.display,
  });
}

async function restoreStored(store: LocalBackupStore, stored: StoredBackup, options: RestoreOptions, started: number): Promise<RestoreResult> {
  const { manifest } = stored;
  if (manifest.engine !== options.target.engine) {
    throw new UsageError(`Backup ${manifest.id} is a ${manifest.engine} backup; the target ${options.target.display} is ${options.target.engine}.`);
  }
  const engine = options.engine ?? engineFor(options.target);

  const tables = selectTables(manifest, options.tables);
  const parallel = options.jobs !== undefined && options.jobs > 1;
  if (parallel) assertParallelAllowed(manifest, options);
  await store.cleanupInterrupted();
  const stagingDir = await store.stagingDir();
  const source = plainSource(stored, options.decryption);
  await assertIntact(stored, options.decryption, source, { stagingDir, signal: options.signal });
  options.signal?.throwIfAborted();
  options.onStep?.({ step: 'verified', backup: manifest });

  const targetExists = await engine.exists();
  if (parallel && targetExists) {
    throw new UsageError(
      `--jobs restores into a new database only, and ${options.target.display} exists. Nothing was changed.`,
      'Parallel jobs cannot share one transaction, so over an existing database a failure would leave it half restored. ' +
        'Restore with --to <a new database> --jobs N and point your app at it, or without --jobs (all or nothing).',
    );
  }
  const plan: RestorePlan = {
    backup: manifest,
    target: options.target.display,
    databaseName: engine.identity().name,
    targetExists,
    tables: tables ?? Object.keys(manifest.tables),
  };
  if (!(await options.confirm(plan))) throw new RefusedError('Restore cancelled; nothing was changed.');
  options.signal?.throwIfAborted();

  let safetyBackupId: string | null = null;
  if (targetExists) {
    const safety = await backup({
      target: options.target,
      engine,
      dir: store.root,
      type: 'pre-restore',
      label: 'before-restore',
      description: `Taken automatically before restoring ${manifest.id}`,
      compression: options.safetyBackup?.compression,
      encryption: options.safetyBackup?.encryption,
      retention: false,
      signal: options.signal,
      onProgress: options.onSafetyBackupProgress,
    });
    safetyBackupId = safety.manifest.id;
    options.onStep?.({ step: 'safety-backup', id: safetyBackupId });
  }
  options.signal?.throwIfAborted();
  // The target is as planned, or nothing happens: one created meanwhile has no safety backup, one gone meanwhile
  // is not silently created again.
  const createdTarget = !targetExists && (await engine.create());
  if (!targetExists && !createdTarget) {
    throw new RefusedError(
      `${options.target.display} was created while this restore waited for its confirmation, so it has no safety backup. Nothing was changed.`,
      'Run the restore again: it backs up what the database holds first.',
    );
  }
  if (targetExists && !(await engine.exists())) {
    throw new RefusedError(`${options.target.display} was removed while its safety backup was taken. Nothing was restored.`, `What it held is in ${safetyBackupId}.`);
  }

  options.onStep?.({ step: 'restoring' });
  try {
    await engine.restore(source, {
      tables,
      exact: options.exact ? { backupTables: Object.keys(manifest.tables) } : undefined,
      jobs: options.jobs,
      stagingDir,
      signal: options.signal,
      expectedTables: tables ? Object.fromEntries(tables.map((t) => [t, manifest.tables[t]!])) : manifest.tables,
    });
  } catch (error) {
    const failed = options.signal?.aborted ? 'Restore cancelled' : 'Restore failed';
    const reason = options.signal?.aborted ? '' : ` ${(error as Error).message}`;
    if (createdTarget) {
      const dropped = await engine.drop().then(() => true, () => false);
      const state = dropped ? 'the database it created was dropped again' : `drop the database it created (${options.target.display}) by hand`;
      throw new DbguardError(`${failed}; ${state}.${reason}`, { cause: error });
    }
    throw new DbguardError(`${failed}; the database was left as it was.${reason}`, {
      hint: safetyBackupId ? `A safety backup of the database is in ${safetyBackupId}.` : undefined,
      cause: error,
    });
  }

  options.onStep?.({ step: 'checking' });
  const after = await engine.countRows();
  const problems = [
    ...(await engine.integrityProblems()).map((p) => `integrity check: ${p}`),
    ...compareTableCounts(manifest.tables, after, tables),
    ...(options.requiredTables ?? []).filter((t) => resolveTableNames([t], Object.keys(after)).resolved.length === 0).map((t) => `required table ${t} is missing`),
  ];
  if (problems.length > 0) {
    throw new DbguardError(`The restore finished but the result does not match backup ${manifest.id}:\n  ${problems.join('\n  ')}`, {
      hint: safetyBackupId ? `To go back to the state before this restore: dbguard restore ${safetyBackupId} --type pre-restore` : undefined,
    });
  }
  const restored = Object.fromEntries((tables ?? Object.keys(manifest.tables)).map((t) => [t, after[t] ?? 0]));
  return {
    backup: manifest,
    target: options.target.display,
    safetyBackupId,
    createdTarget,
    tables: restored,
    durationMs: Math.round(performance.now() - started),
  };
}

function selectTables(manifest: BackupManifest, requested: string[] | undefined): string[] | undefined {
  if (!requested || requested.length === 0) return undefined;
  const { resolved, unknown } = resolveTableNames(requested, Object.keys(manifest.tables));
  if (unknown.length > 0) {
    throw new UsageError(
      `Backup ${manifest.id} has no table ${unknown.map((t) => `"${t}"`).join(', ')}.`,
      `Its tables: ${Object.keys(manifest.tables).join(', ') || '(none)'}.`,
    );
  }
  return resolved;
}

function assertParallelAllowed(manifest: BackupManifest, options: RestoreOptions): void {
  if (!engineTraits(manifest.engine).parallelJobs) throw new UsageError(`--jobs is for PostgreSQL restores; a ${engineName(manifest.engine)} restore runs as one.`);
  if (options.tables?.length || options.exact) {
    throw new UsageError('--jobs restores a whole backup into a new database; it cannot be combined with --table.');
  }
}

/** The stored bytes must be the ones written, decryptable with the keys given, and readable by the database's tools. */
async function assertIntact(stored: StoredBackup, keys: DecryptionKeys | undefined, source: RestoreSource, staging: StagingOptions): Promise<void> {
  const { manifest } = stored;
  const actual = await digestFile(stored.file, undefined, staging.signal);
  if (actual.sha256 !== manifest.sha256 || actual.size !== manifest.size) {
    throw new RefusedError(
      `Backup ${manifest.id} is corrupted: its checksum does not match the manifest. Nothing was changed.`,
      'Pick another backup (`dbguard list`), or run `dbguard verify --all` to check the others.',
    );
  }
  await assertDecryptable(stored, keys);
  try {
    await checkerFor(manifest.format)(source, staging);
  } catch (error) {
    if (error instanceof RefusedError || staging.signal?.aborted) throw error;
    throw new RefusedError(`Backup ${manifest.id} cannot be read: ${(error as Error).message}. Nothing was changed.`);
  }
}
