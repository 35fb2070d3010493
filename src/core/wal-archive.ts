import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RefusedError } from '../errors.js';
import { type Compression, compressionExtension, createCompressor, createDecompressor } from '../pipeline/compression.js';
import { DigestTap, digestFile } from '../pipeline/digest.js';
import { type DecryptionKeys, type EncryptionKeys, decryptStream, encryptStream, hasEncryptionKeys } from '../pipeline/encryption.js';
import type { S3WalStore } from '../storage/s3-wal-store.js';
import type { LocalWalStore, StoredWal, WalObject } from '../storage/wal-store.js';
import { chain } from './codec.js';

export interface WalEncoding {
  compression: Compression;
  encryption: EncryptionKeys | undefined;
}

export interface Coverage {
  at: string;
  lsn: string;
}

type WalStore = LocalWalStore | S3WalStore;

/**
 * The WAL archive of one database: the local folder and the bucket, composed as backups are (local first, then the
 * remote copy; only the bucket with `keepLocal: false`). Readers see both, the local copy preferred.
 */
export class WalArchive {
  constructor(
    readonly local: LocalWalStore,
    readonly remote: S3WalStore | undefined,
    private readonly keepLocal = true,
  ) {}

  /** Where new WAL goes. */
  get writers(): WalStore[] {
    return [...(this.keepLocal || !this.remote ? [this.local] : []), ...(this.remote ? [this.remote] : [])];
  }

  /** Each store's objects; a bucket that cannot be read is a problem, not a failure (the local copy may do). */
  async listEach(): Promise<Array<{ store: WalStore; objects: StoredWal[]; problems: string[] }>> {
    const local = { store: this.local as WalStore, ...(await this.local.list()) };
    if (!this.remote) return [local];
    const remote = this.remote;
    const listed = await remote.list().catch((error: unknown) => ({ objects: [] as StoredWal[], problems: [`${remote.display}: ${(error as Error).message.split('\n')[0]}`] }));
    return [local, { store: remote, ...listed }];
  }

  /** One object per segment (and per segment in progress) across the stores. */
  async list(): Promise<{ objects: StoredWal[]; problems: string[] }> {
    const each = await this.listEach();
    return { objects: mergeWal(each.map((e) => e.objects)), problems: each.flatMap((e) => e.problems) };
  }

  /**
   * Writes a stored segment's plain bytes to `dest` (downloading it first when it is in the bucket), checking the
   * stored bytes' checksum and the plain bytes' too.
   */
  async unpack(stored: StoredWal, dest: string, keys: DecryptionKeys | undefined, signal?: AbortSignal): Promise<void> {
    if (stored.location === 'local') return unpackSegment(stored, dest, keys, signal);
    const downloaded = `${dest}.download`;
    try {
      await this.remote!.download(stored, downloaded, signal);
      await unpackSegment({ ...stored, file: downloaded }, dest, keys, signal);
    } finally {
      await fs.rm(downloaded, { force: true });
    }
  }
}

/** Finished segments: the first list's copy (local); segments in progress: the copy covering the latest moment. */
export function mergeWal(lists: StoredWal[][]): StoredWal[] {
  const merged = new Map<string, StoredWal>();
  for (const objects of lists) {
    for (const stored of objects) {
      const key = `${stored.object.segment}${stored.object.partial ? '.partial' : ''}`;
      const present = merged.get(key);
      if (!present || (stored.object.partial && (stored.object.coverage?.at ?? '') > (present.object.coverage?.at ?? ''))) merged.set(key, stored);
    }
  }
  return [...merged.values()].sort((a, b) => a.object.segment.localeCompare(b.object.segment) || Number(a.object.partial) - Number(b.object.partial));
}

/**
 * Ships the spool's segments into every store of the archive, remembering what each holds so that a round lists
 * nothing. A store that fails keeps the segment in the spool until it has it: the next round tries again.
 */
export class WalShipper {
  private finished = new Map<WalStore, Set<string>>();
  private partials = new Map<WalStore, StoredWal | undefined>();
  private remoteDescribedAt = 0;
  /** The bucket failed in this round: it is skipped until the next. */
  private remoteDown: Error | undefined;
  private remoteWrote = false;

