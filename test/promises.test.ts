/*
 * README promises that each had no test failing when the code behind them was broken. Each test here was watched
 * failing with that code broken, then passing with it restored.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl, prune, restore, rollbackReport, withBackup, type BackupResult } from '../dist/index.js';
import { createDatabase, databaseExists, fillSampleData, server, withClient } from './harness/pg-db.js';
import { TEST_PASSWORD, TEST_USER, findPgBinDir } from './harness/postgres.js';
import { runCli } from './harness/cli.js';
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
  it('the target is as planned or nothing happens: one created while the restore waits for its confirmation, or removed during its safety backup', async () => {
    const { name, url } = await createDatabase('late');
    await fillSampleData(name, 10);
    const dir = tempDir();
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target: parseDatabaseUrl(url, dir), dir: backups });
    const late = `${name}_new`;
    const target = parseDatabaseUrl(url.replace(`/${name}`, `/${late}`), dir);
    const error = await rejection(
      restore({
        ref: taken.manifest.id,
        dir: backups,
        target,
        confirm: async (plan) => {
          expect(plan.targetExists).toBe(false);
          await withClient('postgres', (c) => c.query(`CREATE DATABASE ${late}`));
          await withClient(late, (c) => c.query('CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)'));
          return true;
        },
      }),
    );
    expect(error).toMatchObject({ name: 'RefusedError', message: expect.stringMatching(/was created while this restore waited.*Nothing was changed/) });
    expect(await withClient(late, async (c) => (await c.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', ['public'])).rows)).toEqual([
      { table_name: 'kept' },
    ]);

    // SQLite: the same, for a file that appears meanwhile.
    const file = createSqliteDb(dir, { orders: 5 });
    const sqliteBackup = await backup({ target: parseDatabaseUrl(`file:${file}`, dir), dir: backups });
    const newFile = path.join(dir, 'new.db');
    const sqliteError = await rejection(
      restore({
        ref: sqliteBackup.manifest.id,
        dir: backups,
        target: parseDatabaseUrl(`file:${newFile}`, dir),
        confirm: async () => {
          writeFileSync(newFile, 'not yet a database');
          return true;
        },
      }),
    );
    expect(sqliteError).toMatchObject({ name: 'RefusedError' });
    expect(readFileSync(newFile, 'utf8')).toBe('not yet a database');

    // And one removed while its safety backup is taken is not created again from the backup.
    const removed = await rejection(
      restore({
        ref: sqliteBackup.manifest.id,
        dir: backups,
        target: parseDatabaseUrl(`file:${file}`, dir),
        confirm: yes,
        onStep: (step) => {
          if (step.step === 'safety-backup') rmSync(file);
        },
      }),
    );
    expect(removed).toMatchObject({ name: 'RefusedError', message: expect.stringMatching(/was removed while its safety backup was taken/) });
    expect(existsSync(file)).toBe(false);
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

/**
 * Puts logging stand-ins for pg_dump, pg_restore and psql in a folder for DBGUARD_PG_BINDIR: each records its
 * arguments and every file under TMPDIR that holds the password at the moment it starts, then runs the real tool.
 */
function spyPgTools(dir: string): { bindir: string; log: string; tmp: string } {
  const bindir = path.join(dir, 'spy-bin');
  const log = path.join(dir, 'spy.log');
  const tmp = path.join(dir, 'tmp');
  mkdirSync(bindir);
  mkdirSync(tmp);
  for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
    const script = [
      '#!/bin/sh',
      `printf 'RUN %s %s\\n' "$(basename "$0")" "$*" >> '${log}'`,
      `grep -rlF -- "$SPY_SECRET" '${tmp}' 2>/dev/null | sed 's/^/SECRET IN FILE /' >> '${log}'`,
      `exec '${path.join(findPgBinDir(), tool)}' "$@"`,
    ].join('\n');
    writeFileSync(path.join(bindir, tool), `${script}\n`, { mode: 0o755 });
  }
  return { bindir, log, tmp };
}

describe('the password never reaches a child process argument or a file', () => {
  it('backup, restore, restore --table and a migration rollback: pg_dump, pg_restore and psql get it from the environment only', async () => {
    const { name, url } = await createDatabase('spy');
    await fillSampleData(name, 20);
    const dir = tempDir();
    const spy = spyPgTools(dir);
    const env = { DATABASE_URL: url, DBGUARD_PG_BINDIR: spy.bindir, TMPDIR: spy.tmp, SPY_SECRET: TEST_PASSWORD };
    const run = async (args: string[]) => {
      const result = await runCli(args, { cwd: dir, env });
      expect(result.code, result.stderr).toBe(args[0] === 'migrate' ? 1 : 0);
      return result;
    };
    await run(['backup', '--compress', 'zstd']);
    await run(['restore', 'latest', '--yes']);
    await run(['restore', 'latest', '--yes', '--table', 'posts']);
    await run(['migrate', '--', 'sh', '-c', `psql "${url}" -c 'CREATE TABLE half (id int)' >/dev/null && exit 1`]);

    const log = readFileSync(spy.log, 'utf8');
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) expect(log).toMatch(new RegExp(`^RUN ${tool} `, 'm'));
    expect(log.split('\n').filter((line) => line.startsWith('RUN psql')).length).toBeGreaterThanOrEqual(2); // --table and the rollback
    const ours = log.split('\n').filter((line) => line.startsWith('RUN ') && !line.includes('CREATE TABLE half'));
    for (const secret of [TEST_PASSWORD, encodeURIComponent(TEST_PASSWORD)]) {
      expect(ours.filter((line) => line.includes(secret))).toEqual([]);
    }
    expect(log).not.toMatch(/SECRET IN FILE/);
    const leftovers = spawnSync('grep', ['-rlF', '--', TEST_PASSWORD, spy.tmp, path.join(dir, 'backups')], { encoding: 'utf8' });
    expect([leftovers.status, leftovers.stdout]).toEqual([1, '']); // 1: grep read everything and found nothing
  });
});

