import type { NamedDatabase } from '../config/databases.js';
import type { RemoteSettings } from '../config/remote.js';
import type { LocalBackupStore } from '../storage/local-store.js';
import type { BackupType, StoredBackup } from '../storage/manifest.js';
import type { S3BackupStore } from '../storage/s3-store.js';
import { S3WalStore } from '../storage/s3-wal-store.js';
import { LocalWalStore } from '../storage/wal-store.js';
import { databaseFilter } from './list.js';
import { basesTheWindowNeeds, isBase, restorableWindow, walBeforeBases } from './pitr-window.js';
import { type RetentionDecision, type RetentionPolicies, decideRetention, resolveRetentionPolicies, toRetentionCandidate } from './retention.js';
import { openSources } from './sources.js';

export interface PruneOptions {
  dir?: string | undefined;
  /** Per-type policies; each replaces that type's default. */
  policies?: RetentionPolicies | undefined;
  /** IANA time zone for daily/weekly/monthly buckets (default UTC). */
  timeZone?: string | undefined;
  dryRun?: boolean | undefined;
  now?: (() => Date) | undefined;
  /** The bucket: its copies are pruned by `remote.retention` (the local defaults when absent), separately. */
  remote?: RemoteSettings | undefined;
  /** Only this side (default: both). */
  only?: 'local' | 'remote' | undefined;
  /** Only backups whose manifest passes (e.g. one database's). */
  filter?: ((backup: StoredBackup) => boolean) | undefined;
  /**
   * Databases with point-in-time recovery: a base backup their restorable window needs is kept, the WAL no kept base
   * backup needs is deleted, and the window before and after is reported.
   */
  pitr?: NamedDatabase[] | undefined;
}

export interface WindowChange {
  database: string;
  before: { oldest: string | null; newest: string | null };
  after: { oldest: string | null; newest: string | null };
  /** WAL objects deleted (or that would be, on a dry run). */
  walDeleted: number;
  walFreedBytes: number;
}

export interface PruneDecision extends Omit<RetentionDecision, 'rule'> {
  rule: RetentionDecision['rule'] | 'locked' | 'pitr-window';
  type: BackupType;
  createdAt: string;
  size: number;
  file: string;
}

export interface PruneOutcome {
  decisions: PruneDecision[];
  /** Ids actually deleted (none on a dry run). */
  deleted: string[];
  freedBytes: number;
  /** The restorable window of each database with point-in-time recovery, before and after. */
  windows: WindowChange[];
}

export interface PruneResult extends PruneOutcome {
  /** The bucket's copies, when a remote is configured. */
  remote?: PruneOutcome | undefined;
}

/**
 * Applies the retention policies: every backup gets keep/delete and the rule that decided it. The safety rules
 * (newest good backup, failed latest attempt, recent migration backup, backups being restored) always win, on each
 * side; a remote object under Object Lock is never deleted before its date.
 */
export async function prune(options: PruneOptions = {}): Promise<PruneResult> {
  const { local, remote } = openSources(options);
  const now = (options.now ?? (() => new Date()))();
  const empty: PruneOutcome = { decisions: [], deleted: [], freedBytes: 0, windows: [] };
  const localOutcome = options.only === 'remote' ? empty : await pruneStore(local, local, options.policies, now, options, 'local');
  const remoteOutcome = remote && options.only !== 'local' ? await pruneStore(remote, local, options.remote?.retention ?? options.policies, now, options, 'remote') : undefined;
  return { ...localOutcome, remote: remoteOutcome };
}

async function pruneStore(
  store: LocalBackupStore | S3BackupStore,
  bookkeeping: LocalBackupStore,
  policies: RetentionPolicies | undefined,
  now: Date,
  options: PruneOptions,
  scope: 'local' | 'remote',
): Promise<PruneOutcome> {
  const backups = (await store.list()).backups.filter((b) => !options.filter || options.filter(b));
  const attempts = await bookkeeping.readAttempts(scope);
  const decisions = decideRetention(
    backups.map((b) => toRetentionCandidate(b.manifest)),
    resolveRetentionPolicies(policies),
    now,
    { inUse: await bookkeeping.idsBeingRead(), lastAttempts: new Map(Object.entries(attempts)), timeZone: options.timeZone },
  );
  const byId = new Map(backups.map((b) => [b.manifest.id, b]));
  const detailed = decisions.map((d): PruneDecision => {
    const stored = byId.get(d.id)!;
    const lockedUntil = scope === 'remote' ? stored.manifest.remote?.lockedUntil : undefined;
    const locked = d.action === 'delete' && lockedUntil && Date.parse(lockedUntil) > now.getTime();
    return {
      ...d,
      ...(locked ? { action: 'keep', rule: 'locked', reason: `locked until ${lockedUntil} (Object Lock)` } : {}),
      type: stored.manifest.type,
      createdAt: stored.manifest.createdAt,
      size: stored.manifest.size,
      file: scope === 'remote' ? (store as S3BackupStore).url(stored.file) : stored.file,
    };
  });
  const windows = await Promise.all(
    (options.pitr ?? []).map(async (database) => {
      const wal = scope === 'local' ? new LocalWalStore(bookkeeping.root, database.name) : new S3WalStore(store as S3BackupStore, database.name);
      return { database, wal, objects: (await wal.list()).objects, bases: backups.filter((b) => isBase(b) && databaseFilter(database.target)(b.manifest)) };
    }),
  );
  for (const { database, objects, bases } of windows) {
    const doomed = new Set(detailed.filter((d) => d.action === 'delete').map((d) => d.id));
    const needed = basesTheWindowNeeds(bases, objects, doomed);
    for (const d of detailed.filter((d) => needed.has(d.id))) {
      Object.assign(d, { action: 'keep', rule: 'pitr-window', reason: `point-in-time recovery of ${database.name} needs it: without it the restorable window would lose its newest moments or its start` });
    }
  }
  const deleted: string[] = [];
  let freedBytes = 0;
  if (!options.dryRun) {
    for (const decision of detailed.filter((d) => d.action === 'delete')) {
      if ((await bookkeeping.idsBeingRead()).has(decision.id)) continue; // a restore started meanwhile
      await store.remove(byId.get(decision.id)!);
      deleted.push(decision.id);
      freedBytes += decision.size;
    }
  }
  const gone = new Set(detailed.filter((d) => d.action === 'delete').map((d) => d.id));
  const changes: WindowChange[] = [];
  for (const { database, wal, objects, bases } of windows) {
    if (bases.length === 0 && objects.length === 0) continue; // nothing of it on this side
    const kept = bases.filter((b) => !gone.has(b.manifest.id));
    const unneeded = walBeforeBases(kept, objects);
    if (!options.dryRun) for (const stored of unneeded) await wal.remove(stored);
    const before = restorableWindow(bases, objects);
    const after = restorableWindow(kept, objects.filter((o) => !unneeded.includes(o)));
    changes.push({
      database: database.name,
      before: { oldest: before.oldest, newest: before.newest },
      after: { oldest: after.oldest, newest: after.newest },
      walDeleted: unneeded.length,
      walFreedBytes: unneeded.reduce((sum, o) => sum + o.object.size, 0),
    });
  }
  return { decisions: detailed, deleted, freedBytes, windows: changes };
}
