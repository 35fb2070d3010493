import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type DatabaseTarget, databaseName } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import type { DatabaseEngine, Dump, TableCounts } from '../engines/types.js';
import { DbguardError } from '../errors.js';
import { DigestTap, digestFile } from '../pipeline/digest.js';
import { LocalBackupStore, type Reservation } from '../storage/local-store.js';
import { DBGUARD_VERSION } from '../version.js';
import { backupIdCandidates } from './ids.js';
import { type BackupManifest, type BackupType, MANIFEST_SCHEMA_VERSION, type StoredBackup } from './manifest.js';

export interface BackupOptions {
  target: DatabaseTarget;
  /** Backups folder; `./backups` by default. */
  dir?: string | undefined;
  type?: BackupType | undefined;
  label?: string | undefined;
  description?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes written so far. */
  onProgress?: ((bytes: number) => void) | undefined;
  now?: (() => Date) | undefined;
  engine?: DatabaseEngine | undefined;
}

export interface BackupResult extends StoredBackup {
  /** Leftovers of interrupted runs removed before this backup. */
  cleanedUp: string[];
}

export const DEFAULT_BACKUP_DIR = 'backups';

/**
 * Takes a backup: dumps through the checksum into a temporary file, fsyncs, renames, then writes the manifest.
 * Until the manifest exists the backup is invisible; a failure or cancellation removes everything it wrote.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const engine = options.engine ?? engineFor(options.target);
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const now = options.now ?? (() => new Date());
  const type = options.type ?? 'manual';

  const { serverVersion } = await engine.probe();
  const cleanedUp = await store.cleanupInterrupted();
  const createdAt = now();
  const reservation = await store.reserve(type, backupIdCandidates(databaseName(options.target), createdAt, options.label), engine.extension);
  const started = performance.now();
  let dump: Dump | undefined;
  try {
    options.signal?.throwIfAborted();
    dump = await engine.dump({ scratchPath: reservation.scratchPath, signal: options.signal, onProgress: options.onProgress });
    const { sha256, size, tables } = await writeDump(dump, reservation, options);
    const manifest: BackupManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      id: reservation.id,
      type,
      label: options.label ?? null,
      description: options.description ?? null,
      createdAt: createdAt.toISOString(),
      engine: engine.kind,
      serverVersion,
      database: engine.identity(),
      format: engine.format,
      compression: 'none',
      fileName: reservation.fileName,
      size,
      sha256,
      tables,
      durationMs: Math.round(performance.now() - started),
      dbguardVersion: DBGUARD_VERSION,
    };
    options.signal?.throwIfAborted();
    return { ...(await store.commit(reservation, manifest)), cleanedUp };
  } catch (error) {
    if (dump?.kind === 'stream') dump.cancel();
    await store.release(reservation);
    throw describeBackupError(error, options.signal);
  }
}

async function writeDump(
  dump: Dump,
  reservation: Reservation,
  options: BackupOptions,
): Promise<{ sha256: string; size: number; tables: TableCounts }> {
  if (dump.kind === 'file') {
    await fs.rename(dump.path, reservation.partialPath);
    await fs.chmod(reservation.partialPath, 0o600);
    const { sha256, size } = await digestFile(reservation.partialPath);
    return { sha256, size, tables: dump.tables };
  }
  const tap = new DigestTap(options.onProgress);
  const out = createWriteStream(reservation.partialPath, { flags: 'wx', mode: 0o600 });
  const [, { tables }] = await Promise.all([pipeline(dump.stream, tap, out, { signal: options.signal }), dump.completed]);
  return { sha256: tap.digest(), size: tap.bytes, tables };
}

function describeBackupError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return new DbguardError('Backup cancelled; nothing was kept.');
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new DbguardError('The disk is full: the backup could not be written, and its partial file was removed.', {
      hint: 'Free some space (or pass --dir to use another disk) and retry.',
      cause: error,
    });
  }
  return error;
}
