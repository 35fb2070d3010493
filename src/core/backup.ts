import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type DatabaseTarget, databaseName } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import type { DatabaseEngine, Dump, ProgressListener, TableCounts } from '../engines/types.js';
import { DbguardError, UsageError } from '../errors.js';
import { type Compression, availableCompression, compressionExtension, createCompressor } from '../pipeline/compression.js';
import { DigestTap, digestFile } from '../pipeline/digest.js';
import { type EncryptionKeys, encryptStream, hasEncryptionKeys, validateRecipients } from '../pipeline/encryption.js';
import { LocalBackupStore, type Reservation } from '../storage/local-store.js';
import { DBGUARD_VERSION } from '../version.js';
import { chain } from './codec.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { backupIdCandidates } from './ids.js';
import { prune } from './prune.js';
import { type RetentionPolicies, retentionDatabaseKey } from './retention.js';
import { DEFAULT_SIZE_WARNING_MB, storageWarnings } from './storage-warnings.js';
import { type BackupManifest, type BackupType, MANIFEST_SCHEMA_VERSION, type StoredBackup } from '../storage/manifest.js';

export interface BackupOptions {
  target: DatabaseTarget;
  /** Backups folder; `./backups` by default. */
  dir?: string | undefined;
  type?: BackupType | undefined;
  label?: string | undefined;
  description?: string | undefined;
  /**
   * dbguard's compression. Default: zstd for SQLite; for PostgreSQL, pg_dump's own compression. For PostgreSQL,
   * gzip[:level] and none are passed to pg_dump (never compressed twice); zstd turns pg_dump's off and compresses
   * the archive with zstd.
   */
  compression?: Compression | undefined;
  /**
   * PostgreSQL: parallel pg_dump jobs. The dump is written in pg_dump's directory format (one file per table, so
   * tables are dumped and compressed side by side) and stored as one tar file.
   */
  jobs?: number | undefined;
  /** age recipients and/or passphrase; the backup is not encrypted when absent. */
  encryption?: EncryptionKeys | undefined;
  /** Recorded in the manifest of a migration backup. */
  migration?: BackupManifest['migration'];
  /** Non-fatal notices (e.g. zstd unavailable, fell back to gzip). */
  onWarning?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes written so far (see ProgressListener for the phases of a backup that takes a snapshot file first). */
  onProgress?: ProgressListener | undefined;
  now?: (() => Date) | undefined;
  engine?: DatabaseEngine | undefined;
  /** Prune by these policies after a successful backup (default policies when omitted); false disables it. */
  retention?: { policies?: RetentionPolicies | undefined; timeZone?: string | undefined } | false | undefined;
  /** Warn when the backups folder grows past this size (default 1 GB). */
  sizeWarningBytes?: number | undefined;
}

export interface BackupResult extends StoredBackup {
  /** Leftovers of interrupted runs removed before this backup. */
  cleanedUp: string[];
  /** Backups deleted by the retention policy afterwards. */
  pruned: string[];
  /** Folder size over the warning size, disk nearly full. */
  warnings: string[];
}

export { DEFAULT_BACKUP_DIR } from './defaults.js';

