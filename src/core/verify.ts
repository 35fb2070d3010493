import path from 'node:path';
import type { DatabaseTarget } from '../config/database-url.js';
import { checkerFor, engineFor } from '../engines/index.js';
import type { DatabaseEngine, RestoreSource } from '../engines/types.js';
import { DbguardError, UsageError } from '../errors.js';
import { digestFile } from '../pipeline/digest.js';
import type { DecryptionKeys } from '../pipeline/encryption.js';
import { plainSource } from './codec.js';
import { LocalBackupStore } from '../storage/local-store.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { findBackup } from './find-backup.js';
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
}

export interface VerifyResult {
  id: string;
  file: string;
  verification: Verification;
}

/** Verifies one backup, or every one with `ref: 'all'`, and records each result in its manifest. */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult[]> {
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  let targets: StoredBackup[];
  if (options.ref === 'all') {
    targets = (await store.list()).backups.filter((b) => !options.type || b.manifest.type === options.type);
    if (targets.length === 0) throw new UsageError(`No backups to verify in ${store.root}.`);
  } else {
    targets = [await findBackup(store, options.ref, { type: options.type })];
  }
  const results: VerifyResult[] = [];
  for (const stored of targets) {
    const verification = await verifyOne(stored, options, await store.stagingDir());
    options.signal?.throwIfAborted(); // an interrupted check proves nothing either way: record nothing
    const now = (options.now ?? (() => new Date()))();
    await store.updateManifest(stored, { ...stored.manifest, verifiedAt: now.toISOString(), verification });
    results.push({ id: stored.manifest.id, file: stored.file, verification });
  }
  return results;
}

async function verifyOne(stored: StoredBackup, options: VerifyOptions, stagingDir: string): Promise<Verification> {
  const { manifest } = stored;
  const problems: string[] = [];
  const result: Verification = { ok: false, checksum: 'ok', readable: 'skipped', rowCounts: 'skipped', restoreTest: false, problems };

  const actual = await digestFile(stored.file, undefined, options.signal);
  if (actual.sha256 !== manifest.sha256 || actual.size !== manifest.size) {
    result.checksum = 'mismatch';
    problems.push(
      `checksum mismatch: the file is ${actual.size} bytes with sha256 ${actual.sha256.slice(0, 16)}…, ` +
        `the manifest says ${manifest.size} bytes with ${manifest.sha256.slice(0, 16)}…`,
    );
    return result; // the bytes are not the ones written: nothing else about them can be trusted
  }

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

  if (options.restoreTest && manifest.engine === 'postgres') {
    const differences = await restoreTest(source, manifest.tables, options.target, { jobs: options.jobs, stagingDir, signal: options.signal });
    result.restoreTest = true;
    result.rowCounts = differences.length === 0 ? 'match' : 'mismatch';
    problems.push(...differences.map((d) => `after a test restore, ${d}`));
  }
  result.ok = problems.length === 0;
  return result;
}

async function restoreTest(
  source: RestoreSource,
  expected: Record<string, number>,
  target: DatabaseTarget | undefined,
  options: { jobs: number | undefined; stagingDir: string; signal: AbortSignal | undefined },
) {
  if (!target || target.engine !== 'postgres') {
    throw new UsageError(
      '--restore-test needs a PostgreSQL server to restore into a scratch database.',
      'Pass --db <postgresql url> (or set DATABASE_URL); the scratch database is created and dropped on that server.',
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
