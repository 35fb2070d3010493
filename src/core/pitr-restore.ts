import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DatabaseTarget } from '../config/database-url.js';
import type { NamedDatabase } from '../config/databases.js';
import { findPostgresServer, prepareDataDir, serverAccount, startTemporaryServer, waitForPromotion, type TemporaryServer } from '../engines/pg-server.js';
import { DbguardError, RefusedError, UsageError } from '../errors.js';
import type { Compression } from '../pipeline/compression.js';
import { digestFile } from '../pipeline/digest.js';
import type { DecryptionKeys, EncryptionKeys } from '../pipeline/encryption.js';
import type { StoredBackup } from '../storage/manifest.js';
import { backup } from './backup.js';
import { plainSource } from './codec.js';
import { type PostgresDatabase, baseBackupsOf, requirePostgres, walArchiveOf } from './pitr.js';
import { planRecovery, restorableWindow } from './pitr-window.js';
import { compareTableCounts } from './table-counts.js';
import { engineFor } from '../engines/index.js';
import type { TableCounts } from '../engines/types.js';
import { type RestorePlan, type RestoreResult, type RestoreStep, restoreFromFile } from './restore.js';
import { type BackupSources, openSources } from './sources.js';
import type { ListedBackup } from './find-backup.js';
import { isProcessAlive } from '../storage/fs-atomic.js';
import { stageRemote } from './remote.js';
import type { WalArchive } from './wal-archive.js';
import type { StoredWal } from '../storage/wal-store.js';

export type PitrStep =
  | { step: 'planned'; baseId: string; segments: number }
  | { step: 'recovering' }
  | { step: 'recovered'; lastTransaction: string | null }
  | RestoreStep;