/**
 * Takes a backup: dumps through the checksum into a temporary file, fsyncs, renames, then writes the manifest.
 * Until the manifest exists the backup is invisible; a failure or cancellation removes everything it wrote.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const engine = options.engine ?? engineFor(options.target);
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const now = options.now ?? (() => new Date());
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  let taken: StoredBackup & { cleanedUp: string[] };
  try {
    taken = await takeBackup(engine, store, now, options);
  } catch (error) {
    if (!options.signal?.aborted) {
      await store.recordAttempt(databaseKey, { at: now().toISOString(), ok: false, error: (error as Error).message }).catch(() => {});
    }
    throw error;
  }
  await store.recordAttempt(databaseKey, { at: taken.manifest.createdAt, ok: true });
  // The backup is complete from here on: what follows can only warn, never fail it.
  const warnings: string[] = [];
  let pruned: string[] = [];
  if (options.retention !== false) {
    try {
      pruned = (await prune({ dir: store.root, policies: options.retention?.policies, timeZone: options.retention?.timeZone, now })).deleted;
    } catch (error) {
      warnings.push(`The retention policy was not applied: ${(error as Error).message}`);
    }
  }
  const { backups } = await store.list();
  const totalBytes = backups.reduce((sum, b) => sum + b.manifest.size, 0);
  warnings.push(...(await storageWarnings(store.root, totalBytes, taken.manifest.size, options.sizeWarningBytes ?? DEFAULT_SIZE_WARNING_MB * 1024 * 1024)));
  return { ...taken, pruned, warnings };
}

async function takeBackup(
  engine: DatabaseEngine,
  store: LocalBackupStore,
  now: () => Date,
  options: BackupOptions,
): Promise<StoredBackup & { cleanedUp: string[] }> {
  const type = options.type ?? 'manual';

  const encryption = hasEncryptionKeys(options.encryption) ? { ...options.encryption, recipients: validateRecipients(options.encryption.recipients) } : undefined;
  if (options.jobs !== undefined && options.jobs > 1 && engine.kind !== 'postgres') {
    throw new UsageError('--jobs is for PostgreSQL backups; a SQLite snapshot is one file copy.');
  }
  const plan = await planCompression(engine, options);
  const { serverVersion } = await engine.probe();
  const cleanedUp = await store.cleanupInterrupted();
  const createdAt = now();
  const { format, extension: formatExtension } = engine.dumpFormat({ jobs: options.jobs });
  const extension = `${formatExtension}${compressionExtension(plan.outer.algorithm)}${encryption ? '.age' : ''}`;
  const reservation = await store.reserve(type, backupIdCandidates(databaseName(options.target), createdAt, options.label), extension);
  const started = performance.now();
  let dump: Dump | undefined;
  try {
    options.signal?.throwIfAborted();
    dump = await engine.dump({
      scratchPath: reservation.scratchPath,
      signal: options.signal,
      onProgress: options.onProgress,
      nativeCompressionLevel: plan.nativeLevel,
      jobs: options.jobs,
    });
    if (dump.kind === 'stream') dump.completed.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    const { sha256, size, tables } = await writeDump(dump, reservation, plan.outer, encryption, options);
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
      format,
      compression: plan.outer.algorithm,
      encryption: encryption
        ? { algorithm: 'age', recipients: encryption.recipients, passphrase: encryption.recipients.length === 0 }
        : null,
      fileName: reservation.fileName,
      size,
      sha256,
      tables,
      durationMs: Math.round(performance.now() - started),
      dbguardVersion: DBGUARD_VERSION,
      ...(options.migration ? { migration: options.migration } : {}),
    };
    options.signal?.throwIfAborted();
    return { ...(await store.commit(reservation, manifest)), cleanedUp };
  } catch (error) {
    if (dump?.kind === 'stream') dump.cancel();
    await store.release(reservation);
    throw describeBackupError(error, options.signal);
  }
}

/** Which compression dbguard applies itself, and which level pg_dump gets. */
async function planCompression(
  engine: DatabaseEngine,
  options: BackupOptions,
): Promise<{ outer: Compression; nativeLevel: number | undefined }> {
  const warn = options.onWarning ?? (() => {});
  const wanted = options.compression;
  if (engine.kind !== 'postgres') return { outer: await availableCompression(wanted ?? { algorithm: 'zstd' }, warn), nativeLevel: undefined };
  if (!wanted) return { outer: { algorithm: 'none' }, nativeLevel: undefined };
  if (wanted.algorithm === 'none') return { outer: wanted, nativeLevel: 0 };
  if (wanted.algorithm === 'gzip') return { outer: { algorithm: 'none' }, nativeLevel: wanted.level ?? 6 };
  const outer = await availableCompression(wanted, warn);
  return outer.algorithm === 'zstd' ? { outer, nativeLevel: 0 } : { outer: { algorithm: 'none' }, nativeLevel: 6 };
}

/** Streams the dump through compression, encryption and the checksum into the partial file. */
export async function writeDump(
  dump: Dump,
  reservation: Reservation,
  compression: Compression,
  encryption: EncryptionKeys | undefined,
  options: Pick<BackupOptions, 'onProgress' | 'signal'>,
): Promise<{ sha256: string; size: number; tables: TableCounts }> {
  if (dump.kind === 'file' && compression.algorithm === 'none' && !encryption) {
    await fs.rename(dump.path, reservation.partialPath);
    await fs.chmod(reservation.partialPath, 0o600);
    const { sha256, size } = await digestFile(reservation.partialPath);
    return { sha256, size, tables: dump.tables };
  }
  const source: Readable = dump.kind === 'file' ? createReadStream(dump.path, { highWaterMark: 1 << 20 }) : dump.stream;
  const reading = dump.kind === 'file' && options.onProgress ? readingProgress((await fs.stat(dump.path)).size, options.onProgress) : undefined;
  let stored = chain(source, reading, await createCompressor(compression));
  if (encryption) stored = await encryptStream(stored, encryption);
  const tap = new DigestTap(dump.kind === 'stream' ? options.onProgress : undefined);
  const out = createWriteStream(reservation.partialPath, { flags: 'wx', mode: 0o600 });
  const written = pipeline(stored, tap, out, { signal: options.signal });
  const tables = dump.kind === 'file' ? (await written, dump.tables) : (await Promise.all([written, dump.completed]))[1].tables;
  if (dump.kind === 'file') await fs.rm(dump.path, { force: true });
  return { sha256: tap.digest(), size: tap.bytes, tables };
}

/** Progress of the second pass over a snapshot file: bytes read of its size. */
function readingProgress(total: number, onProgress: ProgressListener): Transform {
  let read = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length;
      onProgress(read, { phase: 'compressing', total });
      callback(null, chunk);
    },
  });
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
