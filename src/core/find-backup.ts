import { UsageError } from '../errors.js';
import type { StoreProblem } from '../storage/local-store.js';
import type { BackupManifest, BackupType, StoredBackup } from '../storage/manifest.js';
import type { BackupSources } from './sources.js';

export interface FindBackupOptions {
  type?: BackupType | undefined;
  /** Which copies to consider: both (the local one preferred), or only one side. */
  from?: CopyLocation | undefined;
  /**
   * With `latest`: the newest backup of this database only, so that one backups folder shared by several databases
   * never hands one database's backup to another.
   */
  database?: { display: string; matches: (manifest: BackupManifest) => boolean } | undefined;
}

export type CopyLocation = 'local' | 'remote';

/** A backup and where its copies are; its own fields are the preferred copy's (local first). */
export interface ListedBackup extends StoredBackup {
  where: 'local' | 'remote' | 'local+remote';
  copies: { local?: StoredBackup | undefined; remote?: StoredBackup | undefined };
}

/** Every backup of the sources, newest first, local and remote copies of one backup merged. */
export async function listSources(
  sources: BackupSources,
  from?: CopyLocation,
): Promise<{ backups: ListedBackup[]; problems: StoreProblem[] }> {
  const [local, remote] = await Promise.all([
    from === 'remote' ? { backups: [], problems: [] } : sources.local.list(),
    from === 'local' || !sources.remote ? { backups: [], problems: [] } : sources.remote.list(),
  ]);
  const byKey = new Map<string, { local?: StoredBackup; remote?: StoredBackup }>();
  for (const b of local.backups) byKey.set(`${b.manifest.type}/${b.manifest.id}`, { local: b });
  for (const b of remote.backups) {
    const key = `${b.manifest.type}/${b.manifest.id}`;
    byKey.set(key, { ...byKey.get(key), remote: b });
  }
  const backups = [...byKey.values()].map(({ local: l, remote: r }): ListedBackup => {
    const preferred = (l ?? r)!;
    return { ...preferred, where: l && r ? 'local+remote' : l ? 'local' : 'remote', copies: { local: l, remote: r } };
  });
  backups.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt) || b.manifest.id.localeCompare(a.manifest.id));
  return { backups, problems: [...local.problems, ...remote.problems] };
}

/**
 * `id`, or `latest`: the newest backup (of `type` when given; `pre-restore` safety backups and personal-data
 * exports only when asked for by type, so `latest` never silently means "undo my last restore"). An id found
 * locally needs no bucket.
 */
export async function findBackup(sources: BackupSources, ref: string, { type, from, database }: FindBackupOptions = {}): Promise<ListedBackup> {
  if (ref !== 'latest' && from !== 'remote') {
    const local = (await sources.local.list()).backups.find((b) => b.manifest.id === ref && (!type || b.manifest.type === type));
    if (local && (from === 'local' || !sources.remote)) return { ...local, where: 'local', copies: { local } };
  }
  const { backups } = await listSources(sources, from);
  const where = describeSources(sources, from);
  if (ref === 'latest') {
    const ofType = backups.filter((b) => (type ? b.manifest.type === type : b.manifest.type !== 'pre-restore' && b.manifest.type !== 'export' && b.manifest.type !== 'base'));
    const candidates = database ? ofType.filter((b) => database.matches(b.manifest)) : ofType;
    const newest = candidates[0];
    if (!newest && database && ofType.length > 0) {
      const others = [...new Set(ofType.map((b) => b.manifest.database.file ?? b.manifest.database.name))];
      throw new UsageError(
        `No ${type ? `${type} ` : ''}backups of ${database.display} in ${where}; the ones there are of ${others.join(', ')}.`,
        `Name one of those by its id (\`dbguard list\`); \`latest\` only means the newest backup of ${database.display}.`,
      );
    }
    if (!newest) {
      throw new UsageError(
        `No ${type ? `${type} ` : ''}backups in ${where}.`,
        'Take one with `dbguard backup`, or pass --dir to point at another backups folder.',
      );
    }
    return newest;
  }
  const found = backups.find((b) => b.manifest.id === ref && (!type || b.manifest.type === type));
  if (found) return found;
  const similar = backups.filter((b) => b.manifest.id.startsWith(ref) || b.manifest.id.includes(ref)).slice(0, 3);
  throw new UsageError(
    `No backup with id "${ref}" in ${where}.`,
    similar.length > 0
      ? `Did you mean ${similar.map((b) => b.manifest.id).join(', ')}? Run \`dbguard list\` to see every id.`
      : 'Run `dbguard list` to see the backup ids, or use `latest`.',
  );
}

function describeSources(sources: BackupSources, from: CopyLocation | undefined): string {
  if (from === 'remote') return sources.remote?.display ?? 'the bucket';
  return sources.remote && from !== 'local' ? `${sources.local.root} or ${sources.remote.display}` : sources.local.root;
}
