import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { S3BackupStore } from './s3-store.js';
import { type StoredWal, type WalListing, type WalObject, settledListing, walDescriptionName, walObjectSchema } from './wal-store.js';

const READ_CONCURRENCY = 8;

/**
 * The WAL of one database in the bucket, laid out as the local folder is: `<prefix>/wal/<database>/` holds each
 * segment's data object and, written after it, its description. A data object is written once and never replaced
 * (a newer capture of the segment in progress gets a new name); only the description of that one is rewritten.
 */
export class S3WalStore {
  readonly folder: string;

  constructor(
    readonly bucket: S3BackupStore,
    database: string,
  ) {
    this.folder = bucket.key('wal', database);
  }

  get display(): string {
    return `${this.bucket.url(this.folder)}/`;
  }

  /** Every described object, ordered by segment (a finished segment before the partial of the same name). */
  list(): Promise<WalListing> {
    return settledListing(() => this.listOnce());
  }

  private async listOnce(): Promise<WalListing> {
    const listed = await this.bucket.listFolder(this.folder);
    const sizes = new Map(listed.map((o) => [o.key, o.size]));
    const descriptions = listed.filter((o) => o.key.endsWith('.json')).map((o) => o.key);
    const objects: StoredWal[] = [];
    const problems: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < descriptions.length) {
        const descriptionPath = descriptions[next++]!;
        try {
          const text = await this.bucket.readIfExists(descriptionPath);
          if (text === undefined) {
            problems.push(`${this.bucket.url(descriptionPath)}: removed while the archive was listed`);
            continue;
          }
          const object = walObjectSchema.parse(JSON.parse(text));
          const file = `${this.folder}/${object.fileName}`;
          if (!sizes.has(file)) {
            problems.push(`${this.bucket.url(descriptionPath)}: its data object ${object.fileName} is missing`);
            continue;
          }
          objects.push({ object, file, descriptionPath, location: 'remote' });
        } catch (error) {
          problems.push(`${this.bucket.url(descriptionPath)}: unreadable (${(error as Error).message.split('\n')[0]})`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, descriptions.length) }, worker));
    objects.sort((a, b) => a.object.segment.localeCompare(b.object.segment) || Number(a.object.partial) - Number(b.object.partial));
    return { objects, problems };
  }

  /** Uploads the encoded data from `file`, then its description; a partial's previous data object is deleted after. */
  async put(file: string, object: WalObject, previous?: StoredWal): Promise<StoredWal> {
    const key = `${this.folder}/${object.fileName}`;
    await this.bucket.upload(key, createReadStream(file, { highWaterMark: 1 << 20 }), { sha256: object.sha256, size: object.size });
    const stored = await this.describe({ object, file: key, descriptionPath: `${this.folder}/${walDescriptionName(object.segment, object.partial)}`, location: 'remote' }, object);
    if (previous && previous.file !== key) await this.bucket.removeObject(previous.file).catch(() => {});
    return stored;
  }

  /** Writes a description (a partial whose bytes did not change, covering a later moment). */
  async describe(stored: StoredWal, object: WalObject): Promise<StoredWal> {
    await this.bucket.upload(stored.descriptionPath, Buffer.from(`${JSON.stringify(object, null, 2)}\n`));
    return { ...stored, object };
  }

  /** Deletes an object: its description first, so an interruption leaves data that no longer lists. */
  async remove(stored: StoredWal): Promise<void> {
    await this.bucket.removeObject(stored.descriptionPath);
    await this.bucket.removeObject(stored.file);
  }

  /** Downloads the stored (encoded) bytes to `dest`; checked by the caller against the description. */
  async download(stored: StoredWal, dest: string, signal?: AbortSignal): Promise<void> {
    try {
      await pipeline(this.bucket.openObject(stored.file, stored.object.size, signal), createWriteStream(dest, { mode: 0o600 }), { signal });
    } catch (error) {
      await fs.rm(dest, { force: true });
      throw error;
    }
  }
}
