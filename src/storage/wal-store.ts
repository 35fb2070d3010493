import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from '../vendor/zod.js';
import { commitFile, ensurePrivateDir, fsyncDir, isProcessAlive, writeFileAtomic } from './fs-atomic.js';

/**
 * One shipped WAL segment (or the segment in progress, `partial`), described by a JSON file written after its data:
 * the object exists for readers only once its description does, as for backups.
 */
export const walObjectSchema = z
  .object({
    segment: z.string().regex(/^[0-9A-F]{24}$/),
    /** The segment being written when it was shipped: valid up to `coverage`, replaced until the segment is finished. */
    partial: z.boolean(),
    fileName: z.string().min(1),
    /** Size and sha256 of the stored bytes (after compression and encryption). */
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** sha256 of the segment's own bytes (a partial is shipped again only when they changed). */
    rawSha256: z.string().regex(/^[0-9a-f]{64}$/),
    compression: z.enum(['none', 'gzip', 'zstd']),
    encryption: z.object({ algorithm: z.literal('age'), recipients: z.array(z.string()), passphrase: z.boolean() }).strict().nullable(),
    shippedAt: z.iso.datetime(),
    /**
     * Everything committed before `at` is in this segment or an earlier one: the server's WAL position was `lsn` at
     * that moment, and the receiver had written past it before this object was read.
     */
    coverage: z.object({ at: z.iso.datetime(), lsn: z.string() }).strict().nullable(),
  })
  .strict();
export type WalObject = z.infer<typeof walObjectSchema>;

export interface StoredWal {
  object: WalObject;
  /** Absolute path of the data file (local), or its key in the bucket (remote). */
  file: string;
  descriptionPath: string;
  location: 'local' | 'remote';
}

export interface WalListing {
  objects: StoredWal[];
  problems: string[];
}

/**
 * Lists until a listing has no problem, at most `attempts` times. A running shipper replaces the segment in progress
 * and finishes segments while a reader lists, so a description or data file can go between the folder's listing and
 * its reading (the reader would miss the newest WAL); a problem that stays is the archive's own.
 */
export async function settledListing(listOnce: () => Promise<WalListing>, attempts = 4): Promise<WalListing> {
  let listing = await listOnce();
  for (let attempt = 1; attempt < attempts && listing.problems.length > 0; attempt++) {
    await sleep(20 * attempt);
    listing = await listOnce();
  }
  return listing;
}

export function walDescriptionName(segment: string, partial: boolean): string {
  return `${segment}${partial ? '.partial' : ''}.json`;
}

/** The WAL of one database in a local folder: `<backups>/wal/<database>/<segment>[.partial].json` and its data. */
export class LocalWalStore {
  readonly dir: string;

  constructor(root: string, database: string) {
    this.dir = path.join(root, 'wal', database);
  }

  descriptionPath(segment: string, partial: boolean): string {
    return path.join(this.dir, walDescriptionName(segment, partial));
  }

  /** Every described object, ordered by segment (a finished segment before the partial of the same name). */
  list(): Promise<WalListing> {
    return settledListing(() => this.listOnce());
  }

  private async listOnce(): Promise<WalListing> {
    const names = await fs.readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    const objects: StoredWal[] = [];
    const problems: string[] = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      const descriptionPath = path.join(this.dir, name);
      try {
        const object = walObjectSchema.parse(JSON.parse(await fs.readFile(descriptionPath, 'utf8')));
        const file = path.join(this.dir, object.fileName);
        if (!(await fs.stat(file).then(() => true, () => false))) {
          problems.push(`${name}: its data file ${object.fileName} is missing`);
          continue;
        }
        objects.push({ object, file, descriptionPath, location: 'local' });
      } catch (error) {
        problems.push(`${name}: unreadable (${(error as Error).message.split('\n')[0]})`);
      }
    }
    objects.sort((a, b) => a.object.segment.localeCompare(b.object.segment) || Number(a.object.partial) - Number(b.object.partial));
    return { objects, problems };
  }

  /** A temporary path in the folder for the data of `fileName`, written by the caller, then `commit`ted. */
  async temporaryPath(fileName: string): Promise<string> {
    await ensurePrivateDir(path.dirname(this.dir));
    await ensurePrivateDir(this.dir);
    return path.join(this.dir, `.${fileName}.${process.pid}.tmp`);
  }

  /** Moves the data into place, then writes its description; a partial replaces the previous one of its segment. */
  async commit(temporary: string, object: WalObject, previous?: StoredWal): Promise<StoredWal> {
    const file = path.join(this.dir, object.fileName);
    await commitFile(temporary, file);
    const descriptionPath = this.descriptionPath(object.segment, object.partial);
    await writeFileAtomic(descriptionPath, `${JSON.stringify(object, null, 2)}\n`);
    if (previous && previous.file !== file) await fs.rm(previous.file, { force: true });
    return { object, file, descriptionPath, location: 'local' };
  }

  /** Rewrites a description (a partial whose bytes did not change, covering a later moment). */
  async describe(stored: StoredWal, object: WalObject): Promise<StoredWal> {
    await writeFileAtomic(stored.descriptionPath, `${JSON.stringify(object, null, 2)}\n`);
    return { ...stored, object };
  }

  /** Deletes an object: its description first, so an interruption leaves data that no longer lists. */
  async remove(stored: StoredWal): Promise<void> {
    await fs.rm(stored.descriptionPath, { force: true });
    await fs.rm(stored.file, { force: true });
    await fsyncDir(this.dir).catch(() => {});
  }

  /** Temporary files of interrupted shipments. */
  async cleanupInterrupted(): Promise<void> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'))) {
      const pid = Number(name.split('.').at(-2));
      if (!isProcessAlive(pid)) await fs.rm(path.join(this.dir, name), { force: true });
    }
  }
}