export interface RestoreAtOptions {
  /** The database whose base backups and WAL are used. */
  database: NamedDatabase;
  at: Date;
  /** Where the database as it was at `at` goes (the source database itself, or `--to`). */
  target: DatabaseTarget;
  dir: string;
  confirm: (plan: RestorePlan & { at: string }) => Promise<boolean>;
  decryption?: DecryptionKeys | undefined;
  safetyBackup?: { compression?: Compression | undefined; encryption?: EncryptionKeys | undefined } | undefined;
  requiredTables?: string[] | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((step: PitrStep) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface RestoreAtResult extends RestoreResult {
  at: string;
  baseId: string;
  segments: number;
  /** The commit time of the last transaction replayed, as the server logged it. */
  lastTransaction: string | null;
}

/**
 * The database as it was at `at`: the newest base backup before it and the WAL after it (checksums checked) are
 * unpacked privately, a temporary server of the same major version recovers to `at` on a private socket, its
 * database is dumped and restored into the target through the all-or-nothing restore. The temporary server and
 * every staged file are removed however this ends (failure, Ctrl-C).
 */
export async function restoreAt(options: RestoreAtOptions): Promise<RestoreAtResult> {
  const database = requirePostgres(options.database);
  if (options.target.engine !== 'postgres') throw new UsageError('A point-in-time recovery restores into a PostgreSQL database.');
  const { signal } = options;
  return withRecoveredCopy({ ...options, database }, async (copy, recovered) => {
    const dumped = await backup({
      target: copy.target,
      dir: path.join(copy.runDir, 'dump'),
      type: 'manual',
      label: 'point-in-time',
      description: copy.target.display,
      compression: { algorithm: 'none' },
      retention: false,
      remoteMode: 'none',
      signal,
    });
    await copy.stop();
    const result = await restoreFromFile(dumped, {
      dir: options.dir,
      target: options.target,
      confirm: (plan) => options.confirm({ ...plan, at: options.at.toISOString() }),
      safetyBackup: options.safetyBackup,
      requiredTables: options.requiredTables,
      signal,
      onStep: options.onStep,
    });
    return { ...result, at: options.at.toISOString(), ...recovered };
  });
}

export interface PitrVerification {
  database: string;
  /** The moment recovered to: the newest restorable point. */
  at: string;
  baseId: string;
  segments: number;
  lastTransaction: string | null;
  recovered: TableCounts;
  live: TableCounts;
  /** Tables whose row counts differ (writes after `at` explain some). */
  differences: string[];
  ok: boolean;
}

/**
 * Recovers the newest restorable point into a temporary server and compares its row counts with the live database's:
 * the base backups and the WAL archive restore what the database holds.
 */
export async function verifyPitr(options: Pick<RestoreAtOptions, 'database' | 'dir' | 'decryption' | 'signal' | 'onStep' | 'env'>): Promise<PitrVerification> {
  const database = requirePostgres(options.database);
  const [bases, { objects }] = await Promise.all([baseBackupsOf(database, options.dir), walArchiveOf(database, options.dir).list()]);
  const newest = restorableWindow(bases, objects).newest;
  if (!newest) throw new DbguardError(`Nothing to verify: ${database.name} has no restorable window yet.`, { hint: 'Run `dbguard pitr enable` and `dbguard serve`.' });
  const at = new Date(newest);
  return withRecoveredCopy({ ...options, database, at }, async (copy, recovered) => {
    const counts = await engineFor(copy.target).countRows();
    const live = await engineFor(database.target).countRows();
    const differences = compareTableCounts(live, counts, [...new Set([...Object.keys(live), ...Object.keys(counts)])].sort()).map((d) =>
      d.replace(': not in the backup', ': not in the live database').replace('expected', 'live'),
    );
    return { database: database.name, at: newest, ...recovered, recovered: counts, live, differences, ok: differences.length === 0 };
  });
}

interface RecoveredCopy {
  target: DatabaseTarget & { engine: 'postgres' };
  /** A private folder for the caller's files, removed with the copy. */
  runDir: string;
  stop(): Promise<void>;
}

/**
 * The database as it was at `at`, in a temporary server, given to `fn`: the newest base backup before it and the WAL
 * after it (checksums checked) are unpacked privately, and the server recovers to `at` on a private socket. The
 * server and every staged file are removed however this ends (failure, Ctrl-C).
 */
async function withRecoveredCopy<T>(
  options: Pick<RestoreAtOptions, 'at' | 'dir' | 'decryption' | 'signal' | 'onStep' | 'env'> & { database: PostgresDatabase },
  fn: (copy: RecoveredCopy, recovered: { baseId: string; segments: number; lastTransaction: string | null }) => Promise<T>,
): Promise<T> {
  const { database, signal } = options;
  const archive = walArchiveOf(database, options.dir);
  const [bases, { objects }] = await Promise.all([baseBackupsOf(database, options.dir), archive.list()]);
  const { run, segments } = planRecovery(bases, objects, options.at);
  const base = run.base;
  const binary = await findPostgresServer(Number(base.manifest.serverVersion.split('.')[0]), options.env);
  const account = await serverAccount();
  options.onStep?.({ step: 'planned', baseId: base.manifest.id, segments: segments.length });

  const sources = openSources({ dir: options.dir, remote: database.backup.remote });
  const store = sources.local;
  // As root the server runs as `postgres`, which cannot enter the private backups folder: its files go to a private temporary folder.
  const parent = account ? os.tmpdir() : await store.stagingDir();
  await removeLeftovers(parent);
  await store.cleanupInterrupted();
  const runDir = await fs.mkdtemp(path.join(parent, `${process.pid}-pitr-`));
  const socketDir = await fs.mkdtemp(path.join(os.tmpdir(), `dbguard-pg-${process.pid}-`)); // short: a socket path has ~100 bytes
  let server: TemporaryServer | undefined;
  try {
    const dataDir = path.join(runDir, 'data');
    const walDir = path.join(runDir, 'wal');
    await fs.mkdir(dataDir, { mode: 0o700 });
    await fs.mkdir(walDir, { mode: 0o700 });
    await unpackBase(await localCopy(base, sources, signal), dataDir, options.decryption, account, signal);
    for (const stored of segments) await unpackCurrent(archive, stored, path.join(walDir, stored.object.segment), options.decryption, signal);
    await prepareDataDir(dataDir);
    if (account) await chownTree([runDir, socketDir], account);
    signal?.throwIfAborted();

    options.onStep?.({ step: 'recovering' });
    const settings = {
      restore_command: 'cp "../wal/%f" "%p"', // run in the data folder
      recovery_target_timeline: 'current',
      // PostgreSQL's own form: it refuses ISO 8601's "T...Z" here.
      recovery_target_time: options.at.toISOString().replace('T', ' ').replace('Z', '+00'),
      recovery_target_action: 'promote',
    };
    const user = database.target.connection.user ?? 'postgres';
    server = startTemporaryServer({ binary, dataDir, socketDir, settings, account });
    let outcome = await waitForPromotion(server, user, signal);
    if (!outcome.promoted && outcome.targetNotReached) {
      // No commit after `at` in the WAL: every commit it holds is from before `at`, so replaying all of it is `at`.
      const { recovery_target_time: _, recovery_target_action: __, ...untargeted } = settings;
      server = startTemporaryServer({ binary, dataDir, socketDir, settings: untargeted, account });
      outcome = await waitForPromotion(server, user, signal);
    }
    if (!outcome.promoted) {
      throw new DbguardError(`The temporary PostgreSQL server could not recover to ${options.at.toISOString()}. Nothing was changed:\n  ${lastLines(server.log())}`);
    }
    const log = server.log();
    const lastTransaction = /last completed transaction was at log time (.+)$/m.exec(log)?.[1] ?? /recovery stopping (?:before|after) commit of transaction \d+, time (.+)$/m.exec(log)?.[1] ?? null;
    options.onStep?.({ step: 'recovered', lastTransaction });
    const running = server;
    const copy: RecoveredCopy = {
      target: {
        engine: 'postgres',
        connection: { host: socketDir, port: running.port, user, password: undefined, database: database.target.connection.database, sslmode: undefined },
        schema: undefined,
        display: `${database.name} as it was at ${options.at.toISOString()}`,
      },
      runDir,
      stop: () => running.stop(),
    };
    return await fn(copy, { baseId: base.manifest.id, segments: segments.length, lastTransaction });
  } finally {
    await server?.stop();
    await fs.rm(runDir, { recursive: true, force: true });
    await fs.rm(socketDir, { recursive: true, force: true });
  }
}

/**
 * serve may replace a partial segment (by a newer capture, or by the finished segment) while it is being read: the
 * newer object of the same segment holds everything the older one did.
 */
async function unpackCurrent(archive: WalArchive, stored: StoredWal, dest: string, keys: DecryptionKeys | undefined, signal?: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await archive.unpack(stored, dest, keys, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !stored.object.partial || attempt >= 5) throw error;
      const { objects } = await archive.list();
      const same = objects.filter((o) => o.object.segment === stored.object.segment);
      const next = same.find((o) => !o.object.partial) ?? same[0];
      if (!next) throw error;
      stored = next;
    }
  }
}