describe('all or nothing', () => {
  it('restore --table: when one table fails, none of them is changed', async () => {
    const { name, url } = await createDatabase('tbl');
    await fillSampleData(name, 40);
    const dir = tempDir();
    const target = parseDatabaseUrl(url, dir);
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target, dir: backups });
    // The backup's posts (ids 1-80) break a constraint added since: restoring posts fails once invoices are done.
    await withClient(name, (c) => c.query('UPDATE billing.invoices SET paid = NULL; DELETE FROM posts WHERE id > 50; ALTER TABLE posts ADD CONSTRAINT few CHECK (id <= 50)'));
    const before = pgDump(name);
    const error = await rejection(restore({ ref: taken.manifest.id, dir: backups, target, tables: ['billing.invoices', 'posts'], confirm: yes }));
    expect(error.message).toMatch(/few/);
    expect(pgDump(name)).toBe(before);
  });

  it('a migration rollback that fails half-way leaves the database as the failed migration left it', async () => {
    const { name, url } = await createDatabase('rb');
    await fillSampleData(name, 20);
    await withClient(name, (c) =>
      c.query("CREATE FUNCTION no_creates() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no CREATE TABLE now'; END $$"),
    );
    const dir = tempDir();
    let failedState = '';
    const error = await rejection(
      withBackup({ target: parseDatabaseUrl(url, dir), dir: path.join(dir, 'backups') }, async () => {
        await withClient(name, (c) =>
          c.query(`
            CREATE TABLE half (id int); UPDATE users SET name = 'migrated';
            CREATE EVENT TRIGGER no_creates ON ddl_command_start WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION no_creates();`),
        );
        failedState = pgDump(name);
        throw new Error('migration failed');
      }),
    );
    // The rollback drops \`half\`, then its CREATE TABLEs (or the DROP of the trigger's function) fail.
    expect(error).toMatchObject({ name: 'DbguardError', message: expect.stringMatching(/rollback failed too/) });
    expect(rollbackReport(error)?.rollback).toBe('failed');
    expect((error as Error & { cause?: Error }).cause?.message).toBe('migration failed');
    expect(pgDump(name)).toBe(failedState);
  });

  it('a failed restore into a database it created drops that database again (without --jobs)', async () => {
    const { name, url } = await createDatabase('src');
    await fillSampleData(name, 10);
    const role = `reader_${name}`;
    await withClient(name, (c) => c.query(`CREATE ROLE ${role}; GRANT SELECT ON users TO ${role}`));
    const dir = tempDir();
    const backups = path.join(dir, 'backups');
    const taken = await backup({ target: parseDatabaseUrl(url, dir), dir: backups });
    // The backup grants to a role that no longer exists: restoring it fails at its GRANT, after the tables.
    await withClient(name, (c) => c.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`));
    const fresh = `${name}_copy`;
    const error = await rejection(
      restore({ ref: taken.manifest.id, dir: backups, target: parseDatabaseUrl(url.replace(/\/[^/]+$/, `/${fresh}`), dir), confirm: yes }),
    );
    expect(error.message).toMatch(/the database it created was dropped again[\s\S]*role/);
    expect(await databaseExists(fresh)).toBe(false);
  });
});

describe("the guard's audit log", () => {
  it('hides the password of a database URL on the approved command line', async () => {
    const { name, url } = await createDatabase('aud');
    await withClient(name, (c) => c.query('CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 5)'));
    const dir = tempDir();
    const result = await runCli(['run', '--approve', 'reset fixtures', '--', 'psql', url, '-c', 'TRUNCATE t'], { cwd: dir, env: { DATABASE_URL: url } });
    expect(result.code, result.stderr).toBe(0);
    expect(await withClient(name, async (c) => (await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n)).toBe(0); // it ran, with the password
    const audit = readFileSync(path.join(dir, 'backups', 'guard-audit.log'), 'utf8');
    const entry = JSON.parse(audit.trim());
    expect(entry.command).toMatch(/^psql '?postgresql:\/\/dbguard_test:\*\*\*@127\.0\.0\.1:\d+\/\w+'? -c 'TRUNCATE t'$/);
    for (const secret of [TEST_PASSWORD, encodeURIComponent(TEST_PASSWORD)]) expect(audit).not.toContain(secret);
  });
});
