import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { mysqlUrl } from './harness/mariadb.js';
import { createMysqlDatabase, fillMysqlSample, fullDump, mysqlDatabases, mysqlServer, withMysql } from './harness/mysql-db.js';
import { tempDir } from './harness/tmp.js';

interface ManifestJson {
  id: string;
  file: string;
  format: string;
  engine: string;
  tables: Record<string, number>;
}

async function backupOf(url: string, cwd: string, extra: string[] = []): Promise<ManifestJson> {
  const result = await runCli(['backup', '--json', ...extra], { cwd, env: { DATABASE_URL: url } });
  expect(result.code, result.stderr).toBe(0);
  return parseJson<ManifestJson>(result);
}

const SAMPLE_COUNTS = { audit: 400, empty_table: 0, posts: 400, users: 300 };

describe('MySQL/MariaDB', () => {
  let sample: { name: string; url: string };
  let sampleDump: string;
  beforeAll(async () => {
    sample = await createMysqlDatabase('sample');
    await fillMysqlSample(sample.name);
    sampleDump = await fullDump(sample.name);
  });

  it('backs up and restores the database exactly: tables, views, triggers, routines, events, utf8mb4, blobs, JSON', async () => {
    const db = await createMysqlDatabase();
    await fillMysqlSample(db.name);
    const before = await fullDump(db.name);
    const cwd = tempDir();

    const manifest = await backupOf(db.url, cwd, ['--compress', 'none']);
    expect(manifest.engine).toBe('mysql');
    expect(manifest.format).toBe('mysql-sql');
    expect(manifest.file).toBe(path.join(cwd, 'backups', 'manual', `${manifest.id}.sql`));
    expect(manifest.tables).toEqual(SAMPLE_COUNTS);
    // A plain SQL script any MySQL client can load.
    expect(readFileSync(manifest.file, 'utf8')).toMatch(/-- Dump completed/);

    // Lose data every way: rows, values, a table, a view, a trigger, a routine, an event; add what was not there.
    await withMysql(db.name, (c) =>
      c.query(`DELETE FROM posts WHERE id > 10; UPDATE users SET name = 'oops'; DROP TABLE empty_table; DROP VIEW busy_users;
        DROP TRIGGER posts_audit; DROP FUNCTION shout; DROP EVENT nightly; CREATE TABLE extra (id int); CREATE VIEW v2 AS SELECT 1 AS one`),
    );

    const restored = await runCli(['restore', 'latest', '--yes', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    const result = parseJson<{ safetyBackupId: string; tables: Record<string, number> }>(restored);
    expect(result.tables).toEqual(SAMPLE_COUNTS);
    expect(result.safetyBackupId).toMatch(/before-restore$/);
    // What the backup holds is exactly back; what it does not hold is left alone (as on PostgreSQL).
    await withMysql(db.name, (c) => c.query('DROP TABLE extra; DROP VIEW v2'));
    expect(await fullDump(db.name)).toBe(before);
    expect((await mysqlDatabases()).filter((d) => d.startsWith('dbguard_'))).toEqual([]);
    // The triggers work on the swapped-in tables.
    await withMysql(db.name, (c) => c.query("INSERT INTO posts (user_id, title) VALUES (1, 'new')"));
    expect(await withMysql(db.name, async (c) => (await c.query('SELECT count(*) AS n FROM audit'))[0])).toEqual([{ n: 401 }]);

    // verify reads the dump's own counts; --restore-test loads it into a scratch database on the server.
    const verified = await runCli(['verify', manifest.id, '--restore-test', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(verified.code, verified.stderr).toBe(0);
    expect(parseJson<{ verification: { ok: boolean; rowCounts: string; restoreTest: boolean } }>(verified).verification).toMatchObject({
      ok: true,
      rowCounts: 'match',
      restoreTest: true,
    });
    expect((await mysqlDatabases()).filter((d) => d.startsWith('dbguard_'))).toEqual([]);
  });

  it('restores --to a database that does not exist yet, compressed and encrypted', async () => {
    const cwd = tempDir();
    const keys = path.join(cwd, 'key.txt');
    const generated = await runCli(['key', 'generate', '--out', keys, '--json'], { cwd });
    const { recipient } = parseJson<{ recipient: string }>(generated);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ encryption: { recipients: [recipient] } }));
    const manifest = await backupOf(sample.url, cwd, ['--compress', 'zstd']);
    expect(manifest.file.endsWith('.sql.zst.age')).toBe(true);
    const target = `copy_${randomBytes(4).toString('hex')}`;
    const restored = await runCli(['restore', manifest.id, '--yes', '--to', mysqlUrl(mysqlServer(), target), '--identity', keys], { cwd, env: { DATABASE_URL: sample.url } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await fullDump(target)).toBe(sampleDump);
  });

  it('--table replaces only those tables\' rows, in one transaction', async () => {
    const db = await createMysqlDatabase();
    await fillMysqlSample(db.name, 20);
    const cwd = tempDir();
    await backupOf(db.url, cwd);
    await withMysql(db.name, (c) => c.query("DELETE FROM audit; UPDATE users SET name = 'changed' WHERE id = 1"));
    const restored = await runCli(['restore', 'latest', '--yes', '--table', 'audit'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await withMysql(db.name, async (c) => (await c.query('SELECT count(*) AS n FROM audit'))[0])).toEqual([{ n: 26 }]);
    expect(await withMysql(db.name, async (c) => (await c.query('SELECT name FROM users WHERE id = 1'))[0])).toEqual([{ name: 'changed' }]);
  });

  it('a restore that fails after the swap puts everything back: the target is exactly as it was', async () => {
    const db = await createMysqlDatabase();
    await fillMysqlSample(db.name, 50);
    const cwd = tempDir();
    await backupOf(db.url, cwd);
    // The database moves on: different rows, and a new table (not in the backup) whose trigger takes the name of the
    // backup's posts_audit. The backup's tables load and swap in; recreating its trigger then fails.
    await withMysql(db.name, (c) =>
      c.query(`DELETE FROM posts WHERE id % 2 = 0; UPDATE users SET name = 'moved on'; DROP TRIGGER posts_audit;
        CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'kept');
        CREATE TRIGGER posts_audit BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = TRIM(NEW.body);
        CREATE VIEW busy AS SELECT id FROM users WHERE id < 3`),
    );
    const before = await fullDump(db.name);

    const restored = await runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/Restore failed; the database was left as it was/);
    expect(restored.stderr).toMatch(/swapped back.*posts_audit/s);
    expect(await fullDump(db.name)).toBe(before);
    expect((await mysqlDatabases()).filter((d) => d.startsWith('dbguard_'))).toEqual([]);
  });

  it('a backup that fails to load changes nothing: a dump cut short is refused, one that breaks part-way rolls nothing in', async () => {
    const db = await createMysqlDatabase();
    await fillMysqlSample(db.name, 30);
    const cwd = tempDir();
    const manifest = await backupOf(db.url, cwd, ['--compress', 'none']);
    await withMysql(db.name, (c) => c.query("UPDATE users SET name = 'after'"));
    const before = await fullDump(db.name);

    // A statement that fails half-way through the script, with the manifest's checksum made to match: only the
    // scratch database sees the first half.
    const script = readFileSync(manifest.file, 'utf8');
    const broken = script.replace(/-- Table structure for table `users`/, 'INSERT INTO no_such_table VALUES (1);\n$&');
    expect(broken).not.toBe(script);
    writeFileSync(manifest.file, broken);
    const manifestPath = manifest.file.replace(/\.sql$/, '.json');
    const { createHash } = await import('node:crypto');
    const stored = JSON.parse(readFileSync(manifestPath, 'utf8')) as { sha256: string; size: number };
    stored.sha256 = createHash('sha256').update(broken).digest('hex');
    stored.size = Buffer.byteLength(broken);
    writeFileSync(manifestPath, JSON.stringify(stored));
    const failed = await runCli(['restore', manifest.id, '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/no_such_table/);
    expect(await fullDump(db.name)).toBe(before);

    // Cut short: refused before anything is touched (no safety backup either).
    const cut = script.slice(0, Math.floor(script.length / 2));
    writeFileSync(manifest.file, cut);
    stored.sha256 = createHash('sha256').update(cut).digest('hex');
    stored.size = Buffer.byteLength(cut);
    writeFileSync(manifestPath, JSON.stringify(stored));
    const refused = await runCli(['restore', manifest.id, '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/incomplete/);
    expect(await fullDump(db.name)).toBe(before);
    expect((await mysqlDatabases()).filter((d) => d.startsWith('dbguard_'))).toEqual([]);
  });

  it('refuses what it does not do for MySQL/MariaDB by name, exit 2, keeping nothing: --jobs and export', async () => {
    const cwd = tempDir();
    const env = { DATABASE_URL: sample.url };
    const jobs = await runCli(['backup', '--jobs', '2'], { cwd, env });
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain('a MySQL/MariaDB dump is one stream');
    const exported = await runCli(['export', '--subject', 'items=1'], { cwd, env });
    expect(exported.code).toBe(2);
    expect(exported.stderr).toContain('dbguard export does not support MySQL/MariaDB databases yet.');
    expect(readdirSync(cwd, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
  });

  it('protect records the environment in the database, as on PostgreSQL and SQLite', async () => {
    const db = await createMysqlDatabase();
    const cwd = tempDir();
    const marked = await runCli(['protect', '--env', 'production'], { cwd, env: { DATABASE_URL: db.url } });
    expect(marked.code, marked.stderr).toBe(0);
    const shown = await runCli(['protect', '--show'], { cwd, env: { DATABASE_URL: db.url } });
    expect(shown.stdout).toMatch(/production/);
    expect(await withMysql(db.name, async (c) => (await c.query('SELECT `key`, value FROM _dbguard'))[0])).toEqual([{ key: 'environment', value: 'production' }]);
  });

  it('never shows the password: not in manifests, output, errors, or the tools\' arguments; wrong password and unreachable server fail clearly', async () => {
    const password = `Unique:${randomBytes(6).toString('hex')}@/\\x#`;
    const user = `secret_${randomBytes(3).toString('hex')}`;
    const db = await createMysqlDatabase();
    await withMysql(null, async (c) => {
      await c.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO ?@?`, [user, '%']);
    });
    await withMysql(db.name, (c) => c.query("CREATE TABLE t (id int PRIMARY KEY, s text); INSERT INTO t VALUES (1, 'a'), (2, 'b')"));
    const { host, port } = mysqlServer();
    const url = (pw: string) => `mysql://${user}:${encodeURIComponent(pw)}@${host}:${port}/${db.name}`;
    const cwd = tempDir();
    const secrets = [password, encodeURIComponent(password), password.slice(7, 19)];

    const seenArgs: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            seenArgs.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
          } catch {
            // the process ended
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const backedUp = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: url(password) } });
    const restored = await runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: url(password) } });
    watching = false;
    await watcher;
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(restored.code, restored.stderr).toBe(0);
    expect(seenArgs.some((a) => a.includes('mariadb-dump') && a.includes(user))).toBe(true);
    expect(seenArgs.some((a) => /mariadb --no-defaults/.test(a) && a.includes(user))).toBe(true);

    const wrong = await runCli(['backup'], { cwd, env: { DATABASE_URL: url(`${password}-wrong`) } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`rejected user "${user}"`));
    const refused = await runCli(['backup'], { cwd, env: { DATABASE_URL: `mysql://x:y@127.0.0.1:${port === 1 ? 2 : 1}/app` } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Cannot connect to MySQL at 127\.0\.0\.1:\d+: connection refused/);
    const missing = await runCli(['backup'], { cwd, env: { DATABASE_URL: url(password).replace(db.name, 'no_such_db') } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Database "no_such_db" does not exist/);

    const manifests = readdirSync(path.join(cwd, 'backups'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(path.join(cwd, 'backups', f), 'utf8'));
    const everything = [backedUp.stdout, backedUp.stderr, restored.stdout, restored.stderr, wrong.stderr, refused.stderr, missing.stderr, ...manifests, ...seenArgs].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe('MySQL/MariaDB killed mid-way', () => {
  let db: { name: string; url: string };
  let dump: string;
  let cwd: string;
  beforeAll(async () => {
    db = await createMysqlDatabase('big');
    await withMysql(db.name, async (c) => {
      await c.query('CREATE TABLE blobs (id int PRIMARY KEY, payload text)');
      await c.query('INSERT INTO blobs SELECT seq, CONCAT(MD5(seq), REPEAT(MD5(seq * 7), 12)) FROM seq_1_to_100000');
    });
    cwd = tempDir('dbguard-test-kill-');
    const manifest = await backupOf(db.url, cwd);
    expect(manifest.tables).toEqual({ blobs: 100_000 });
    await withMysql(db.name, (c) => c.query('DELETE FROM blobs WHERE id % 10 = 0'));
    dump = await fullDump(db.name);
  });

  /** Starts the CLI and SIGKILLs it once a process whose arguments match `tool` runs. */
  async function killWhenRunning(args: string[], tool: RegExp) {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
    for (;;) {
      if (child.exitCode !== null) throw new Error(`ended before it could be killed: ${stderr}`);
      const running = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .some((pid) => {
          try {
            return tool.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
          } catch {
            return false;
          }
        });
      if (running) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    return closed;
  }

  it('SIGKILL during a restore leaves the target as it was; the next restore removes the scratch database and succeeds', async () => {
    expect(await killWhenRunning(['restore', 'latest', '--type', 'manual', '--yes'], /mariadb --no-defaults .*dbguard_restore_/)).toBe('SIGKILL');
    // The client tool loading the scratch database may outlive dbguard by a moment: wait for it to finish.
    await new Promise((r) => setTimeout(r, 500));
    expect(await fullDump(db.name)).toBe(dump);
    expect((await mysqlDatabases()).some((d) => d.startsWith('dbguard_restore_'))).toBe(true);

    const again = await runCli(['restore', 'latest', '--type', 'manual', '--yes', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(again.code, again.stderr).toBe(0);
    expect(parseJson<{ tables: Record<string, number> }>(again).tables).toEqual({ blobs: 100_000 });
    expect((await mysqlDatabases()).filter((d) => d.startsWith('dbguard_'))).toEqual([]);
  });

  it('SIGKILL during a backup leaves nothing that lists as complete', async () => {
    const fresh = tempDir();
    const child = spawn(process.execPath, [CLI, 'backup'], { cwd: fresh, env: { ...process.env, DATABASE_URL: db.url }, stdio: 'ignore' });
    while (!existsSync(path.join(fresh, 'backups', 'manual')) || !readdirSync(path.join(fresh, 'backups', 'manual')).some((f) => f.endsWith('.partial'))) {
      if (child.exitCode !== null) throw new Error('backup ended before it could be killed');
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd: fresh }))).toEqual([]);
    const next = await runCli(['backup', '--json'], { cwd: fresh, env: { DATABASE_URL: db.url } });
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(path.join(fresh, 'backups', 'manual')).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
