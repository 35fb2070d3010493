import { createReadStream } from 'node:fs';
import { type Duplex, type Readable, pipeline } from 'node:stream';
import type { RestoreSource } from '../engines/types.js';
import { createDecompressor } from '../pipeline/compression.js';
import { type DecryptionKeys, decryptStream } from '../pipeline/encryption.js';
import type { StoredBackup } from '../storage/manifest.js';

/** Chains streams, propagating any error to the end of the chain (which the caller consumes). */
export function chain(source: Readable, ...transforms: Array<Duplex | undefined>): Readable {
  const stages = transforms.filter((t): t is Duplex => t !== undefined);
  if (stages.length === 0) return source;
  return pipeline([source, ...stages], () => {}) as unknown as Readable;
}

/**
 * The backup's plain bytes (pg_dump archive or SQLite file): the file itself when stored plain, else a stream
 * that decrypts, then decompresses. Opening an encrypted backup checks the key before anything is read.
 */
export function plainSource(stored: StoredBackup, keys: DecryptionKeys | undefined): RestoreSource {
  const { manifest, file } = stored;
  const packedDirectory = manifest.format === 'pg-directory';
  if (manifest.compression === 'none' && !manifest.encryption) return { kind: 'file', path: file, packedDirectory };
  return {
    kind: 'stream',
    packedDirectory,
    open: async () => {
      let stream: Readable = createReadStream(file, { highWaterMark: 1 << 20 });
      if (manifest.encryption) stream = await decryptStream(stream, keys, manifest.encryption.recipients);
      return chain(stream, await createDecompressor(manifest.compression));
    },
  };
}

/** Fails (before anything is touched) when an encrypted backup cannot be decrypted with `keys`. */
export async function assertDecryptable(stored: StoredBackup, keys: DecryptionKeys | undefined): Promise<void> {
  if (!stored.manifest.encryption) return;
  const source = plainSource(stored, keys);
  if (source.kind === 'stream') (await source.open()).destroy();
}
