import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, databaseExists, fillSampleData, server, snapshotContent, withClient } from './harness/pg-db.js';
import { pgUrl } from './harness/postgres.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

async function ageKey(cwd: string): Promise<{ DBGUARD_AGE_RECIPIENTS: string; DBGUARD_AGE_IDENTITY_FILE: string }> {
  const file = path.join(cwd, 'key.txt');
  const generated = await runCli(['key', 'generate', '--out', file, '--json'], { cwd });
  expect(generated.code, generated.stderr).toBe(0);
  return { DBGUARD_AGE_RECIPIENTS: parseJson<{ recipient: string }>(generated).recipient, DBGUARD_AGE_IDENTITY_FILE: file };
}

const stagingLeftovers = (cwd: string) => readdirSync(path.join(cwd, 'backups', '.dbguard', 'staging'));

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
