import path from 'node:path';
import { LocalBackupStore, type StoreProblem } from '../storage/local-store.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { findBackup } from './find-backup.js';
import type { BackupType, StoredBackup } from '../storage/manifest.js';

export interface ListOptions {
  dir?: string | undefined;
  type?: BackupType | undefined;
}

/** Complete backups, newest first, and what else the folder holds that is not a complete backup. */
export async function listBackups(options: ListOptions = {}): Promise<{ backups: StoredBackup[]; problems: StoreProblem[] }> {
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const { backups, problems } = await store.list();
  return { backups: options.type ? backups.filter((b) => b.manifest.type === options.type) : backups, problems };
}

export async function showBackup(options: ListOptions & { ref: string }): Promise<StoredBackup> {
  return findBackup(new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR)), options.ref, { type: options.type });
}
