import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RefusedError } from '../errors.js';
import { type Compression, compressionExtension, createCompressor, createDecompressor } from '../pipeline/compression.js';
import { DigestTap, digestFile } from '../pipeline/digest.js';
import { type DecryptionKeys, type EncryptionKeys, decryptStream, encryptStream, hasEncryptionKeys } from '../pipeline/encryption.js';
import { type LocalWalStore, type StoredWal, type WalObject } from '../storage/wal-store.js';
import { chain } from './codec.js';

export interface WalEncoding {
  compression: Compression;
  encryption: EncryptionKeys | undefined;
}

export interface Coverage {
  at: string;
  lsn: string;
}

/**
 * Stores a segment file (finished, or the one in progress) checksummed, compressed and encrypted. A partial whose
 * bytes are those already stored only gets its coverage moved forward. Returns what is stored now.
 */
export async function shipSegment(
  store: LocalWalStore,
  file: string,
  segment: string,
  options: WalEncoding & { partial: boolean; coverage: Coverage | null; previous?: StoredWal | undefined; now?: () => Date },
): Promise<StoredWal> {
  const now = options.now ?? (() => new Date());
  const raw = await fs.readFile(file); // one segment (16 MB by default), read once: its hash decides whether to ship
  const rawSha256 = createHash('sha256').update(raw).digest('hex');
  const { previous } = options;
  if (previous && previous.object.rawSha256 === rawSha256) {
    return store.describe(previous, { ...previous.object, coverage: options.coverage ?? previous.object.coverage, shippedAt: now().toISOString() });
  }
  const encryption = hasEncryptionKeys(options.encryption) ? options.encryption : undefined;
  const version = options.partial ? `.partial-${Date.now()}` : '';
  const fileName = `${segment}${version}.wal${compressionExtension(options.compression.algorithm)}${encryption ? '.age' : ''}`;
  const temporary = await store.temporaryPath(fileName);
  let stored: Readable = chain(Readable.from([raw]), await createCompressor(options.compression));
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
    partial: options.partial,
    fileName,
    size: tap.bytes,
    sha256: tap.digest(),
    rawSha256,
    compression: options.compression.algorithm,
    encryption: encryption ? { algorithm: 'age', recipients: encryption.recipients, passphrase: encryption.recipients.length === 0 } : null,
    shippedAt: now().toISOString(),
    coverage: options.coverage,
  };
  return store.commit(temporary, object, previous);
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
