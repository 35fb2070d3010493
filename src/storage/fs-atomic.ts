import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // A folder that existed already (backups/ of a git clone, made by `init` or by hand) is made private too.
  const { mode } = await fs.stat(dir);
  if ((mode & 0o077) !== 0) {
    await fs.chmod(dir, PRIVATE_DIR_MODE).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPERM') throw error; // someone else's folder: left as it is
    });
  }
}

/** Makes a rename or unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const TEMPORARY = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** A temporary file of `writeFileAtomic` whose process is gone (killed before its rename). */
export function isAbandonedTemporary(name: string): boolean {
  const pid = TEMPORARY.exec(name)?.[1];
  return pid !== undefined && !isProcessAlive(Number(pid));
}

/** Writes through a temporary name, fsyncs, renames: readers see the old content or the new, never half. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dir);
}

/** Moves a fully written file into place durably. */
export async function commitFile(partial: string, final: string): Promise<void> {
  await fsyncFile(partial);
  await fs.rename(partial, final);
  await fsyncDir(path.dirname(final));
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
