import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, databaseExists, fillSampleData, server, snapshotContent, withClient } from './harness/pg-db.js';
import { pgUrl } from './harness/postgres.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';
import { withUnpackedDumpDirectory } from '../dist/engines/pg-directory.js';

async function ageKey(cwd: string): Promise<{ DBGUARD_AGE_RECIPIENTS: string; DBGUARD_AGE_IDENTITY_FILE: string }> {
  const file = path.join(cwd, 'key.txt');
  const generated = await runCli(['key', 'generate', '--out', file, '--json'], { cwd });
  expect(generated.code, generated.stderr).toBe(0);
  return { DBGUARD_AGE_RECIPIENTS: parseJson<{ recipient: string }>(generated).recipient, DBGUARD_AGE_IDENTITY_FILE: file };
}

const stagingLeftovers = (cwd: string) => readdirSync(path.join(cwd, 'backups', '.dbguard', 'staging'));

interface ManifestJson {
  id: string;
  file: string;
  format: string;
  compression: string;
  tables: Record<string, number>;
}

describe('parallel backup (--jobs)', () => {
  it('dumps with parallel jobs into one tar that tar and pg_restore read, and restores it every way', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 300);
    const original = await snapshotContent(db.name);
    const cwd = tempDir();
    // pg_dump's own gzip, table by table (the default, zstd, goes around the tar: see below).
    const taken = await runCli(['backup', '--json', '--jobs', '2', '--compress', 'gzip'], { cwd, env: { DATABASE_URL: db.url } });
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<ManifestJson>(taken);
    expect(manifest).toMatchObject({ format: 'pg-directory', compression: 'none' });
    expect(manifest.file.endsWith(`${manifest.id}.dump.tar`)).toBe(true);
    expect(manifest.tables).toEqual({ 'billing.invoices': 150, 'public.empty_table': 0, 'public.posts': 600, 'public.users': 300 });

    // Standard tools read it: tar lists toc.dat first, and pg_restore reads the unpacked folder.
    const entries = execFileSync('tar', ['-tf', manifest.file], { encoding: 'utf8' }).trim().split('\n');
    expect(entries[0]).toBe('toc.dat');
    expect(entries.slice(1).every((e) => /^\d+\.dat\.gz$/.test(e))).toBe(true);
    const unpacked = path.join(cwd, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xf', manifest.file, '-C', unpacked]);
    expect(execFileSync('pg_restore', ['--list', unpacked], { encoding: 'utf8' })).toMatch(/TABLE DATA public posts/);

    // Over the existing database (one transaction), into a new one with jobs, and one table only.
    await withClient(db.name, (c) => c.query('DELETE FROM posts; DROP TABLE billing.invoices'));
    const restored = await runCli(['restore', manifest.id, '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await snapshotContent(db.name)).toEqual(original);
    const copy = `${db.name}_copy`;
    const parallel = await runCli(['restore', manifest.id, '--yes', '--jobs', '2', '--to', pgUrl(server(), copy)], { cwd, env: { DATABASE_URL: db.url } });
    expect(parallel.code, parallel.stderr).toBe(0);
    expect(await snapshotContent(copy)).toEqual(original);
    await withClient(db.name, (c) => c.query("UPDATE posts SET title = 'changed'"));
    const oneTable = await runCli(['restore', manifest.id, '--yes', '--table', 'posts'], { cwd, env: { DATABASE_URL: db.url } });
    expect(oneTable.code, oneTable.stderr).toBe(0);
    expect(await snapshotContent(db.name)).toEqual(original);

    const verified = await runCli(['verify', manifest.id, '--restore-test', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(verified.code, verified.stderr).toBe(0);
    expect(parseJson<{ verification: unknown }>(verified).verification).toMatchObject({ ok: true, readable: 'ok', rowCounts: 'match' });
    expect(stagingLeftovers(cwd)).toEqual([]);
  });

  it('compresses the tar with zstd by default and encrypts it with age: age, zstd, tar and pg_restore read it', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 100);
    const cwd = tempDir();
    const key = await ageKey(cwd);
    const taken = await runCli(['backup', '--json', '--jobs', '2'], { cwd, env: { DATABASE_URL: db.url, ...key } });
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<ManifestJson>(taken);
    expect(manifest.file.endsWith('.dump.tar.zst.age')).toBe(true);
    const unpacked = path.join(cwd, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('sh', ['-c', `age -d -i "${key.DBGUARD_AGE_IDENTITY_FILE}" "${manifest.file}" | zstd -d | tar -x -C "${unpacked}"`]);
    expect(readdirSync(unpacked).every((f) => f === 'toc.dat' || /^\d+\.dat$/.test(f))).toBe(true); // pg_dump's own compression is off
    expect(execFileSync('pg_restore', ['--list', unpacked], { encoding: 'utf8' })).toMatch(/TABLE DATA public users/);

    const copy = `${db.name}_copy`;
    const restored = await runCli(['restore', manifest.id, '--yes', '--to', pgUrl(server(), copy)], { cwd, env: { DATABASE_URL: db.url, ...key } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await snapshotContent(copy)).toEqual(await snapshotContent(db.name));
  });

  it('keeps large objects (pg_dump writes them as blob_*.dat files with a blobs.toc)', async () => {
    const db = await createDatabase();
    await withClient(db.name, (c) =>
      c.query(`CREATE TABLE docs (id int PRIMARY KEY, content oid);
        INSERT INTO docs SELECT i, lo_from_bytea(0, convert_to(repeat('page ' || i, 500), 'UTF8')) FROM generate_series(1, 3) i`),
    );
    const cwd = tempDir();
    const taken = await runCli(['backup', '--json', '--jobs', '2'], { cwd, env: { DATABASE_URL: db.url } });
    expect(taken.code, taken.stderr).toBe(0);
    const entries = execFileSync('tar', ['-tf', parseJson<ManifestJson>(taken).file], { encoding: 'utf8' });
    expect(entries).toMatch(/^blobs\.toc$/m);
    const copy = `${db.name}_copy`;
    const restored = await runCli(['restore', 'latest', '--yes', '--jobs', '2', '--to', pgUrl(server(), copy)], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    const pages = (name: string) =>
      withClient(name, async (c) => (await c.query("SELECT id, convert_from(lo_get(content), 'UTF8') AS text FROM docs ORDER BY id")).rows);
    expect(await pages(copy)).toEqual(await pages(db.name));
    expect((await pages(copy))[2].text).toContain('page 3');
  });

  it('unpacks only plain files, and only an archive with a toc.dat', async () => {
    const cwd = tempDir();
    const make = (name: string, files: (dir: string) => void) => {
      const dir = path.join(cwd, name);
      mkdirSync(dir);
      files(dir);
      execFileSync('tar', ['-cf', `${dir}.tar`, '-C', dir, ...readdirSync(dir)]);
      return { kind: 'file' as const, path: `${dir}.tar`, packedDirectory: true };
    };
    const withLink = make('link', (dir) => {
      writeFileSync(path.join(dir, 'toc.dat'), 'x');
      symlinkSync('/etc/passwd', path.join(dir, '3001.dat'));
    });
    const noToc = make('notoc', (dir) => writeFileSync(path.join(dir, '3001.dat'), 'x'));
    const ok = make('ok', (dir) => writeFileSync(path.join(dir, 'toc.dat'), 'x'));
    await expect(withUnpackedDumpDirectory(withLink, { stagingDir: cwd }, async () => 1)).rejects.toThrow(/archive holds "3001\.dat", which a pg_dump directory never does/);
    await expect(withUnpackedDumpDirectory(noToc, { stagingDir: cwd }, async () => 1)).rejects.toThrow(/has no toc\.dat/);
    expect(await withUnpackedDumpDirectory({ ...ok }, { stagingDir: cwd }, async (dir) => readdirSync(dir))).toEqual(['toc.dat']);
  });

  it('refuses --jobs for SQLite', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 5 });
    const result = await runCli(['backup', '--jobs', '2', '--db', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--jobs is for PostgreSQL backups/);
  });
});

describe('parallel restore (--jobs)', () => {
  it('restores a compressed, encrypted backup into a new database with parallel jobs, staging on the backups disk', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 300);
    const cwd = tempDir();
    const key = await ageKey(cwd);
    const taken = await runCli(['backup', '--json', '--compress', 'zstd'], { cwd, env: { DATABASE_URL: db.url, ...key } });
    expect(taken.code, taken.stderr).toBe(0);

    const copy = `${db.name}_parallel`;
    const restored = await runCli(['restore', 'latest', '--yes', '--json', '--jobs', '2', '--to', pgUrl(server(), copy)], {
      cwd,
      env: { DATABASE_URL: db.url, ...key },
    });
    expect(restored.code, restored.stderr).toBe(0);
    expect(parseJson<{ createdTarget: boolean; safetyBackupId: null }>(restored)).toMatchObject({ createdTarget: true, safetyBackupId: null });
    expect(await snapshotContent(copy)).toEqual(await snapshotContent(db.name));
    expect(stagingLeftovers(cwd)).toEqual([]); // the decoded copy pg_restore -j needed is gone

    const verified = await runCli(['verify', 'latest', '--restore-test', '--jobs', '2', '--json'], { cwd, env: { DATABASE_URL: db.url, ...key } });
    expect(verified.code, verified.stderr).toBe(0);
    expect(parseJson<{ verification: unknown }>(verified).verification).toMatchObject({ ok: true, restoreTest: true, rowCounts: 'match' });
    expect(stagingLeftovers(cwd)).toEqual([]);
  });

  it('refuses --jobs over an existing database, with --table, or for SQLite, before changing anything', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 20);
    const cwd = tempDir();
    expect((await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url } })).code).toBe(0);
    await withClient(db.name, (c) => c.query('DELETE FROM posts'));
    const current = await snapshotContent(db.name);

    const over = await runCli(['restore', 'latest', '--yes', '--jobs', '2'], { cwd, env: { DATABASE_URL: db.url } });
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/--jobs restores into a new database only, and .* exists\. Nothing was changed/);
    expect(over.stderr).toMatch(/--to <a new database> --jobs N/);
    const withTable = await runCli(['restore', 'latest', '--yes', '--jobs', '2', '--table', 'posts'], { cwd, env: { DATABASE_URL: db.url } });
    expect(withTable.code).toBe(2);
    expect(withTable.stderr).toMatch(/cannot be combined with --table/);
    expect(await snapshotContent(db.name)).toEqual(current);
    expect(readdirSync(path.join(cwd, 'backups'))).not.toContain('pre-restore');

    const sqliteDir = tempDir();
    const file = createSqliteDb(sqliteDir, { orders: 5 });
    expect((await runCli(['backup', '--db', file], { cwd: sqliteDir })).code).toBe(0);
    const sqlite = await runCli(['restore', 'latest', '--yes', '--jobs', '2', '--db', file], { cwd: sqliteDir });
    expect(sqlite.code).toBe(2);
    expect(sqlite.stderr).toMatch(/--jobs is for PostgreSQL restores/);

    const bad = await runCli(['restore', 'latest', '--jobs', 'two'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/argument 'two' is invalid\. expected a whole number from 1 to 64/);
  });

  it('drops the database it created when a parallel restore fails part-way', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 30);
    // The dump grants to a role that is gone at restore time: pg_restore fails after the tables were filled.
    await withClient(db.name, (c) => c.query('CREATE ROLE dbguard_gone_jobs; GRANT SELECT ON users TO dbguard_gone_jobs'));
    const cwd = tempDir();
    expect((await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url } })).code).toBe(0);
    await withClient(db.name, (c) => c.query('REVOKE ALL ON users FROM dbguard_gone_jobs; DROP ROLE dbguard_gone_jobs'));

    const copy = `${db.name}_failed`;
    const restored = await runCli(['restore', 'latest', '--yes', '--jobs', '2', '--to', pgUrl(server(), copy)], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/Restore failed; the database it created was dropped again\..*dbguard_gone_jobs/s);
    expect(await databaseExists(copy)).toBe(false);
  });
});
