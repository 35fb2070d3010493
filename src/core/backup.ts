import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type DatabaseTarget, databaseName, engineName } from '../config/database-url.js';
import { engineFor, engineTraits } from '../engines/index.js';
import type { DatabaseEngine, Dump, ProgressListener, TableCounts } from '../engines/types.js';
import { DbguardError, ExitCode, UsageError } from '../errors.js';
import { type Compression, availableCompression, compressionExtension, createCompressor } from '../pipeline/compression.js';
import { DigestTap, digestFile } from '../pipeline/digest.js';
import { type EncryptionKeys, encryptStream, hasEncryptionKeys, validateRecipients } from '../pipeline/encryption.js';
import type { AttemptScope, LocalBackupStore, Reservation } from '../storage/local-store.js';
import type { S3BackupStore } from '../storage/s3-store.js';
import type { RemoteSettings } from '../config/remote.js';
import { copyToRemote, reasonOf } from './remote.js';
import { openSources } from './sources.js';
import { DBGUARD_VERSION } from '../version.js';
import { chain } from './codec.js';
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
   * dbguard's compression, zstd by default. For PostgreSQL, gzip[:level] and none are passed to pg_dump (never
   * compressed twice); zstd turns pg_dump's off and compresses the archive with zstd.
   */
  compression?: Compression | undefined;
  /**
   * PostgreSQL: parallel pg_dump jobs. The dump is written in pg_dump's directory format (one file per table, so
   * tables are dumped side by side) and stored as one tar file.
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
  /**
   * The bucket for off-machine copies. The backup is copied there once complete locally, or, with `keepLocal: false`
   * (or `remoteMode: 'only'`), streamed straight into it and never written to the local disk.
   */
  remote?: RemoteSettings | undefined;
  /** `copy` (default with a remote), `only` (no local copy), `none` (this backup stays local). */
  remoteMode?: 'copy' | 'only' | 'none' | undefined;
  /** Bytes uploaded so far (the remote copy of a local backup). */
  onUploadProgress?: ((bytes: number) => void) | undefined;
  /** Base backups: their WAL positions, known once the dump completed. */
  base?: (() => BackupManifest['base']) | undefined;
}

export interface BackupResult extends StoredBackup {
  /** Leftovers of interrupted runs removed before this backup. */
  cleanedUp: string[];
  /** Backups deleted by the retention policy afterwards. */
  pruned: string[];
  /** Folder size over the warning size, disk nearly full. */
  warnings: string[];
  /** Where the backup is now. */
  where: 'local' | 'remote' | 'local+remote';
  /** Remote backups deleted by the remote retention policy afterwards. */
  prunedRemote: string[];
}

/**
 * The backup is complete locally but its copy to the bucket failed: the failed attempt is recorded (so pruning
 * holds) and `dbguard push <id>` retries it.
 */
export class RemoteCopyError extends DbguardError {
  constructor(
    readonly backup: BackupResult,
    reason: string,
    cause: unknown,
  ) {
    super(`local backup ok, remote copy failed: ${reason}; run dbguard push ${backup.manifest.id} to retry`, { cause, exitCode: causeExitCode(cause) });
    this.name = 'RemoteCopyError';
  }
}

function causeExitCode(cause: unknown) {
  return cause instanceof DbguardError && cause.exitCode === ExitCode.usage ? ExitCode.usage : ExitCode.failed;
}

export { DEFAULT_BACKUP_DIR } from './defaults.js';

