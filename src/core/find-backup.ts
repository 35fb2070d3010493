import { UsageError } from '../errors.js';
import type { LocalBackupStore } from '../storage/local-store.js';
import type { BackupType, StoredBackup } from '../storage/manifest.js';

export interface FindBackupOptions {
  type?: BackupType | undefined;
}

/**
 * `id`, or `latest`: the newest backup (of `type` when given; `pre-restore` safety backups and personal-data
 * exports only when asked for by type, so `latest` never silently means "undo my last restore").
 */
export async function findBackup(store: LocalBackupStore, ref: string, { type }: FindBackupOptions = {}): Promise<StoredBackup> {
  const { backups } = await store.list();
  if (ref === 'latest') {
    const candidates = backups.filter((b) => (type ? b.manifest.type === type : b.manifest.type !== 'pre-restore' && b.manifest.type !== 'export'));
    const newest = candidates[0];
    if (!newest) {
      throw new UsageError(
        `No ${type ? `${type} ` : ''}backups in ${store.root}.`,
        'Take one with `dbguard backup`, or pass --dir to point at another backups folder.',
      );
    }
    return newest;
  }
  const found = backups.find((b) => b.manifest.id === ref && (!type || b.manifest.type === type));
  if (found) return found;
  const similar = backups.filter((b) => b.manifest.id.startsWith(ref) || b.manifest.id.includes(ref)).slice(0, 3);
  throw new UsageError(
    `No backup with id "${ref}" in ${store.root}.`,
    similar.length > 0
      ? `Did you mean ${similar.map((b) => b.manifest.id).join(', ')}? Run \`dbguard list\` to see every id.`
      : 'Run `dbguard list` to see the backup ids, or use `latest`.',
  );
}
