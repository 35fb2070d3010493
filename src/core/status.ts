import path from 'node:path';
import type { NamedDatabase } from '../config/databases.js';
import { nextRun } from '../config/schedule.js';
import { engineFor } from '../engines/index.js';
import type { EngineKind } from '../engines/types.js';
import { LocalBackupStore } from '../storage/local-store.js';
import { listSources } from './find-backup.js';
import { databaseFilter } from './list.js';
import { openSources } from './sources.js';
import type { BackupType, StoredBackup } from '../storage/manifest.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { retentionDatabaseKey } from './retention.js';
import { totalRows } from './table-counts.js';
import { type PitrStatus, pitrStatus } from './pitr.js';

export interface StatusOptions {
  databases: NamedDatabase[];
  dir?: string | undefined;
  now?: (() => Date) | undefined;
  /** Also ask the server and the WAL archive about point-in-time recovery (databases with `pitr`). */
  pitr?: boolean | undefined;
}

export interface PitrSummary {
  window: PitrStatus['window'];
  lagMs: number | null;
  maxLagMs: number;
  slot: string;
  server: PitrStatus['server'];
  maxSlotWalBytes: number;
  problems: string[];
}

export interface BackupSummary {
  id: string;
  type: BackupType;
  createdAt: string;
  ageMs: number;
  size: number;
  durationMs: number;
  rows: number;
}

export interface DatabaseStatus {
  name: string;
  engine: EngineKind;
  /** Safe to print: no credentials. */
  display: string;
  /** `fresh`: a good backup younger than maxAge and the last attempt ok; `failing`: the last attempt failed. */
  state: 'fresh' | 'stale' | 'failing';
  /** Newest backup of this database that did not fail verification (export backups excluded). */
  newestGood: BackupSummary | null;
  lastAttempt: { at: string; ok: boolean; error?: string | undefined } | null;
  lastVerification: { id: string; at: string; ok: boolean; restoreTest: boolean; problems: string[] } | null;
  nextBackup: string | null;
  nextVerify: string | null;
  maxAgeMs: number;
  /** Why the database is not fresh (empty when it is). */
  problems: string[];
  /** Point-in-time recovery, when configured and asked for; its problems are among `problems` too. */
  pitr?: PitrSummary | undefined;
}

/**
 * Per database: its newest good backup, last attempt, last verification and next scheduled runs, from the backups
 * folder alone (serve need not run).
 */
export async function backupStatus(options: StatusOptions): Promise<DatabaseStatus[]> {
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const now = (options.now ?? (() => new Date()))();
  const { backups } = await store.list();
  const attempts = await store.readAttempts();
  return Promise.all(
    options.databases.map(async (database) => {
      const engine = engineFor(database.target);
      const key = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
      const all = remoteOnly(database) ? await backupsWherever(store.root, database) : backups;
      const ours = databaseFilter(database.target);
      const own = all.filter((b) => ours(b.manifest));
      const status = statusOf(database, engine.kind, own, attempts[key] ?? null, now);
      return options.pitr && database.pitr ? withPitr(status, database, options.dir, now) : status;
    }),
  );
}

async function withPitr(status: DatabaseStatus, database: NamedDatabase, dir: string | undefined, now: Date): Promise<DatabaseStatus> {
  const pitr = database.pitr!;
  const found = await pitrStatus({ database, dir: path.resolve(dir ?? DEFAULT_BACKUP_DIR), now });
  const problems = pitrProblems(found, pitr);
  const summary: PitrSummary = { window: found.window, lagMs: found.lagMs, maxLagMs: pitr.maxLagMs, slot: found.slot, server: found.server, maxSlotWalBytes: pitr.maxSlotWalBytes, problems };
  const all = [...status.problems, ...problems.map((p) => `point-in-time recovery: ${p}`)];
  return { ...status, problems: all, state: status.state === 'fresh' && all.length > 0 ? 'stale' : status.state, pitr: summary };
}

/** A database whose backups go straight to the bucket has nothing local to judge its freshness by. */
function remoteOnly(database: Pick<NamedDatabase, 'backup'>): boolean {
  return database.backup.remote?.keepLocal === false;
}

async function backupsWherever(dir: string, database: Pick<NamedDatabase, 'backup'>): Promise<StoredBackup[]> {
  return (await listSources(openSources({ dir, remote: database.backup.remote }))).backups;
}

