import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAudit } from '../../src/guard/audit.js';
import { backupLabel, commandLine } from '../../src/guard/run.js';
import { runCli } from '../harness/cli.js';
import { createDatabase, server, withClient } from '../harness/pg-db.js';
import { TEST_PASSWORD, TEST_USER } from '../harness/postgres.js';
import { sqliteExec, sqliteQuery } from '../harness/sqlite-db.js';
import { tempDir } from '../harness/tmp.js';

function sqliteProject(): { dir: string; db: string; count: () => number } {
  const dir = tempDir('dbguard-run-');
  const db = path.join(dir, 'app.db');
  sqliteExec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO t (note) VALUES ('a'), ('b'), ('c');");
  return { dir, db, count: () => sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM t').n };
}

function backupIdFrom(stderr: string): string {
  const match = /dbguard: backup (\S+) taken before running the command\./.exec(stderr);
  if (!match) throw new Error(`no backup id in:\n${stderr}`);
  expect(stderr).toContain(`dbguard: to undo: dbguard restore ${match[1]}`);
  return match[1]!;
}

describe('dbguard run against SQLite', () => {
  it('runs an allowed command without a backup and exits with its code', async () => {
    const { dir } = sqliteProject();
    const ok = await runCli(['run', '--', 'sqlite3', 'app.db', 'SELECT count(*) FROM t'], { cwd: dir, env: { DATABASE_URL: 'file:./app.db' } });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe('3');
    expect(existsSync(path.join(dir, 'backups'))).toBe(false);
    const failed = await runCli(['run', '--', 'sh -c "exit 7"'], { cwd: dir });
    expect(failed.code).toBe(7);
  });

  it('takes a migration backup before a schema change, then runs it', async () => {
    const { dir, db } = sqliteProject();
    const result = await runCli(['run', '--', 'sqlite3', 'app.db', 'ALTER TABLE t ADD COLUMN extra TEXT'], { cwd: dir, env: { DATABASE_URL: 'file:./app.db' } });
    expect(result.code, result.stderr).toBe(0);
    const id = backupIdFrom(result.stderr);
    expect(id).toContain('sqlite3');
    expect(existsSync(path.join(dir, 'backups', 'migration', `${id}.json`))).toBe(true);
    expect(sqliteQuery<{ n: number }>(db, "SELECT count(*) AS n FROM pragma_table_info('t') WHERE name = 'extra'").n).toBe(1);
    const list = await runCli(['list', '--json'], { cwd: dir, env: { DATABASE_URL: 'file:./app.db' } });
    expect(list.stdout).toContain(id);
  });

  it('refuses a destructive command without approval: exit 3, nothing runs, no backup', async () => {
    const { dir, count } = sqliteProject();
    const result = await runCli(['run', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], {
      cwd: dir,
      env: { DATABASE_URL: 'file:./app.db', PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION: 'yes', DBGUARD_APPROVE: '1' },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('DELETE without WHERE');
    expect(result.stderr).toContain('--approve');
    expect(count()).toBe(3);
    expect(existsSync(path.join(dir, 'backups'))).toBe(false);
  });

  it('with --approve: backs up first, runs it, records the approval, and the backup restores the rows', async () => {
    const { dir, count } = sqliteProject();
    const env = { DATABASE_URL: 'file:./app.db' };
    const started = Math.floor(Date.now() / 1000) * 1000; // the log's time may be to the second
    const result = await runCli(['run', '--approve', 'clearing test data', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], { cwd: dir, env });
    const ended = Date.now();
    expect(result.code, result.stderr).toBe(0);
    const id = backupIdFrom(result.stderr);
    expect(count()).toBe(0);

    const log = path.join(dir, 'backups', 'guard-audit.log');
    expect(statSync(log).mode & 0o777).toBe(0o600);
    const [entry, ...rest] = await readAudit(path.join(dir, 'backups'));
    expect(rest).toHaveLength(0);
    expect(entry).toMatchObject({ command: "sqlite3 app.db 'DELETE FROM t'", reason: 'clearing test data', approvedBy: 'flag', backupId: id, rules: ['sql-delete-without-where'] });
    expect(Date.parse(entry!.time)).toBeGreaterThanOrEqual(started);
    expect(Date.parse(entry!.time)).toBeLessThanOrEqual(ended);

    const restored = await runCli(['restore', id, '--yes'], { cwd: dir, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(count()).toBe(3);
  });

  it('does not run the command when the backup fails', async () => {
    const { dir, count } = sqliteProject();
    const result = await runCli(['run', '--approve', 'x', '--db', './missing.db', '--', 'sh', '-c', 'sqlite3 app.db "DELETE FROM t"'], { cwd: dir });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('does not exist');
    expect(count()).toBe(3);
    expect(existsSync(path.join(dir, 'backups', 'guard-audit.log'))).toBe(false);
  });

  it('backs up the database the command names in its DATABASE_URL prefix', async () => {
    const { dir, count } = sqliteProject();
    sqliteExec(path.join(dir, 'other.db'), 'CREATE TABLE u (id INTEGER)');
    const result = await runCli(['run', '--approve', 'reset', '--', "DATABASE_URL=file:./app.db sh -c 'sqlite3 app.db \"DELETE FROM t\"'"], {
      cwd: dir,
      env: { DATABASE_URL: 'file:./other.db' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(backupIdFrom(result.stderr)).toMatch(/^app-/);
    expect(count()).toBe(0);
  });

  it('never crashes on a database URL it cannot use: falls back to the configured database', async () => {
    const { dir } = sqliteProject();
    const result = await runCli(['run', '--', 'DATABASE_URL=redis://x@h/db sqlite3 app.db "ALTER TABLE t ADD COLUMN y TEXT"'], { cwd: dir, env: { DATABASE_URL: 'file:./app.db' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('using the configured database');
    expect(backupIdFrom(result.stderr)).toMatch(/^app-/);
  });
});

describe('production marker', () => {
  it('protect records the environment in the database; approved destructive commands are then refused', async () => {
    const { dir, db, count } = sqliteProject();
    const env = { DATABASE_URL: 'file:./app.db' };
    expect((await runCli(['protect', '--show'], { cwd: dir, env })).stdout).toContain('no environment marker');
    const marked = await runCli(['protect', '--env', 'production'], { cwd: dir, env });
    expect(marked.code, marked.stderr).toBe(0);
    expect(sqliteQuery<{ value: string }>(db, "SELECT value FROM _dbguard WHERE key = 'environment'").value).toBe('production');
    expect(JSON.parse((await runCli(['protect', '--show', '--json'], { cwd: dir, env })).stdout)).toMatchObject({ environment: 'production' });
    await runCli(['protect', '--env', 'production'], { cwd: dir, env });

    const refused = await runCli(['run', '--approve', 'really', '--production', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('marked as production');
    expect(count()).toBe(3);

    const schemaChange = await runCli(['run', '--', 'sqlite3', 'app.db', 'ALTER TABLE t ADD COLUMN y TEXT'], { cwd: dir, env });
    expect(schemaChange.code, schemaChange.stderr).toBe(0);

    expect((await runCli(['protect', '--clear'], { cwd: dir, env })).code).toBe(0);
    const approved = await runCli(['run', '--approve', 'staging now', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], { cwd: dir, env });
    expect(approved.code, approved.stderr).toBe(0);
    expect(count()).toBe(0);
  });
});

describe('production marker that cannot be read', () => {
  it('says so and goes on: the command is still checked, approved, backed up and run', async () => {
    const { dir, db, count } = sqliteProject();
    sqliteExec(db, 'CREATE TABLE _dbguard (something_else TEXT)'); // a table of the app's own with dbguard's name
    const env = { DATABASE_URL: 'file:./app.db' };
    const refused = await runCli(['run', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], { cwd: dir, env });
    expect(refused.code).toBe(3);
    const approved = await runCli(['run', '--approve', 'fixtures', '--', 'sqlite3', 'app.db', 'DELETE FROM t'], { cwd: dir, env });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toMatch(/could not read the environment marker of \S*app\.db .*; not checked/);
    expect(backupIdFrom(approved.stderr)).toMatch(/^app-/);
    expect(count()).toBe(0);
  });
});

describe('dbguard run against PostgreSQL', () => {
  const psql = (name: string, sql: string) => {
    const { host, port } = server();
    return ['psql', '-h', host, '-p', String(port), '-U', TEST_USER, '-d', name, '-v', 'ON_ERROR_STOP=1', '-c', sql];
  };
  const rows = (name: string) => withClient(name, async (c) => Number((await c.query('SELECT count(*) AS n FROM t')).rows[0].n));

  async function pgProject() {
    const { name, url } = await createDatabase('guard');
    await withClient(name, (c) => c.query("CREATE TABLE t (id serial PRIMARY KEY, note text); INSERT INTO t (note) SELECT 'row ' || i FROM generate_series(1, 50) i"));
    const dir = tempDir('dbguard-run-pg-');
    await writeFile(path.join(dir, '.env'), `DATABASE_URL=${url}\n`);
    return { name, dir, env: { PGPASSWORD: TEST_PASSWORD } };
  }

  it('backs up before a schema change', async () => {
    const { name, dir, env } = await pgProject();
    const result = await runCli(['run', '--', ...psql(name, 'ALTER TABLE t ADD COLUMN extra int')], { cwd: dir, env });
    expect(result.code, result.stderr).toBe(0);
    const id = backupIdFrom(result.stderr);
    expect(existsSync(path.join(dir, 'backups', 'migration', `${id}.json`))).toBe(true);
  });

  it('refuses TRUNCATE without approval, and with approval backs up, truncates, and the backup restores it', async () => {
    const { name, dir, env } = await pgProject();
    const refused = await runCli(['run', '--', ...psql(name, 'TRUNCATE t')], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(await rows(name)).toBe(50);

    const approved = await runCli(['run', '--approve', 'reload fixtures', '--', ...psql(name, 'TRUNCATE t')], { cwd: dir, env });
    expect(approved.code, approved.stderr).toBe(0);
    const id = backupIdFrom(approved.stderr);
    expect(await rows(name)).toBe(0);
    const audit = await readFile(path.join(dir, 'backups', 'guard-audit.log'), 'utf8');
    expect(JSON.parse(audit.trim())).toMatchObject({ reason: 'reload fixtures', backupId: id, rules: expect.arrayContaining([expect.stringContaining('truncate')]) });
    expect(audit).not.toContain(TEST_PASSWORD);

    const restored = await runCli(['restore', id, '--yes'], { cwd: dir, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await rows(name)).toBe(50);
  });

  it('honours a production marker in PostgreSQL', async () => {
    const { name, dir, env } = await pgProject();
    expect((await runCli(['protect', '--env', 'production'], { cwd: dir, env })).code).toBe(0);
    const refused = await runCli(['run', '--approve', 'sure', '--', ...psql(name, 'TRUNCATE t')], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('marked as production');
    expect(await rows(name)).toBe(50);
  });
});

describe('run helpers', () => {
  it('labels backups after the command and quotes it for the log', () => {
    expect(backupLabel(['npx', 'prisma', 'migrate', 'dev', '--name', 'x'])).toBe('prisma migrate dev');
    expect(backupLabel(['DATABASE_URL=x npm run db:push'])).toBe('db:push');
    expect(commandLine(['sqlite3', 'a.db', 'DELETE FROM t'])).toBe("sqlite3 a.db 'DELETE FROM t'");
    expect(commandLine(['npm run x && y'])).toBe('npm run x && y');
  });
});