/**
 * Takes a backup: dumps through the checksum into a temporary file, fsyncs, renames, then writes the manifest.
 * Until the manifest exists the backup is invisible; a failure or cancellation removes everything it wrote.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const engine = options.engine ?? engineFor(options.target);
  const { local: store, remote } = openSources(options.remoteMode === 'none' ? { dir: options.dir } : options);
  const mode = !remote ? 'none' : (options.remoteMode ?? (options.remote?.keepLocal === false ? 'only' : 'copy'));
  const now = options.now ?? (() => new Date());
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  const recordAttempt = async (attempt: { at: string; ok: boolean; error?: string }, scopes: AttemptScope[]) => {
    for (const scope of scopes) await store.recordAttempt(databaseKey, attempt, scope).catch(() => {});
  };
  let taken: StoredBackup & { cleanedUp: string[] };
  try {
    taken = await takeBackup(engine, store, mode === 'only' ? remote : undefined, now, options);
  } catch (error) {
    if (!options.signal?.aborted) await recordAttempt({ at: now().toISOString(), ok: false, error: (error as Error).message }, mode === 'none' ? ['local'] : ['local', 'remote']);
    throw error;
  }
  await recordAttempt({ at: taken.manifest.createdAt, ok: true }, mode === 'only' ? ['local', 'remote'] : ['local']);
  // The backup is complete from here on: what follows can only warn (or, for the remote copy, report), never undo it.
  const warnings: string[] = [];
  let pruned: string[] = [];
  let prunedRemote: string[] = [];
  const retention = options.retention === false ? undefined : options.retention;
  const result = (): BackupResult => ({ ...taken, pruned, prunedRemote, warnings, where: mode === 'only' ? 'remote' : mode === 'copy' && taken.manifest.remote ? 'local+remote' : 'local' });
  if (mode === 'copy') {
    try {
      const copied = await copyToRemote(store, remote!, taken, { signal: options.signal, onProgress: options.onUploadProgress, now });
      taken = { ...taken, manifest: copied.manifest };
      await recordAttempt({ at: now().toISOString(), ok: true }, ['remote']);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      await recordAttempt({ at: now().toISOString(), ok: false, error: `remote copy failed: ${reasonOf(error)}` }, ['local', 'remote']);
      throw new RemoteCopyError(result(), reasonOf(error), error);
    }
  }
  if (retention) {
    try {
      // Base backups are pruned where their WAL archive is known (a base backup, `dbguard prune`): the window may need one.
      const notBase = (b: StoredBackup) => b.manifest.type !== 'base';
      const outcome = await prune({ dir: store.root, policies: retention.policies, timeZone: retention.timeZone, now, remote: mode === 'none' ? undefined : options.remote, filter: notBase });
      pruned = outcome.deleted;
      prunedRemote = outcome.remote?.deleted ?? [];
    } catch (error) {
      warnings.push(`The retention policy was not applied: ${(error as Error).message}`);
    }
  }
  if (mode !== 'only') {
    const { backups } = await store.list();
    const totalBytes = backups.reduce((sum, b) => sum + b.manifest.size, 0);
    warnings.push(...(await storageWarnings(store.root, totalBytes, taken.manifest.size, options.sizeWarningBytes ?? DEFAULT_SIZE_WARNING_MB * 1024 * 1024)));
  }
  return result();
}

async function takeBackup(
  engine: DatabaseEngine,
  store: LocalBackupStore,
  remoteOnly: S3BackupStore | undefined,
  now: () => Date,
  options: BackupOptions,
): Promise<StoredBackup & { cleanedUp: string[] }> {
  const type = options.type ?? 'manual';

  const encryption = hasEncryptionKeys(options.encryption) ? { ...options.encryption, recipients: validateRecipients(options.encryption.recipients) } : undefined;
  if (options.jobs !== undefined && options.jobs > 1 && !engineTraits(engine.kind).parallelJobs) {
    throw new UsageError(`--jobs is for PostgreSQL backups; a ${engine.kind === 'sqlite' ? 'SQLite snapshot is one file copy' : `${engineName(engine.kind)} dump is one stream`}.`);
  }
  // Independent checks side by side: each is a round trip (a connection, the disk) and none needs the others.
  const [plan, { serverVersion }, cleanedUp] = await Promise.all([planCompression(engine, options), engine.probe(), store.cleanupInterrupted()]);
  const createdAt = now();
  const { format, extension: formatExtension } = engine.dumpFormat({ jobs: options.jobs });
  const extension = `${formatExtension}${compressionExtension(plan.outer.algorithm)}${encryption ? '.age' : ''}`;
  const reservation = await reserveId(store, remoteOnly, type, backupIdCandidates(databaseName(options.target), createdAt, options.label), extension);
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
    const sink: Sink = remoteOnly ? { kind: 'remote', store: remoteOnly, key: remoteOnly.dataKey(type, reservation.fileName) } : { kind: 'file', path: reservation.partialPath };
    const { sha256, size, tables, lockedUntil } = await writeDump(dump, sink, plan.outer, encryption, options);
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
      ...(options.base ? { base: options.base() } : {}),
    };
    options.signal?.throwIfAborted();
    if (sink.kind === 'remote') {
      const uploaded: BackupManifest = {
        ...manifest,
        remote: { url: sink.store.display, key: sink.key, size, uploadedAt: now().toISOString(), lockedUntil },
      };
      try {
        await sink.store.putManifest(uploaded, options.signal);
      } catch (error) {
        // Without its manifest the data object is not a backup: remove it (a locked one stays unlisted until its date).
        await sink.store.remove({ manifest: uploaded, file: sink.key, manifestPath: sink.store.manifestKey(type, uploaded.id), location: 'remote' }).catch(() => {});
        throw error;
      }
      await store.release(reservation);
      return { manifest: uploaded, file: sink.key, manifestPath: sink.store.manifestKey(type, uploaded.id), location: 'remote', cleanedUp };
    }
    return { ...(await store.commit(reservation, manifest)), cleanedUp };
  } catch (error) {
    if (dump?.kind === 'stream') dump.cancel();
    await store.release(reservation);
    throw describeBackupError(error, options.signal);
  }
}

/** A free id locally and, for a backup that goes straight to the bucket, there too. */
async function reserveId(store: LocalBackupStore, remote: S3BackupStore | undefined, type: BackupType, candidates: Iterable<string>, extension: string): Promise<Reservation> {
  const ids: string[] = [];
  for (const id of candidates) {
    if (ids.push(id) >= 50) break; // the candidates never end
  }
  for (let i = 0; i < ids.length; i++) {
    const reservation = await store.reserve(type, ids.slice(i), extension);
    const taken = await remote?.findManifest(type, reservation.id).catch(async (error: unknown) => {
      await store.release(reservation);
      throw error;
    });
    if (!taken) return reservation;
    await store.release(reservation);
    i = ids.indexOf(reservation.id);
  }
  throw new DbguardError(`Could not find a free backup id in ${remote?.display ?? store.root}.`);
}

