import { existsSync, lstatSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { type Change, readPackageJson, writeAtomic, writePackageJson } from './project-files.js';

/** Binaries of the tools the guard knows, as npm links them into node_modules/.bin. */
export const SHIMMED_BINS = [
  'prisma',
  'drizzle-kit',
  'typeorm',
  'typeorm-ts-node-commonjs',
  'typeorm-ts-node-esm',
  'sequelize',
  'sequelize-cli',
  'knex',
  'node-pg-migrate',
  'supabase',
] as const;

export const ORIGINALS_DIR = '.dbguard';
const SHIM_MARKER = '# dbguard shim';
export const POSTINSTALL_COMMAND = 'dbguard guard shims';

function shimScript(name: string): string {
  return [
    '#!/bin/sh',
    `${SHIM_MARKER}: runs ${name} through \`dbguard run\`, which stops commands that can destroy data.`,
    `# The original is ${ORIGINALS_DIR}/${name}; \`dbguard guard shims\` (the postinstall script) re-installs this file.`,
    'basedir=$(dirname "$0")',
    'if [ ! -x "$basedir/dbguard" ]; then',
    `  echo "dbguard is not installed here; run $basedir/${ORIGINALS_DIR}/${name} to bypass the guard, or npm install dbguard" >&2`,
    '  exit 1',
    'fi',
    `exec "$basedir/dbguard" run -- "$basedir/${ORIGINALS_DIR}/${name}" "$@"`,
    '',
  ].join('\n');
}

/**
 * Replaces each guarded tool's binary in node_modules/.bin with a shim that runs it through `dbguard run`; the
 * original link moves to node_modules/.bin/.dbguard/<name>, where the classifier still sees the tool's name.
 */
export async function installShims(projectDir: string): Promise<Change[]> {
  const binDir = path.join(projectDir, 'node_modules', '.bin');
  const changes: Change[] = [];
  for (const name of SHIMMED_BINS) {
    const bin = path.join(binDir, name);
    const original = path.join(binDir, ORIGINALS_DIR, name);
    const stat = lstatOrUndefined(bin);
    if (!stat) continue;
    const shown = path.relative(projectDir, bin);
    const isShim = stat.isFile() && (await fs.readFile(bin, 'utf8')).includes(SHIM_MARKER);
    if (isShim) {
      if (!existsSync(original)) changes.push({ file: shown, action: 'kept', detail: `shim without its original ${ORIGINALS_DIR}/${name}: reinstall the package` });
      continue;
    }
    await fs.mkdir(path.dirname(original), { recursive: true });
    await fs.rm(original, { force: true });
    if (stat.isSymbolicLink()) {
      const target = path.resolve(binDir, await fs.readlink(bin));
      await fs.symlink(path.relative(path.dirname(original), target), original);
    } else {
      await fs.copyFile(bin, original);
      await fs.chmod(original, stat.mode & 0o777);
    }
    await fs.rm(bin);
    await writeAtomic(bin, shimScript(name), 0o755);
    changes.push({ file: shown, action: 'updated', detail: `routes ${name} through dbguard run` });
  }
  return changes;
}

/** A `postinstall` script that re-installs the shims after every npm install, after any postinstall already there. */
export async function addPostinstall(projectDir: string): Promise<Change[]> {
  const pkg = await readPackageJson(projectDir);
  if (!pkg) return [{ file: 'package.json', action: 'skipped', detail: 'there is none here, so no postinstall was added: the shims last until the next npm install' }];
  const scripts = { ...(pkg.data.scripts ?? {}) };
  const existing = scripts.postinstall?.trim();
  if (existing?.includes(POSTINSTALL_COMMAND)) return [];
  scripts.postinstall = existing ? `${existing} && ${POSTINSTALL_COMMAND}` : POSTINSTALL_COMMAND;
  pkg.data.scripts = scripts;
  await writePackageJson(pkg);
  return [{ file: 'package.json', action: 'updated', detail: `postinstall: ${scripts.postinstall} (re-installs the shims after npm install)` }];
}

function lstatOrUndefined(file: string) {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
