import path from 'node:path';
import type { RemoteSettings } from '../config/remote.js';
import { UsageError } from '../errors.js';
import { LocalBackupStore } from '../storage/local-store.js';
import type { S3BackupStore } from '../storage/s3-store.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { openRemoteStore } from './remote.js';

/** Where backups live: always the local folder (also the home of the bookkeeping), plus a bucket when configured. */
export interface BackupSources {
  local: LocalBackupStore;
  remote?: S3BackupStore | undefined;
}

export function openSources(options: { dir?: string | undefined; remote?: RemoteSettings | undefined }): BackupSources {
  const local = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  return { local, remote: options.remote ? openRemoteStore(options.remote, local) : undefined };
}

/** The bucket, or a usage error saying how to configure one. */
export function requireRemote(sources: BackupSources): S3BackupStore {
  if (!sources.remote) {
    throw new UsageError('No remote storage is configured.', 'Set remote.url in dbguard.config.json (or DBGUARD_REMOTE=s3://bucket/prefix); see README "Remote storage".');
  }
  return sources.remote;
}
