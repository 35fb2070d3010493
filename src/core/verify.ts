import { type DatabaseTarget, engineName } from '../config/database-url.js';
import { checkerFor, engineFor, engineTraits } from '../engines/index.js';
import type { DatabaseEngine, EngineKind, RestoreSource } from '../engines/types.js';
import { DbguardError, RefusedError, UsageError } from '../errors.js';
import { digestFile } from '../pipeline/digest.js';
import type { DecryptionKeys } from '../pipeline/encryption.js';
import { plainSource } from './codec.js';
import type { RemoteSettings } from '../config/remote.js';
import type { S3BackupStore } from '../storage/s3-store.js';
import { type CopyLocation, type ListedBackup, findBackup, listSources } from './find-backup.js';
import { remoteChecksum, stageRemote } from './remote.js';
import { type BackupSources, openSources, requireRemote } from './sources.js';
import { type BackupType, type StoredBackup, type Verification, isExportFormat } from '../storage/manifest.js';
import { checkExportFile } from './export-check.js';
import { compareTableCounts } from './table-counts.js';

export interface VerifyOptions {
  dir?: string | undefined;
  /** An id, `latest`, or `all`. */
  ref: string;
  type?: BackupType | undefined;
  /** PostgreSQL: restore into a scratch database on `target`'s server and compare row counts. */
  restoreTest?: boolean | undefined;
  /** Encrypted backups: also decrypt and check the content (needs `decryption`). */
  decrypt?: boolean | undefined;
  decryption?: DecryptionKeys | undefined;
  /** Parallel pg_restore jobs for the restore test. */
  jobs?: number | undefined;
  /** Stops the verification (Ctrl-C): nothing is recorded, a scratch database is dropped. */
  signal?: AbortSignal | undefined;
  /** The server for a PostgreSQL restore test. */
  target?: DatabaseTarget | undefined;
  now?: (() => Date) | undefined;
  /** The bucket, when one is configured: backups found only there are downloaded to a private folder and checked. */
  remote?: RemoteSettings | undefined;
  /** Check this copy (default: the local one when there is one). */
  from?: CopyLocation | undefined;
  /** Only re-read the remote copy and compare its sha256, keeping no file (`verify --remote`). */
  remoteChecksumOnly?: boolean | undefined;
}

export interface VerifyResult {
  id: string;
  /** The local file, or the remote object's URL. */
  file: string;
  location: 'local' | 'remote';
  verification: Verification;
  /** Recorded in the local manifest (a remote manifest is written once and never changed). */
  recorded: boolean;
}

/** Verifies one backup, or every one with `ref: 'all'`, and records each result in its manifest. */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult[]> {
  const sources = openSources(options);
  const store = sources.local;
  const from = options.remoteChecksumOnly ? 'remote' : options.from;
  if (from === 'remote') requireRemote(sources);
  let targets: ListedBackup[];
  if (options.ref === 'all') {
    targets = (await listSources(sources, from)).backups.filter((b) => !options.type || b.manifest.type === options.type);
    if (targets.length === 0) throw new UsageError(`No backups to verify in ${from === 'remote' ? sources.remote!.display : store.root}.`);
  } else {
    targets = [await findBackup(sources, options.ref, { type: options.type, from })];
  }
  const results: VerifyResult[] = [];
  for (const listed of targets) {
    const local = from !== 'remote' ? listed.copies.local : undefined;
    const remoteCopy = listed.copies.remote;
    let verification: Verification;
    if (local) verification = await verifyOne(local, options, await store.stagingDir());
    else if (options.remoteChecksumOnly) verification = await verifyRemoteChecksum(sources.remote!, remoteCopy!, options.signal);
    else verification = await verifyStaged(sources, remoteCopy!, options);
    options.signal?.throwIfAborted(); // an interrupted check proves nothing either way: record nothing
    const now = (options.now ?? (() => new Date()))();
    if (local) await store.updateManifest(local, { ...local.manifest, verifiedAt: now.toISOString(), verification });
    results.push({
      id: listed.manifest.id,
      file: local ? local.file : sources.remote!.url(remoteCopy!.file),
      location: local ? 'local' : 'remote',
      verification,
      recorded: Boolean(local),
    });
  }
  return results;
}