function statusOf(
  database: NamedDatabase,
  engine: EngineKind,
  backups: StoredBackup[],
  lastAttempt: DatabaseStatus['lastAttempt'],
  now: Date,
): DatabaseStatus {
  // A base backup restores nothing without its WAL: it does not make a database fresh.
  const good = backups.find((b) => b.manifest.type !== 'export' && b.manifest.type !== 'base' && b.manifest.verification?.ok !== false);
  const verified = backups
    .filter((b) => b.manifest.verifiedAt)
    .sort((a, b) => b.manifest.verifiedAt!.localeCompare(a.manifest.verifiedAt!))[0];
  const newestGood = good ? summarize(good, now) : null;
  const problems: string[] = [];
  if (lastAttempt && !lastAttempt.ok) problems.push(`the last backup attempt (${lastAttempt.at}) failed: ${lastAttempt.error ?? 'unknown error'}`);
  if (!newestGood) problems.push('no good backup');
  else if (newestGood.ageMs > database.maxAgeMs) {
    problems.push(`the newest good backup is ${formatAge(newestGood.ageMs)} old (maxAge ${formatAge(database.maxAgeMs)})`);
  }
  return {
    name: database.name,
    engine,
    display: database.target.display,
    state: problems.length === 0 ? 'fresh' : lastAttempt && !lastAttempt.ok ? 'failing' : 'stale',
    newestGood,
    lastAttempt,
    lastVerification: verified
      ? {
          id: verified.manifest.id,
          at: verified.manifest.verifiedAt!,
          ok: verified.manifest.verification?.ok ?? false,
          restoreTest: verified.manifest.verification?.restoreTest ?? false,
          problems: verified.manifest.verification?.problems ?? [],
        }
      : null,
    nextBackup: database.schedule ? (nextRun(database.schedule, now)?.toISOString() ?? null) : null,
    nextVerify: database.verify ? (nextRun(database.verify, now)?.toISOString() ?? null) : null,
    maxAgeMs: database.maxAgeMs,
    problems,
  };
}

function summarize(stored: StoredBackup, now: Date): BackupSummary {
  const m = stored.manifest;
  return {
    id: m.id,
    type: m.type,
    createdAt: m.createdAt,
    ageMs: Math.max(0, now.getTime() - Date.parse(m.createdAt)),
    size: m.size,
    durationMs: m.durationMs,
    rows: totalRows(m.tables),
  };
}

/** `3d 4h`, `2h 5m`, `45s`: an age for people. */
export function formatAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const units: Array<[string, number]> = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const i = units.findIndex(([, size]) => seconds >= size);
  if (i < 0) return '0s';
  const [unit, size] = units[i]!;
  const next = units[i + 1];
  const rest = next ? Math.floor((seconds % size) / next[1]) : 0;
  return `${Math.floor(seconds / size)}${unit}${next && rest > 0 ? ` ${rest}${next[0]}` : ''}`;
}

/** The newest backup of `target`'s database (export and base backups excluded; in the bucket too when nothing is kept locally), or null. */
export async function newestBackupOf(options: { dir?: string | undefined; target: NamedDatabase['target']; backup?: NamedDatabase['backup'] | undefined }): Promise<StoredBackup | null> {
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const ours = databaseFilter(options.target);
  const backups = options.backup && remoteOnly({ backup: options.backup }) ? await backupsWherever(store.root, { backup: options.backup }) : (await store.list()).backups;
  return backups.find((b) => b.manifest.type !== 'export' && b.manifest.type !== 'base' && ours(b.manifest)) ?? null;
}

/** What is wrong with a database's point-in-time recovery: no window, a lag past maxLag, a hole, a slot at risk. */
export function pitrProblems(status: PitrStatus, pitr: NonNullable<NamedDatabase['pitr']>): string[] {
  const problems: string[] = [];
  const { window, server } = status;
  if (!window.newest) problems.push('no restorable window yet');
  else if (status.lagMs !== null && status.lagMs > pitr.maxLagMs) {
    problems.push(`the newest restorable point is ${formatAge(status.lagMs)} old (maxLag ${formatAge(pitr.maxLagMs)})`);
  }
  for (const hole of window.holes) problems.push(`WAL segments ${hole.from === hole.to ? hole.from : `${hole.from} to ${hole.to}`} are missing from the archive`);
  if ('error' in server) problems.push(`the server cannot be asked about the slot ${status.slot}: ${server.error}`);
  else if (!server.slotExists) problems.push(`the replication slot ${status.slot} is missing (run dbguard pitr enable)`);
  else {
    if (!server.active) problems.push(`nothing reads the replication slot ${status.slot} (is dbguard serve running?)`);
    if (server.retainedBytes !== null && server.retainedBytes > pitr.maxSlotWalBytes) {
      problems.push(`the slot ${status.slot} holds back ${megabytes(server.retainedBytes)} of WAL on the server (limit ${megabytes(pitr.maxSlotWalBytes)})`);
    }
  }
  return problems;
}

function megabytes(bytes: number): string {
  return `${Number((bytes / 1048576).toFixed(1))} MB`;
}