  constructor(
    readonly archive: WalArchive,
    private readonly options: WalEncoding & {
      /**
       * How often the bucket's copy of the segment in progress may be replaced: each replacement is a request and,
       * under Object Lock, a version kept for the lock's days.
       */
      remotePartialEveryMs: number;
      now?: () => Date;
    },
  ) {}

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  /** Reads what each store holds; returns the newest moment the archive covers. */
  async load(): Promise<string | null> {
    let newest: string | null = null;
    for (const { store, objects } of await this.archive.listEach()) {
      if (store === this.archive.local) await this.archive.local.cleanupInterrupted();
      this.finished.set(store, new Set(objects.filter((o) => !o.object.partial).map((o) => o.object.segment)));
      this.partials.set(store, objects.filter((o) => o.object.partial).at(-1));
      for (const o of objects) if (o.object.coverage && (!newest || o.object.coverage.at > newest)) newest = o.object.coverage.at;
    }
    return newest;
  }

  /** Starts a round: a bucket that failed in the last one is tried again. */
  beginRound(): void {
    this.remoteDown = undefined;
    this.remoteWrote = false;
  }

  /** How the bucket did in this round: failed, wrote, or was not written to. */
  get remoteOutcome(): Error | 'ok' | undefined {
    return this.remoteDown ?? (this.remoteWrote ? 'ok' : undefined);
  }

  /**
   * Stores a finished segment in every store that lacks it and drops that segment's partial copies. True when every
   * store holds it: then the spool file can go.
   */
  async shipFinished(file: string, segment: string, coverage: Coverage | null): Promise<{ shipped: StoredWal | undefined; complete: boolean }> {
    const lacking = this.writers().filter((s) => !this.finished.get(s)?.has(segment));
    const shipped = lacking.length > 0 ? await this.write(lacking, file, segment, false, coverage, () => undefined) : undefined;
    for (const store of this.writers()) {
      const partial = this.partials.get(store);
      if (partial?.object.segment === segment && this.finished.get(store)?.has(segment)) {
        await this.guard(store, () => store.remove(partial));
        this.partials.set(store, undefined);
      }
    }
    const complete = this.archive.writers.every((s) => this.finished.get(s)?.has(segment));
    return { shipped, complete };
  }

  /**
   * Stores the segment in progress: its bytes when they changed since the last copy, else only the later moment it
   * covers. Returns what the first store holds now.
   */
  async shipPartial(file: string, segment: string, coverage: Coverage | null): Promise<StoredWal | undefined> {
    // Its hash decides whether to ship; what is shipped is hashed again as it is read (the receiver may have written more).
    const { sha256: rawSha256 } = await digestFile(file);
    const now = this.now();
    const stores = this.writers().filter((s) => s === this.archive.local || now.getTime() - this.remoteDescribedAt >= this.options.remotePartialEveryMs);
    const previousOf = (store: WalStore) => {
      const previous = this.partials.get(store);
      return previous?.object.segment === segment ? previous : undefined;
    };
    const unchanged = stores.filter((s) => previousOf(s)?.object.rawSha256 === rawSha256);
    for (const store of unchanged) {
      const previous = previousOf(store)!;
      const object = { ...previous.object, coverage: coverage ?? previous.object.coverage, shippedAt: now.toISOString() };
      await this.guard(store, async () => this.partials.set(store, await store.describe(previous, object)));
    }
    const changed = stores.filter((s) => !unchanged.includes(s));
    const shipped = changed.length > 0 ? await this.write(changed, file, segment, true, coverage, previousOf) : undefined;
    if (this.archive.remote && stores.includes(this.archive.remote) && !this.remoteDown) this.remoteDescribedAt = now.getTime();
    return shipped ?? (stores[0] ? this.partials.get(stores[0]) : undefined);
  }

  private writers(): WalStore[] {
    return this.archive.writers.filter((s) => !(s === this.archive.remote && this.remoteDown));
  }