/** The remote copy's sha256, streamed; nothing is kept. */
async function verifyRemoteChecksum(remote: S3BackupStore, stored: StoredBackup, signal: AbortSignal | undefined): Promise<Verification> {
  const actual = await remoteChecksum(remote, stored, signal);
  return checksumResult(stored.manifest, actual) ?? { ok: true, checksum: 'ok', readable: 'skipped', rowCounts: 'skipped', restoreTest: false, problems: [] };
}

/** The remote copy downloaded to the staging folder (checksum checked while it streams), then every local check. */
async function verifyStaged(sources: BackupSources, stored: StoredBackup, options: VerifyOptions): Promise<Verification> {
  let staged: Awaited<ReturnType<typeof stageRemote>>;
  try {
    staged = await stageRemote(sources.local, sources.remote!, stored, { signal: options.signal });
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    return { ok: false, checksum: 'mismatch', readable: 'skipped', rowCounts: 'skipped', restoreTest: false, problems: [error.message] };
  }
  try {
    return await verifyOne(staged.staged, options, await sources.local.stagingDir());
  } finally {
    await staged.dispose();
  }
}

function checksumResult(manifest: StoredBackup['manifest'], actual: { sha256: string; size: number }): Verification | undefined {
  if (actual.sha256 === manifest.sha256 && actual.size === manifest.size) return undefined;
  return {
    ok: false,
    checksum: 'mismatch',
    readable: 'skipped',
    rowCounts: 'skipped',
    restoreTest: false,
    problems: [
      `checksum mismatch: the file is ${actual.size} bytes with sha256 ${actual.sha256.slice(0, 16)}…, ` +
        `the manifest says ${manifest.size} bytes with ${manifest.sha256.slice(0, 16)}…`,
    ],
  };
}

async function verifyOne(stored: StoredBackup, options: VerifyOptions, stagingDir: string): Promise<Verification> {
  const { manifest } = stored;
  const problems: string[] = [];
  const result: Verification = { ok: false, checksum: 'ok', readable: 'skipped', rowCounts: 'skipped', restoreTest: false, problems };

  const mismatch = checksumResult(manifest, await digestFile(stored.file, undefined, options.signal));
  if (mismatch) return mismatch; // the bytes are not the ones written: nothing else about them can be trusted

  if (manifest.encryption && !options.decrypt) {
    // The checksum covers the encrypted bytes, so it is checked without the key; the content needs it.
    result.ok = true;
    return result;
  }
  const source: RestoreSource = plainSource(stored, options.decryption);
  try {
    const { format } = manifest;
    const { tables } = isExportFormat(format)
      ? await checkExportFile(source, format, options.signal)
      : await checkerFor(format)(source, { stagingDir, signal: options.signal });
    result.readable = 'ok';
    if (tables) {
      const differences = compareTableCounts(manifest.tables, tables);
      result.rowCounts = differences.length === 0 ? 'match' : 'mismatch';
      problems.push(...differences.map((d) => `row count ${d}`));
    }
  } catch (error) {
    if (options.signal?.aborted) throw error;
    result.readable = 'failed';
    problems.push(`unreadable: ${(error as Error).message}`);
    return result;
  }

  if (options.restoreTest && engineTraits(manifest.engine).restoreTest && manifest.format !== 'pg-base-tar') {
    const differences = await restoreTest(source, manifest.engine, manifest.tables, options.target, { jobs: options.jobs, stagingDir, signal: options.signal });
    result.restoreTest = true;
    result.rowCounts = differences.length === 0 ? 'match' : 'mismatch';
    problems.push(...differences.map((d) => `after a test restore, ${d}`));
  }
  result.ok = problems.length === 0;
  return result;
}

async function restoreTest(
  source: RestoreSource,
  engine: EngineKind,
  expected: Record<string, number>,
  target: DatabaseTarget | undefined,
  options: { jobs: number | undefined; stagingDir: string; signal: AbortSignal | undefined },
) {
  if (!target || target.engine !== engine) {
    throw new UsageError(
      `--restore-test needs a ${engineName(engine)} server to restore into a scratch database.`,
      `Pass --db <${engine === 'postgres' ? 'postgresql' : 'mysql'} url> (or set DATABASE_URL); the scratch database is created and dropped on that server.`,
    );
  }
  const server: DatabaseEngine = engineFor(target);
  const scratch = await server.createScratch();
  try {
    try {
      await scratch.engine.restore(source, options);
    } catch (error) {
      throw new DbguardError(`The test restore failed: ${(error as Error).message}`);
    }
    return compareTableCounts(expected, await scratch.engine.countRows());
  } finally {
    await scratch.drop();
  }
}
