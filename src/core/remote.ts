import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RemoteSettings } from '../config/remote.js';
import { DbguardError, RefusedError } from '../errors.js';
import { DigestTap } from '../pipeline/digest.js';
import type { LocalBackupStore } from '../storage/local-store.js';
import type { BackupManifest, StoredBackup } from '../storage/manifest.js';
import { S3BackupStore } from '../storage/s3-store.js';

/** The bucket of `remote`; interrupted multipart uploads are noted under the local folder's bookkeeping. */
export function openRemoteStore(remote: RemoteSettings, local: LocalBackupStore): S3BackupStore {
  return new S3BackupStore(remote, path.join(local.root, '.dbguard', 'uploads'));
}

export interface CopyResult {
  manifest: BackupManifest;
  /** The bucket already held this backup with the same sha256. */
  skipped: boolean;
}

/**
 * Copies a complete local backup to the bucket: the data (hashed as it is read, so a local copy that rotted on disk
 * is not uploaded as good), then the manifest with the remote key, size and lock. Idempotent: a backup already
 * there with the same sha256 is skipped. The local manifest records the remote copy afterwards.
 */
export async function copyToRemote(
  local: LocalBackupStore,
  remote: S3BackupStore,
  stored: StoredBackup,
  options: { signal?: AbortSignal | undefined; onProgress?: ((bytes: number) => void) | undefined; now?: () => Date } = {},
): Promise<CopyResult> {
  const { manifest } = stored;
  await remote.abortInterruptedUploads().catch(() => []);
  const existing = await remote.findManifest(manifest.type, manifest.id);
  if (existing) {
    if (existing.sha256 !== manifest.sha256) {
      throw new RefusedError(
        `The bucket ${remote.display} already holds a different backup with id ${manifest.id}; nothing was overwritten.`,
        'Give each database or machine its own prefix (remote.url s3://bucket/<prefix>).',
      );
    }
    if (!manifest.remote && existing.remote) await local.updateManifest(stored, { ...manifest, remote: existing.remote });
    return { manifest: { ...manifest, remote: existing.remote }, skipped: true };
  }
  const key = remote.dataKey(manifest.type, manifest.fileName);
  const tap = new DigestTap();
  const source = createReadStream(stored.file, { highWaterMark: 1 << 20 });
  source.on('error', (error) => tap.destroy(error));
  const { lockedUntil } = await remote.upload(key, source.pipe(tap), {
    sha256: manifest.sha256,
    size: manifest.size,
    signal: options.signal,
    onProgress: options.onProgress,
  });
  const sha256 = tap.digest();
  if (sha256 !== manifest.sha256 || tap.bytes !== manifest.size) {
    await remote.remove({ ...stored, file: key, manifestPath: remote.manifestKey(manifest.type, manifest.id), location: 'remote' }).catch(() => {});
    throw new RefusedError(
      `The local copy of ${manifest.id} does not match its checksum; it was not copied to the bucket.`,
      `Run \`dbguard verify ${manifest.id}\`.`,
    );
  }
  const uploaded: BackupManifest = {
    ...manifest,
    remote: { url: remote.display, key, size: manifest.size, uploadedAt: (options.now ?? (() => new Date()))().toISOString(), lockedUntil },
  };
  await remote.putManifest(uploaded, options.signal);
  await local.updateManifest(stored, uploaded);
  return { manifest: uploaded, skipped: false };
}

/**
 * Downloads a remote backup to `destination`, hashing as it streams, and refuses it (exit 3, the file removed)
 * when the bytes differ from the manifest: nothing downstream ever sees a corrupted remote copy.
 */
export async function downloadVerified(
  remote: S3BackupStore,
  stored: StoredBackup,
  destination: string,
  options: { signal?: AbortSignal | undefined; onProgress?: ((bytes: number) => void) | undefined } = {},
): Promise<void> {
  const tap = new DigestTap(options.onProgress);
  try {
    await pipeline(remote.openData(stored, options), tap, createWriteStream(destination, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
  } catch (error) {
    await fs.rm(destination, { force: true });
    if (options.signal?.aborted) throw new DbguardError('Download cancelled; nothing was kept.', { cause: error });
    throw error;
  }
  const { manifest } = stored;
  const sha256 = tap.digest();
  if (sha256 !== manifest.sha256 || tap.bytes !== manifest.size) {
    await fs.rm(destination, { force: true });
    throw new RefusedError(
      `The remote copy of ${manifest.id} is corrupted: its checksum does not match the manifest (${tap.bytes} bytes, ` +
        `sha256 ${sha256.slice(0, 16)}…; expected ${manifest.size} bytes, ${manifest.sha256.slice(0, 16)}…). Nothing was changed.`,
      'Pick another backup (`dbguard list --remote`), or use the local copy if there is one.',
    );
  }
}

/** sha256 of a remote object, streamed and kept nowhere. */
export async function remoteChecksum(remote: S3BackupStore, stored: StoredBackup, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const tap = new DigestTap();
  await pipeline(remote.openData(stored, { signal }), tap, async function* (source: AsyncIterable<Buffer>) {
    for await (const _ of source); // drain: only the digest is kept
  }, { signal });
  return { sha256: tap.digest(), size: tap.bytes };
}

/**
 * A remote backup as a local file in the staging folder (verified on the way), for restore and verify, which need
 * a file they can read twice. `dispose` removes it.
 */
export async function stageRemote(
  local: LocalBackupStore,
  remote: S3BackupStore,
  stored: StoredBackup,
  options: { signal?: AbortSignal | undefined; onProgress?: ((bytes: number) => void) | undefined } = {},
): Promise<{ staged: StoredBackup; dispose: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(await local.stagingDir(), `${process.pid}-`));
  const file = path.join(dir, stored.manifest.fileName);
  try {
    await downloadVerified(remote, stored, file, options);
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    staged: { manifest: stored.manifest, file, manifestPath: stored.manifestPath, location: 'local' },
    dispose: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** Downloads a remote backup into the local folder as a complete local backup (skipped when already there). */
export async function pullBackup(
  local: LocalBackupStore,
  remote: S3BackupStore,
  stored: StoredBackup,
  options: { signal?: AbortSignal | undefined; onProgress?: ((bytes: number) => void) | undefined } = {},
): Promise<{ stored: StoredBackup; skipped: boolean }> {
  const { manifest } = stored;
  const present = (await local.list()).backups.find((b) => b.manifest.id === manifest.id && b.manifest.type === manifest.type);
  if (present) {
    if (present.manifest.sha256 !== manifest.sha256) {
      throw new RefusedError(`The local folder already holds a different backup with id ${manifest.id}; nothing was overwritten.`);
    }
    return { stored: present, skipped: true };
  }
  const extension = manifest.fileName.slice(manifest.id.length);
  const reservation = await local.reserve(manifest.type, [manifest.id], extension);
  try {
    await downloadVerified(remote, stored, reservation.partialPath, options);
    return { stored: await local.commit(reservation, manifest), skipped: false };
  } catch (error) {
    await local.release(reservation);
    throw error;
  }
}

/** The first line of an error's message, for the one-line reports of remote copies and pushes. */
export function reasonOf(error: unknown): string {
  return (error as Error)?.message?.split('\n')[0] ?? String(error);
}