  /** Encodes once (checksum, compression, encryption), then commits to the local folder and uploads to the bucket. */
  private async write(
    stores: WalStore[],
    raw: string,
    segment: string,
    partial: boolean,
    coverage: Coverage | null,
    previousOf: (store: WalStore) => StoredWal | undefined,
  ): Promise<StoredWal | undefined> {
    const { object, temporary } = await this.encode(raw, segment, partial, coverage);
    let file = temporary;
    let first: StoredWal | undefined;
    try {
      for (const store of stores) {
        const stored = await this.guard(store, () =>
          store === this.archive.local ? this.archive.local.commit(temporary, object, previousOf(store)) : (store as S3WalStore).put(file, object, previousOf(store)),
        );
        if (!stored) continue;
        if (store === this.archive.local) file = stored.file;
        if (partial) this.partials.set(store, stored);
        else this.finished.set(store, (this.finished.get(store) ?? new Set()).add(segment));
        first ??= stored;
      }
    } finally {
      if (file === temporary) await fs.rm(temporary, { force: true });
    }
    return first;
  }

  /** Runs a store's write: the local folder's failures are thrown, the bucket's remembered for the round. */
  private async guard<T>(store: WalStore, fn: () => Promise<T>): Promise<T | undefined> {
    if (store === this.archive.local) return fn();
    if (this.remoteDown) return undefined;
    try {
      const result = await fn();
      this.remoteWrote = true;
      return result;
    } catch (error) {
      this.remoteDown = error as Error;
      return undefined;
    }
  }

  /** Streams the segment file `raw` through compression and encryption into a temporary file, hashing both sides. */
  private async encode(raw: string, segment: string, partial: boolean, coverage: Coverage | null): Promise<{ object: WalObject; temporary: string }> {
    const { compression } = this.options;
    const encryption = hasEncryptionKeys(this.options.encryption) ? this.options.encryption : undefined;
    const version = partial ? `.partial-${Date.now()}` : '';
    const fileName = `${segment}${version}.wal${compressionExtension(compression.algorithm)}${encryption ? '.age' : ''}`;
    const temporary = await this.archive.local.temporaryPath(fileName);
    const plain = new DigestTap();
    let stored: Readable = chain(createReadStream(raw, { highWaterMark: 1 << 20 }), plain, await createCompressor(compression, 'inline'));
    if (encryption) stored = await encryptStream(stored, encryption);
    const tap = new DigestTap();
    try {
      await pipeline(stored, tap, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }));
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
    const object: WalObject = {
      segment,
      partial,
      fileName,
      size: tap.bytes,
      sha256: tap.digest(),
      rawSha256: plain.digest(),
      compression: compression.algorithm,
      encryption: encryption ? { algorithm: 'age', recipients: encryption.recipients, passphrase: encryption.recipients.length === 0 } : null,
      shippedAt: this.now().toISOString(),
      coverage,
    };
    return { object, temporary };
  }
}

/**
 * Writes a stored segment's plain bytes to `dest` after checking the stored bytes' checksum, and checks the plain
 * bytes' too: a segment whose bytes are not the ones shipped is refused by name.
 */
export async function unpackSegment(stored: StoredWal, dest: string, keys: DecryptionKeys | undefined, signal?: AbortSignal): Promise<void> {
  const { object } = stored;
  const corrupted = () =>
    new RefusedError(
      `WAL segment ${object.segment}${object.partial ? ' (partial)' : ''} is corrupted: its checksum does not match. Nothing was changed.`,
      'Restore to a moment before this segment, or from another copy of the archive.',
    );
  // The stored bytes first: a damaged file must be named as such, not fail somewhere inside the decompressor.
  const actual = await digestFile(stored.file, undefined, signal);
  if (actual.sha256 !== object.sha256 || actual.size !== object.size) throw corrupted();
  let stream: Readable = createReadStream(stored.file, { highWaterMark: 1 << 20 });
  if (object.encryption) stream = await decryptStream(stream, keys, object.encryption.recipients);
  stream = chain(stream, await createDecompressor(object.compression));
  const plain = createHash('sha256');
  await pipeline(
    stream,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        plain.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(dest, { mode: 0o600 }),
    { signal },
  );
  if (plain.digest('hex') !== object.rawSha256) throw corrupted();
}
