/*
 * README promises that each had no test failing when the code behind them was broken. Each test here was watched
 * failing with that code broken, then passing with it restored.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl, prune, restore, type BackupResult } from '../dist/index.js';
import { createDatabase, fillSampleData, server, withClient } from './harness/pg-db.js';
import { TEST_PASSWORD, TEST_USER } from './harness/postgres.js';
import { createSqliteDb, sqliteExec } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const yes = async () => true;

function sqliteDump(file: string): string {
  return execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' });
}

function pgDump(database: string): string {
  const { host, port } = server();
  const env = { ...process.env, PGHOST: host, PGPORT: String(port), PGUSER: TEST_USER, PGPASSWORD: TEST_PASSWORD };
  return execFileSync('pg_dump', ['--no-owner', `--dbname=${database}`], { encoding: 'utf8', env }).replace(/^\\(un)?restrict \S+$/gm, '');
}

/** Flips one byte in the middle of the backup file: same size, different checksum. */
async function corrupt(taken: BackupResult): Promise<void> {
  const handle = await fs.open(taken.file, 'r+');
  try {
    const at = Math.floor(taken.manifest.size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

describe('the checksum is checked before every restore, whatever the backup kind', () => {
  const passphrase = { recipients: [], passphrase: 'checksum test' };
  const sqliteKinds = [
    ['SQLite, zstd', {}],
    ['SQLite, uncompressed', { compression: { algorithm: 'none' as const } }],
    ['SQLite, age', { encryption: passphrase }],
  ] as const;
  it.each(sqliteKinds)('%s: a flipped byte is refused as a checksum mismatch, nothing changed', async (_kind, options) => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 30 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups, ...options });
    await corrupt(taken);
    sqliteExec(file, 'DELETE FROM lines WHERE id > 10');
    const before = sqliteDump(file);
    const error = await rejection(restore({ ref: taken.manifest.id, dir: backups, target, confirm: yes, decryption: { identities: [], passphrase: 'checksum test' } }));
    expect(error).toMatchObject({ name: 'RefusedError', message: expect.stringMatching(/corrupted: its checksum does not match/) });
    expect(sqliteDump(file)).toBe(before);
  });

  const pgKinds = [
    ['PostgreSQL, zstd', { compression: { algorithm: 'zstd' as const } }],
    ['PostgreSQL, age', { encryption: passphrase }],
    ['PostgreSQL, --jobs', { jobs: 2 }],
  ] as const;
  it.each(pgKinds)('%s: a flipped byte is refused as a checksum mismatch, nothing changed', async (_kind, options) => {
    const { name, url } = await createDatabase('sum');
    await fillSampleData(name, 30);
    const dir = tempDir();
    const target = parseDatabaseUrl(url, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups, ...options });
    await corrupt(taken);
    await withClient(name, (c) => c.query('DELETE FROM posts'));
    const before = pgDump(name);
    const error = await rejection(restore({ ref: taken.manifest.id, dir: backups, target, confirm: yes, decryption: { identities: [], passphrase: 'checksum test' } }));
    expect(error).toMatchObject({ name: 'RefusedError', message: expect.stringMatching(/corrupted: its checksum does not match/) });
    expect(pgDump(name)).toBe(before);
  });
});

describe('restore', () => {
  it('stops, changing nothing, when its safety backup fails', async () => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 30 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups });
    sqliteExec(file, 'DELETE FROM lines');
    const before = sqliteDump(file);
    const error = await rejection(
      restore({ ref: taken.manifest.id, dir: backups, target, confirm: yes, safetyBackup: { encryption: { recipients: ['age1notarecipient'] } } }),
    );
    expect(error.message).toMatch(/age1notarecipient/);
    expect(sqliteDump(file)).toBe(before);
  });

  it('`latest` never picks a pre-restore backup, even when it is the newest', async () => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 30 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups });
    const first = await restore({ ref: 'latest', dir: backups, target, confirm: yes });
    expect(first.safetyBackupId).toBeTruthy();
    const second = await restore({ ref: 'latest', dir: backups, target, confirm: yes });
    expect(second.backup.id).toBe(taken.manifest.id);
    expect(second.backup.id).not.toBe(first.safetyBackupId);
  });

  it('compares row counts with the manifest after restoring, and fails when they differ', async () => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 30 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups, compression: { algorithm: 'none' } });
    const manifestFile = taken.manifestPath;
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    expect(manifest.tables.orders).toBe(30);
    manifest.tables.orders = 31;
    await fs.writeFile(manifestFile, JSON.stringify(manifest));
    const error = await rejection(restore({ ref: taken.manifest.id, dir: backups, target, confirm: yes }));
    expect(error.message).toMatch(/does not match backup[\s\S]*orders/);
  });

  it('protects the backup it is reading from prune while it runs', async () => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 30 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const older = await backup({ target, dir: backups, label: 'older' });
    await backup({ target, dir: backups, label: 'newer' });
    let deletedDuringRestore: string[] = [];
    await restore({
      ref: older.manifest.id,
      dir: backups,
      target,
      confirm: async () => {
        deletedDuringRestore = (await prune({ dir: backups, policies: { manual: { keepLast: 1 } } })).deleted;
        return true;
      },
    });
    expect(deletedDuringRestore).not.toContain(older.manifest.id);
    // Once the restore is over, the same policy prunes it.
    expect((await prune({ dir: backups, policies: { manual: { keepLast: 1 } } })).deleted).toContain(older.manifest.id);
  });
});

describe('files only the owner can read', () => {
  it('backup files and manifests are 0600 and the backups folder and its own folders 0700, whatever the umask', async () => {
    const dir = tempDir();
    const file = createSqliteDb(dir, { orders: 10 });
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const backups = path.join(dir, 'backups');
    const previous = process.umask(0o022);
    try {
      mkdirSync(backups, { mode: 0o755 }); // as a git clone of a project with backups/.gitkeep has it
      const taken = await backup({ target, dir: backups });
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      expect(mode(taken.file)).toBe('600');
      const entries = await fs.readdir(backups, { recursive: true, withFileTypes: true });
      for (const entry of entries) {
        const full = path.join(entry.parentPath, entry.name);
        expect([full, mode(full)]).toEqual([full, entry.isDirectory() ? '700' : '600']);
      }
      expect(mode(backups)).toBe('700');
    } finally {
      process.umask(previous);
    }
  });
});