/**
 * The base backup as a local file: its local copy, or the bucket's downloaded into the staging folder (checksum
 * checked as it streams), removed once unpacked.
 */
async function localCopy(base: StoredBackup & Partial<Pick<ListedBackup, 'copies'>>, sources: BackupSources, signal?: AbortSignal): Promise<{ stored: StoredBackup; dispose: () => Promise<void> }> {
  const remote = base.copies?.remote ?? (base.location === 'remote' ? base : undefined);
  if (base.location === 'local' || !remote || !sources.remote) return { stored: base, dispose: async () => {} };
  const { staged, dispose } = await stageRemote(sources.local, sources.remote, remote, { signal });
  return { stored: staged, dispose };
}

/** Checks the base backup's checksum, then unpacks its tar into `dataDir`. */
async function unpackBase(
  copy: { stored: StoredBackup; dispose: () => Promise<void> },
  dataDir: string,
  keys: DecryptionKeys | undefined,
  account: { uid: number; gid: number } | undefined,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await unpackTar(copy.stored, dataDir, keys, account, signal);
  } finally {
    await copy.dispose();
  }
}

async function unpackTar(base: StoredBackup, dataDir: string, keys: DecryptionKeys | undefined, account: { uid: number; gid: number } | undefined, signal?: AbortSignal): Promise<void> {
  const actual = await digestFile(base.file, undefined, signal);
  if (actual.sha256 !== base.manifest.sha256 || actual.size !== base.manifest.size) {
    throw new RefusedError(`Base backup ${base.manifest.id} is corrupted: its checksum does not match the manifest. Nothing was changed.`, 'Pick a moment after a later base backup.');
  }
  const source = plainSource(base, keys);
  const input: Readable = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : await source.open();
  const { extract } = await import('tar');
  const unpacker = extract({ cwd: dataDir, strict: true, ...(account ? { uid: account.uid, gid: account.gid, preserveOwner: false } : {}) });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      input.destroy();
      reject(signal?.aborted ? error : new DbguardError(`Base backup ${base.manifest.id} could not be unpacked: ${error.message}`));
    };
    unpacker.once('error', fail);
    input.once('error', fail);
    signal?.addEventListener('abort', () => fail(new Error('cancelled')), { once: true });
    unpacker.once('close', resolve);
    input.pipe(unpacker as unknown as NodeJS.WritableStream);
  });
  await fs.access(path.join(dataDir, 'backup_label')).catch(() => {
    throw new DbguardError(`Base backup ${base.manifest.id} has no backup_label: it is not a pg_basebackup archive.`);
  });
}

/** What a killed recovery (kill -9) left: its temporary server is stopped, its folders removed. */
async function removeLeftovers(parent: string): Promise<void> {
  const leftovers = [
    ...(await fs.readdir(parent).catch(() => [] as string[])).filter((n) => /^\d+-pitr-/.test(n)).map((n) => ({ dir: path.join(parent, n), pid: Number(n.split('-')[0]) })),
    ...(await fs.readdir(os.tmpdir()).catch(() => [] as string[])).filter((n) => /^dbguard-pg-\d+-/.test(n)).map((n) => ({ dir: path.join(os.tmpdir(), n), pid: Number(n.split('-')[2]) })),
  ];
  for (const { dir, pid } of leftovers) {
    if (isProcessAlive(pid)) continue;
    const postmaster = Number((await fs.readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
    if (postmaster > 0 && isProcessAlive(postmaster)) {
      const command = await fs.readFile(`/proc/${postmaster}/cmdline`, 'utf8').catch(() => '');
      if (command === '' || command.includes('postgres')) process.kill(postmaster, 'SIGQUIT');
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function chownTree(roots: string[], account: { uid: number; gid: number }): Promise<void> {
  for (const root of roots) {
    await fs.chown(root, account.uid, account.gid);
    for (const entry of await fs.readdir(root, { recursive: true })) await fs.chown(path.join(root, entry), account.uid, account.gid);
  }
}

function lastLines(log: string): string {
  return log.trim().split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l)).slice(-5).join('\n  ') || log.trim().split('\n').slice(-5).join('\n  ');
}
