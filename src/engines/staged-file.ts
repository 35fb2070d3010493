import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RestoreSource, StagingOptions } from './types.js';

/**
 * Gives `fn` a path to the backup's plain bytes. A stream (a compressed or encrypted backup) is decoded to a private
 * file first, in `stagingDir` (on the backups' disk) or else the system's temporary folder, and deleted afterwards.
 */
export async function withPlainFile<T>(
  source: RestoreSource,
  { stagingDir, signal }: StagingOptions,
  fileName: string,
  fn: (file: string) => Promise<T>,
): Promise<T> {
  if (source.kind === 'file') return fn(source.path);
  const dir = await fs.mkdtemp(path.join(stagingDir ?? os.tmpdir(), `${process.pid}-`));
  try {
    const file = path.join(dir, fileName);
    await pipeline(await source.open(), createWriteStream(file, { mode: 0o600 }), { signal });
    return await fn(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
