/**
 * A parallel pg_dump writes a directory (`--format=directory`: toc.dat and one file per table). dbguard stores it
 * as one tar file, so it is checksummed, compressed, encrypted and pruned like any other backup, and `tar -x`
 * gives back a folder that `pg_restore` reads.
 */
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { DbguardError } from '../errors.js';
import type { RestoreSource, StagingOptions } from './types.js';

const TOC = 'toc.dat';

/**
 * The directory's files as a tar stream, toc.dat first (pg_dump's directory format has no subfolders). Memory stays
 * flat only with reads of 1 MiB (tar's default, 16 MiB buffers, took a 600 MB file to a 195 MB peak; 86 MB with
 * 1 MiB) and with the reader's backpressure reaching tar through pipe() (iterating it buffered too).
 */
export async function packDumpDirectory(dir: string): Promise<Readable> {
  const files = (await fs.readdir(dir)).sort((a, b) => Number(b === TOC) - Number(a === TOC) || a.localeCompare(b));
  const { create } = await import('tar');
  const pack = create({ cwd: dir, portable: true, noDirRecurse: true, maxReadSize: 1 << 20 }, files);
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pack.on('error', (error: unknown) => out.destroy(error as Error));
  return pack.pipe(out);
}

/** Reports the total size of the files in `dir` every 250 ms (while pg_dump writes it); returns the stop function. */
export function watchDirectorySize(dir: string, onSize: (bytes: number) => void): () => void {
  const timer = setInterval(() => {
    fs.readdir(dir)
      .then((names) => Promise.all(names.map((name) => fs.stat(path.join(dir, name)).then((s) => s.size, () => 0))))
      .then((sizes) => onSize(sizes.reduce((a, b) => a + b, 0)), () => {});
  }, 250);
  return () => clearInterval(timer);
}

/**
 * Unpacks a packed dump directory into a private folder (in `stagingDir`, else the system's temporary folder), gives
 * it to `fn`, and deletes it afterwards. With `tocOnly`, the whole archive is read but only toc.dat is written.
 */
export async function withUnpackedDumpDirectory<T>(
  source: RestoreSource,
  options: StagingOptions & { tocOnly?: boolean },
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await fs.mkdtemp(path.join(options.stagingDir ?? os.tmpdir(), `${process.pid}-`));
  try {
    const input = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : await source.open();
    await unpack(input, dir, options.tocOnly ? (name) => name === TOC : () => true, options.signal);
    await fs.access(path.join(dir, TOC)).catch(() => {
      throw new DbguardError(`the archive has no ${TOC}: it is not a pg_dump directory-format dump`);
    });
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Writes the archive's plain files into `dir`; anything else (links, folders, paths with a slash) is an error. */
async function unpack(input: Readable, dir: string, wanted: (name: string) => boolean, signal: AbortSignal | undefined): Promise<void> {
  const { extract } = await import('tar');
  let unexpected: string | undefined;
  const unpacker = extract({
    cwd: dir,
    strict: true,
    filter: (name, entry) => {
      const plain = 'type' in entry && entry.type === 'File' && !name.includes('/');
      if (!plain) unexpected ??= name;
      return plain && wanted(name);
    },
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      input.destroy();
      reject(new DbguardError(`the backup is not a readable dump archive: ${error.message}`));
    };
    unpacker.once('error', fail);
    input.once('error', fail);
    if (signal?.aborted) fail(new Error('cancelled'));
    signal?.addEventListener('abort', () => fail(new Error('cancelled')), { once: true });
    unpacker.once('close', resolve);
    input.pipe(unpacker as unknown as NodeJS.WritableStream);
  });
  if (unexpected !== undefined) throw new DbguardError(`the backup's archive holds "${unexpected}", which a pg_dump directory never does`);
}
