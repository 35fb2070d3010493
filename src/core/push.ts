import type { DatabaseTarget } from '../config/database-url.js';
import type { RemoteSettings } from '../config/remote.js';
import type { BackupType, StoredBackup } from '../storage/manifest.js';
import { findBackup } from './find-backup.js';
import { latestOf } from './list.js';
import { copyToRemote, pullBackup, reasonOf } from './remote.js';
import { openSources, requireRemote } from './sources.js';
import { retentionDatabaseKey } from './retention.js';

export interface PushOptions {
  dir?: string | undefined;
  remote: RemoteSettings | undefined;
  /** Backup ids (or `latest`), or every local backup. */
  refs: string[] | 'all';
  signal?: AbortSignal | undefined;
  /** Called before each backup is uploaded. */
  onBackup?: ((id: string) => void) | undefined;
  onProgress?: ((bytes: number) => void) | undefined;
}

export interface PushResult {
  pushed: Array<{ id: string; size: number }>;
  skipped: Array<{ id: string }>;
  failed: Array<{ id: string; error: string }>;
}

/**
 * Copies local backups to the bucket, oldest first; those already there with the same sha256 are skipped, so a
 * push that was interrupted is resumed by running it again. One failure does not stop the others.
 */
export async function pushBackups(options: PushOptions): Promise<PushResult> {
  const sources = openSources(options);
  const remote = requireRemote(sources);
  const local = sources.local;
  const backups: StoredBackup[] =
    options.refs === 'all'
      ? (await local.list()).backups.reverse()
      : await Promise.all(options.refs.map(async (ref) => (await findBackup({ local }, ref)).copies.local!));
  await remote.abortInterruptedUploads();
  const result: PushResult = { pushed: [], skipped: [], failed: [] };
  for (const stored of backups) {
    options.signal?.throwIfAborted();
    options.onBackup?.(stored.manifest.id);
    const databaseKey = retentionDatabaseKey(stored.manifest);
    try {
      const copied = await copyToRemote(local, remote, stored, { signal: options.signal, onProgress: options.onProgress });
      if (copied.skipped) result.skipped.push({ id: stored.manifest.id });
      else result.pushed.push({ id: stored.manifest.id, size: stored.manifest.size });
      await local.recordAttempt(databaseKey, { at: new Date().toISOString(), ok: true }, 'remote');
    } catch (error) {
      if (options.signal?.aborted) throw error;
      result.failed.push({ id: stored.manifest.id, error: reasonOf(error) });
    }
  }
  return result;
}

export interface PullOptions {
  dir?: string | undefined;
  remote: RemoteSettings | undefined;
  ref: string;
  type?: BackupType | undefined;
  /** With `latest`: this database's newest. */
  database?: DatabaseTarget | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((bytes: number) => void) | undefined;
}

/** Downloads one remote backup into the local folder (checksum checked as it streams); skipped when already there. */
export async function pullFromRemote(options: PullOptions): Promise<{ stored: StoredBackup; skipped: boolean }> {
  const sources = openSources(options);
  const remote = requireRemote(sources);
  const found = await findBackup(sources, options.ref, { type: options.type, from: 'remote', database: latestOf(options.database) });
  return pullBackup(sources.local, remote, found.copies.remote!, options);
}