/** Where a backup's bytes go: the partial file of a local reservation, or an object in the bucket. */
export type Sink = { kind: 'file'; path: string } | { kind: 'remote'; store: S3BackupStore; key: string };

/**
 * zstd level 3 for every engine. For PostgreSQL it replaces pg_dump's gzip (pg_dump -Z0, zstd around the archive):
 * on the benchmark's databases 2-3x less CPU and a smaller file, on data that compresses well and on data that does
 * not (pg_dump 15, the oldest supported client, has no zstd of its own).
 */
const DEFAULT_COMPRESSION: Compression = { algorithm: 'zstd' };

/** Which compression dbguard applies itself, and which level pg_dump gets. */
async function planCompression(
  engine: DatabaseEngine,
  options: BackupOptions,
): Promise<{ outer: Compression; nativeLevel: number | undefined }> {
  const warn = options.onWarning ?? (() => {});
  const wanted = options.compression;
  const chosen = wanted ?? DEFAULT_COMPRESSION;
  if (!engineTraits(engine.kind).nativeCompression) return { outer: await availableCompression(chosen, warn), nativeLevel: undefined };
  if (chosen.algorithm === 'none') return { outer: chosen, nativeLevel: 0 };
  if (chosen.algorithm === 'gzip') return { outer: { algorithm: 'none' }, nativeLevel: chosen.level ?? 6 };
  const outer = await availableCompression(chosen, warn);
  return outer.algorithm === 'zstd' ? { outer, nativeLevel: 0 } : { outer: { algorithm: 'none' }, nativeLevel: 6 };
}

/** Streams the dump through compression, encryption and the checksum into the partial file. */
export async function writeDump(
  dump: Dump,
  sink: Sink,
  compression: Compression,
  encryption: EncryptionKeys | undefined,
  options: Pick<BackupOptions, 'onProgress' | 'signal'>,
): Promise<{ sha256: string; size: number; tables: TableCounts; lockedUntil: string | null }> {
  if (sink.kind === 'file' && dump.kind === 'file' && compression.algorithm === 'none' && !encryption) {
    await fs.rename(dump.path, sink.path);
    await fs.chmod(sink.path, 0o600);
    const { sha256, size } = await digestFile(sink.path);
    return { sha256, size, tables: dump.tables, lockedUntil: null };
  }
  const source: Readable = dump.kind === 'file' ? createReadStream(dump.path, { highWaterMark: 1 << 20 }) : dump.stream;
  const reading = dump.kind === 'file' && options.onProgress ? readingProgress((await fs.stat(dump.path)).size, options.onProgress) : undefined;
  let stored = chain(source, reading, await createCompressor(compression, dump.kind === 'file' ? 'all' : 'spare'));
  if (encryption) stored = await encryptStream(stored, encryption);
  const tap = new DigestTap(dump.kind === 'stream' ? options.onProgress : undefined);
  let lockedUntil: string | null = null;
  const written =
    sink.kind === 'file'
      ? pipeline(stored, tap, createWriteStream(sink.path, { flags: 'wx', mode: 0o600 }), { signal: options.signal })
      : sink.store.upload(sink.key, chain(stored, tap), { signal: options.signal }).then((uploaded) => void (lockedUntil = uploaded.lockedUntil));
  const tables = dump.kind === 'file' ? (await written, dump.tables) : (await Promise.all([written, dump.completed]))[1].tables;
  if (dump.kind === 'file') await fs.rm(dump.path, { force: true });
  return { sha256: tap.digest(), size: tap.bytes, tables, lockedUntil };
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
