import { RefusedError } from '../errors.js';
import type { BackupManifest, StoredBackup } from '../storage/manifest.js';
import type { StoredWal } from '../storage/wal-store.js';
import { parseLsn, parseSegmentName, segmentName, segmentOfLsn } from './wal-names.js';

export type BaseInfo = NonNullable<BackupManifest['base']>;

/** The WAL that continues a base backup without a gap. */
export interface WalRun {
  base: StoredBackup & { manifest: BackupManifest & { base: BaseInfo } };
  /** From the base's start segment on, each the next one; the last may be a partial. */
  segments: StoredWal[];
  /** The newest moment this run recovers to; null when nothing after the base is known to be complete. */
  newest: string | null;
  /** Segments missing after the run while later ones are stored: the run cannot go past them. */
  hole: { from: string; to: string } | null;
}

export function isBase(stored: StoredBackup): stored is WalRun['base'] {
  return stored.manifest.type === 'base' && stored.manifest.base !== undefined;
}

/** The base backup's WAL run among the stored objects. */
export function walRun(base: WalRun['base'], objects: StoredWal[]): WalRun {
  const { timeline, walSegmentSize: size, startLsn } = base.manifest.base;
  const byNumber = new Map<bigint, { full?: StoredWal; partial?: StoredWal }>();
  for (const stored of objects) {
    const id = parseSegmentName(stored.object.segment, size);
    if (id.timeline !== timeline) continue;
    const entry = byNumber.get(id.number) ?? {};
    entry[stored.object.partial ? 'partial' : 'full'] = stored;
    byNumber.set(id.number, entry);
  }
  const segments: StoredWal[] = [];
  let number = segmentOfLsn(parseLsn(startLsn), timeline, size).number;
  for (;; number++) {
    const entry = byNumber.get(number);
    if (entry?.full) {
      segments.push(entry.full);
      continue;
    }
    if (entry?.partial) segments.push(entry.partial);
    break;
  }
  const missing = segments.at(-1)?.object.partial ? number + 1n : number;
  const later = [...byNumber.keys()].filter((n) => n >= missing).sort((a, b) => (a < b ? -1 : 1))[0];
  const hole = later === undefined ? null : { from: segmentName({ timeline, number: missing }, size), to: segmentName({ timeline, number: later - 1n }, size) };
  const newest = segments.reduce<string | null>((max, s) => {
    const at = s.object.coverage?.at;
    return at && (!max || at > max) ? at : max;
  }, null);
  return { base, segments, newest, hole };
}

export interface RestorableWindow {
  oldest: string | null;
  newest: string | null;
  holes: Array<{ from: string; to: string }>;
  bases: number;
}

/** From the oldest base backup's consistent point to the newest moment its WAL (or a later base's) reaches. */
export function restorableWindow(backups: StoredBackup[], objects: StoredWal[]): RestorableWindow {
  const runs = backups.filter(isBase).map((base) => walRun(base, objects));
  const usable = runs.filter((r) => r.newest !== null && r.newest >= r.base.manifest.base.consistentAt);
  const holes = new Map(runs.flatMap((r) => (r.hole ? [[r.hole.from, r.hole] as const] : [])));
  return {
    oldest: usable.map((r) => r.base.manifest.base.consistentAt).sort()[0] ?? null,
    newest: usable.map((r) => r.newest!).sort().at(-1) ?? null,
    holes: [...holes.values()],
    bases: runs.length,
  };
}

/** The base backup and WAL segments that recover to `at`, or a refusal that says what the window is. */
export function planRecovery(backups: StoredBackup[], objects: StoredWal[], at: Date): { run: WalRun; segments: StoredWal[] } {
  const target = at.toISOString();
  const bases = backups.filter(isBase).sort((a, b) => b.manifest.base.consistentAt.localeCompare(a.manifest.base.consistentAt));
  const window = restorableWindow(backups, objects);
  const describe = () =>
    window.oldest && window.newest ? `The restorable window is ${window.oldest} to ${window.newest}.` : 'There is no restorable window yet.';
  const base = bases.find((b) => b.manifest.base.consistentAt <= target);
  if (!base) {
    throw new RefusedError(
      bases.length === 0 ? `No base backup: nothing can be recovered to ${target}.` : `${target} is before the oldest base backup. ${describe()}`,
      bases.length === 0 ? 'Run `dbguard pitr enable` (or let `dbguard serve` take one).' : 'Pick a moment inside the window (`dbguard pitr status`).',
    );
  }
  const run = walRun(base, objects);
  if (run.newest === null || run.newest < target) {
    const reached = run.newest ? `the WAL after base backup ${base.manifest.id} reaches ${run.newest} only` : `no WAL after base backup ${base.manifest.id} is stored yet`;
    if (run.hole) {
      throw new RefusedError(
        `Cannot recover to ${target}: WAL segments ${run.hole.from === run.hole.to ? run.hole.from : `${run.hole.from} to ${run.hole.to}`} are missing from the archive, so ${reached}. Nothing was changed.`,
        `Recover to ${run.newest ?? 'a moment'} or earlier, or to a moment after a later base backup.`,
      );
    }
    throw new RefusedError(`Cannot recover to ${target}: ${reached}. ${describe()} Nothing was changed.`, 'Pick a moment inside the window (`dbguard pitr status`).');
  }
  const last = run.segments.findIndex((s) => s.object.coverage !== null && s.object.coverage.at >= target);
  return { run, segments: run.segments.slice(0, last + 1) };
}

/** The WAL no base backup of `bases` needs: segments before the oldest one's start (never a hole: only a prefix). */
export function walBeforeBases(bases: StoredBackup[], objects: StoredWal[]): StoredWal[] {
  const starts = bases.filter(isBase).map((b) => {
    const { startLsn, timeline, walSegmentSize } = b.manifest.base;
    return { n: segmentOfLsn(parseLsn(startLsn), timeline, walSegmentSize).number, timeline, walSegmentSize };
  });
  if (starts.length === 0) return [];
  const oldest = starts.reduce((min, s) => (s.n < min.n ? s : min));
  return objects.filter((stored) => {
    const id = parseSegmentName(stored.object.segment, oldest.walSegmentSize);
    return id.timeline <= oldest.timeline && id.number < oldest.n;
  });
}

/**
 * Of the base backups retention would delete (`doomed`), those the window needs: without them it would lose its
 * newest point (a hole, or WAL no other base reaches) or every start. The oldest doomed base goes first, so the one
 * kept is the newest that will do.
 */
export function basesTheWindowNeeds(bases: StoredBackup[], objects: StoredWal[], doomed: Set<string>): Set<string> {
  const before = restorableWindow(bases, objects);
  const needed = new Set<string>();
  if (!before.newest) return needed;
  let remaining = bases;
  const candidates = bases.filter((b) => isBase(b) && doomed.has(b.manifest.id)).sort((a, b) => a.manifest.createdAt.localeCompare(b.manifest.createdAt));
  for (const base of candidates) {
    const without = remaining.filter((b) => b !== base);
    const after = restorableWindow(without, objects);
    if (after.newest !== before.newest || after.oldest === null) needed.add(base.manifest.id);
    else remaining = without;
  }
  return needed;
}
