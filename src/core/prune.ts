import path from 'node:path';
import { LocalBackupStore } from '../storage/local-store.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import type { BackupType } from '../storage/manifest.js';
import { type RetentionDecision, type RetentionPolicies, decideRetention, resolveRetentionPolicies, toRetentionCandidate } from './retention.js';

export interface PruneOptions {
  dir?: string | undefined;
  /** Per-type policies; each replaces that type's default. */
  policies?: RetentionPolicies | undefined;
  /** IANA time zone for daily/weekly/monthly buckets (default UTC). */
  timeZone?: string | undefined;
  dryRun?: boolean | undefined;
  now?: (() => Date) | undefined;
}

export interface PruneDecision extends RetentionDecision {
  type: BackupType;
  createdAt: string;
  size: number;
  file: string;
}

export interface PruneResult {
  decisions: PruneDecision[];
  /** Ids actually deleted (none on a dry run). */
  deleted: string[];
  freedBytes: number;
}

/**
 * Applies the retention policies: every backup gets keep/delete and the rule that decided it. The safety rules
 * (newest good backup, failed latest attempt, recent migration backup, backups being restored) always win.
 */
export async function prune(options: PruneOptions = {}): Promise<PruneResult> {
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const { backups } = await store.list();
  const attempts = await store.readAttempts();
  const decisions = decideRetention(
    backups.map((b) => toRetentionCandidate(b.manifest)),
    resolveRetentionPolicies(options.policies),
    (options.now ?? (() => new Date()))(),
    { inUse: await store.idsBeingRead(), lastAttempts: new Map(Object.entries(attempts)), timeZone: options.timeZone },
  );
  const byId = new Map(backups.map((b) => [b.manifest.id, b]));
  const detailed = decisions.map((d) => {
    const stored = byId.get(d.id)!;
    return { ...d, type: stored.manifest.type, createdAt: stored.manifest.createdAt, size: stored.manifest.size, file: stored.file };
  });
  const deleted: string[] = [];
  let freedBytes = 0;
  if (!options.dryRun) {
    for (const decision of detailed.filter((d) => d.action === 'delete')) {
      if ((await store.idsBeingRead()).has(decision.id)) continue; // a restore started meanwhile
      await store.remove(byId.get(decision.id)!);
      deleted.push(decision.id);
      freedBytes += decision.size;
    }
  }
  return { decisions: detailed, deleted, freedBytes };
}
