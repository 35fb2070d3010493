import path from 'node:path';
import type { DatabaseTarget } from '../config/database-url.js';
import { backup } from '../core/backup.js';
import { DEFAULT_BACKUP_DIR } from '../core/defaults.js';
import { restore } from '../core/restore.js';
import { retentionDatabaseKey } from '../core/retention.js';
import { engineFor } from '../engines/index.js';
import { DbguardError, UsageError } from '../errors.js';
import type { Compression } from '../pipeline/compression.js';
import { type DecryptionKeys, type EncryptionKeys, hasEncryptionKeys } from '../pipeline/encryption.js';
import type { BackupManifest } from '../storage/manifest.js';
import { withDatabaseLock } from '../storage/target-lock.js';

export interface WithBackupOptions {
  target: DatabaseTarget;
  /** Backups folder; `./backups` by default. */
  dir?: string | undefined;
  /** The backup's label (e.g. the migration's name); `migration` by default. */
  label?: string | undefined;
  description?: string | undefined;
  /** Restore the backup when `fn` fails (default true); false keeps the failed state and only reports. */
  rollback?: boolean | undefined;
  backup?: { compression?: Compression | undefined; encryption?: EncryptionKeys | undefined } | undefined;
  /** Needed to roll back to an encrypted backup: without it, an encrypted run is refused before `fn` runs. */
  decryption?: DecryptionKeys | undefined;
  /** How long to wait for another guarded migration or restore of the same database (default 120 s). */
  lockTimeoutMs?: number | undefined;
  onStep?: ((step: WithBackupStep) => void) | undefined;
  /** Recorded in the backup's manifest (`dbguard migrate` knows the tool and its migrations). */
  migration?: BackupManifest['migration'];
}

export type WithBackupStep =
  /** Another guarded migration or restore of this database holds the lock: waiting for it (up to lockTimeoutMs). */
  | { step: 'waiting'; holder: string }
  | { step: 'backing-up' }
  /** null: the database does not exist yet, so there is nothing to back up. */
  | { step: 'backed-up'; id: string | null }
  | { step: 'running' }
  | { step: 'rolling-back'; id: string; error: unknown }
  | { step: 'rolled-back'; id: string };

export interface WithBackupResult<T> {
  result: T;
  backupId: string | null;
}

/** What happened to the database after `fn` failed; attached to the error `withBackup` throws, as `error.dbguard`. */
export interface RollbackReport {
  backupId: string | null;
  /**
   * `restored`: the database is exactly the backup again. `kept`: `rollback: false`, left as `fn` left it.
   * `failed`: the restore failed too (see `rollbackError`). `nothing-to-restore`: the database did not exist before.
   */
  rollback: 'restored' | 'kept' | 'failed' | 'nothing-to-restore';
  rollbackError?: Error | undefined;
}

const DEFAULT_LOCK_TIMEOUT_MS = 120_000;

/**
 * Guards a migration that runs in the application: takes a `migration` backup, runs `fn`, and returns its result
 * with the backup's id. When `fn` throws, the backup is restored exactly (what the migration created is dropped,
 * in the same transaction) and the original error is rethrown with a RollbackReport as `error.dbguard`. When the
 * rollback fails too, a DbguardError (with the original error as `cause`) says so and how to restore by hand.
 * Holds the same lock as `dbguard migrate` and `dbguard restore` on this database from start to end.
 */
export async function withBackup<T>(options: WithBackupOptions, fn: () => T | Promise<T>): Promise<WithBackupResult<T>> {
  const rollback = options.rollback ?? true;
  if (rollback && hasEncryptionKeys(options.backup?.encryption) && !options.decryption) {
    throw new UsageError(
      'Backups are encrypted and no identity was given, so a failed migration could not be rolled back. Nothing was run.',
      'Pass `decryption` (the age identity or passphrase), or `rollback: false`.',
    );
  }
  const engine = engineFor(options.target);
  const dir = path.resolve(options.dir ?? DEFAULT_BACKUP_DIR);
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  const waitMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  return withDatabaseLock(dir, databaseKey, 'migrate', async () => {
    let backupId: string | null = null;
    if (await engine.exists()) {
      options.onStep?.({ step: 'backing-up' });
      const taken = await backup({
        target: options.target,
        engine,
        dir,
        type: 'migration',
        label: options.label ?? 'migration',
        description: options.description,
        migration: options.migration,
        compression: options.backup?.compression,
        encryption: options.backup?.encryption,
      });
      backupId = taken.manifest.id;
    }
    options.onStep?.({ step: 'backed-up', id: backupId });

    options.onStep?.({ step: 'running' });
    try {
      return { result: await fn(), backupId };
    } catch (error) {
      if (!backupId) throw withReport(error, { backupId, rollback: 'nothing-to-restore' });
      if (!rollback) throw withReport(error, { backupId, rollback: 'kept' });
      options.onStep?.({ step: 'rolling-back', id: backupId, error });
      try {
        await restore({ ref: backupId, dir, target: options.target, engine, exact: true, confirm: async () => true, decryption: options.decryption });
      } catch (rollbackError) {
        const failed = new DbguardError(
          `The migration failed (${messageOf(error)}) and the automatic rollback failed too: ${messageOf(rollbackError)}`,
          { hint: `Restore by hand: dbguard restore ${backupId}`, cause: error },
        );
        throw withReport(failed, { backupId, rollback: 'failed', rollbackError: rollbackError as Error });
      }
      options.onStep?.({ step: 'rolled-back', id: backupId });
      throw withReport(error, { backupId, rollback: 'restored' });
    }
  }, { waitMs, display: options.target.display, onWait: (holder) => options.onStep?.({ step: 'waiting', holder }) });
}

/** The RollbackReport of an error thrown by `withBackup`, if it is one. */
export function rollbackReport(error: unknown): RollbackReport | undefined {
  return typeof error === 'object' && error !== null ? (error as { dbguard?: RollbackReport }).dbguard : undefined;
}

/** The same error with the report attached; a thrown value that cannot carry it (a string, a frozen object) is wrapped. */
function withReport(error: unknown, report: RollbackReport): unknown {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, 'dbguard', { value: report, configurable: true, writable: true });
    return error;
  }
  const wrapped = new DbguardError(`The migration failed: ${messageOf(error)}`, { cause: error });
  return withReport(wrapped, report);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
