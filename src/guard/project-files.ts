import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/** One thing `dbguard init` did, or decided not to do. */
export interface Change {
  /** Path relative to the project. */
  file: string;
  /** `skipped`: there was nothing to change it in (no package.json). */
  action: 'created' | 'updated' | 'kept' | 'skipped';
  detail: string;
}

export interface PackageJson {
  file: string;
  data: Record<string, unknown> & { scripts?: Record<string, string> };
  indent: string;
}

export async function readPackageJson(dir: string): Promise<PackageJson | undefined> {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  const text = await fs.readFile(file, 'utf8');
  try {
    const data = JSON.parse(text) as PackageJson['data'];
    return { file, data, indent: /^[ \t]+(?=")/m.exec(text)?.[0] ?? '  ' };
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON (${(error as Error).message}); it was not changed.`);
  }
}

export async function writePackageJson(pkg: PackageJson): Promise<void> {
  await writeAtomic(pkg.file, `${JSON.stringify(pkg.data, null, pkg.indent)}\n`);
}

/** Writes through a temporary file and a rename, keeping the mode of the file it replaces. */
export async function writeAtomic(file: string, text: string, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const previousMode = await fs.stat(file).then((s) => s.mode & 0o777, () => undefined);
  const temporary = `${file}.dbguard-${process.pid}.tmp`;
  await fs.writeFile(temporary, text, { mode: mode ?? previousMode ?? 0o644 });
  if (mode !== undefined) await fs.chmod(temporary, mode);
  await fs.rename(temporary, file);
}
