import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { createDatabase, fillSampleData } from './harness/pg-db.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

/**
 * A full disk, without mounting anything: the backup runs under a file-size limit (`ulimit -f`) with SIGXFSZ
 * ignored, so its writes fail with EFBIG past the limit, as they fail with ENOSPC on a full disk.
 */
function backupWithLimit(cwd: string, kilobytes: number, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const script = `trap '' XFSZ; ulimit -f ${kilobytes}; exec "${process.execPath}" "${CLI}" backup ${args.join(' ')}`;
    const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function leftovers(cwd: string, dir = path.join(cwd, 'backups')): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(partial|scratch|inprogress|dump|sqlite|zst)$/.test(f)) : [];
}

describe('a full disk', () => {
  it('fails a PostgreSQL backup cleanly: clear message, nothing left, nothing listed', async () => {
    const db = await createDatabase('full');
    await fillSampleData(db.name, 3000);
    const cwd = tempDir();
    const result = await backupWithLimit(cwd, 64, ['--compress', 'none'], { DATABASE_URL: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/The disk is full: the backup could not be written, and its partial file was removed/);
    expect(leftovers(cwd)).toEqual([]);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);
  });

  it('fails a SQLite snapshot cleanly, and the next backup with room succeeds', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 4000 });
    const result = await backupWithLimit(cwd, 400, ['--compress', 'none', '--db', db]);
    expect(result.code).toBe(1);
    // SQLite reports ENOSPC as SQLITE_FULL and the size limit used here as SQLITE_IOERR_WRITE; both name the disk.
    expect(result.stderr).toMatch(/The SQLite snapshot could not be written \(disk I\/O error\): is the disk full/);
    expect(leftovers(cwd)).toEqual([]);
    const retry = await runCli(['backup', '--db', db, '--json'], { cwd });
    expect(retry.code, retry.stderr).toBe(0);
  });
});

/** A real small disk: a tmpfs of `size` mounted for the test (the suite runs as root), unmounted afterwards. */
async function withSmallDisk<T>(size: string, fn: (mountpoint: string) => Promise<T>): Promise<T> {
  const mountpoint = tempDir('dbguard-disk-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mountpoint], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mounting a tmpfs for a real full disk needs root: ${mounted.stderr}`);
  try {
    return await fn(mountpoint);
  } finally {
    spawnSync('umount', [mountpoint]);
  }
}

describe('a really full disk (ENOSPC on a small tmpfs)', () => {
  it('PostgreSQL: the backup fails with the disk-full message, leaves nothing, lists nothing', async () => {
    const db = await createDatabase('enospc');
    await fillSampleData(db.name, 3000);
    const cwd = tempDir();
    await withSmallDisk('256k', async (disk) => {
      const result = await runCli(['backup', '--compress', 'none', '--dir', disk], { cwd, env: { DATABASE_URL: db.url } });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/The disk is full: the backup could not be written, and its partial file was removed/);
      expect(leftovers(cwd, disk)).toEqual([]);
      expect(parseJson<unknown[]>(await runCli(['list', '--json', '--dir', disk], { cwd }))).toEqual([]);
    });
  });

  it('SQLite: SQLITE_FULL during the snapshot is reported as a full disk; nothing is left', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 4000 });
    await withSmallDisk('256k', async (disk) => {
      const result = await runCli(['backup', '--db', db, '--dir', disk], { cwd });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/The disk is full: the SQLite snapshot could not be written, and its partial file was removed/);
      expect(leftovers(cwd, disk)).toEqual([]);
      expect(parseJson<unknown[]>(await runCli(['list', '--json', '--dir', disk], { cwd }))).toEqual([]);
    });
  });
});
