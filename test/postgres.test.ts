import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, databaseExists, fillSampleData, server, snapshotContent, withClient } from './harness/pg-db.js';
import { pgUrl } from './harness/postgres.js';

/** The sample tables, created by the role in `url` (so it owns them). */
async function fillSampleDataAs(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE users (id serial PRIMARY KEY, email text, note text);
      INSERT INTO users (email, note) SELECT 'u' || i || '@example.com', repeat('n', i % 40) FROM generate_series(1, 3000) i`);
  } finally {
    await client.end();
  }
}
import { tempDir } from './harness/tmp.js';

interface ManifestJson {
  id: string;
  type: string;
  file: string;
  size: number;
  sha256: string;
  tables: Record<string, number>;
  engine: string;
  database: { name: string; host: string | null };
  verification?: { ok: boolean; problems: string[] };
}

async function backupOf(url: string, cwd: string, extra: string[] = []): Promise<ManifestJson> {
  const result = await runCli(['backup', '--json', ...extra], { cwd, env: { DATABASE_URL: url } });
  expect(result.code, result.stderr).toBe(0);
  return parseJson<ManifestJson>(result);
}

describe('PostgreSQL', () => {
  it('backs up and restores the whole database, content identical table by table', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name);
    const before = await snapshotContent(db.name);
    const cwd = tempDir();

    const manifest = await backupOf(db.url, cwd, ['--label', 'Before Deploy!']);
    expect(manifest.id).toMatch(new RegExp(`^${db.name.replace('_', '-')}-\\d{8}T\\d{6}Z-before-deploy$`));
    expect(manifest.file).toBe(path.join(cwd, 'backups', 'manual', `${manifest.id}.dump.zst`));
    expect(manifest.tables).toEqual({ 'billing.invoices': 250, 'public.empty_table': 0, 'public.posts': 1000, 'public.users': 500 });
    // A pg_dump archive inside zstd: `zstd -d` gives what pg_restore reads.
    expect(execFileSync('zstd', ['-dc', manifest.file]).subarray(0, 5).toString()).toBe('PGDMP');

    // Lose data three ways: a dropped table, deleted rows, changed values.
    await withClient(db.name, (c) => c.query(`DROP TABLE billing.invoices; DELETE FROM posts WHERE id > 10; UPDATE users SET name = 'oops'`));

    const restored = await runCli(['restore', 'latest', '--yes', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    const result = parseJson<{ safetyBackupId: string; tables: Record<string, number> }>(restored);
    expect(result.tables).toEqual(manifest.tables);
    expect(await snapshotContent(db.name)).toEqual(before);

    // The safety backup holds the damaged state, so the restore itself can be undone.
    const list = parseJson<ManifestJson[]>(await runCli(['list', '--json', '--type', 'pre-restore'], { cwd }));
    expect(list.map((m) => m.id)).toEqual([result.safetyBackupId]);
    expect(list[0]!.tables['public.posts']).toBe(10);
    expect(list[0]!.tables['billing.invoices']).toBeUndefined();
  });

  it('verifies with pg_restore --list and with a restore test into a scratch database that is dropped after', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 50);
    const cwd = tempDir();
    await backupOf(db.url, cwd);

    const verified = await runCli(['verify', 'latest', '--restore-test', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(verified.code, verified.stderr).toBe(0);
    const v = parseJson<{ verification: { ok: boolean; restoreTest: boolean; rowCounts: string } }>(verified);
    expect(v.verification).toMatchObject({ ok: true, restoreTest: true, rowCounts: 'match' });
    const scratch = await withClient('postgres', (c) => c.query("SELECT datname FROM pg_database WHERE datname LIKE 'dbguard_scratch_%'"));
    expect(scratch.rowCount).toBe(0);

    const shown = parseJson<ManifestJson>(await runCli(['show', 'latest', '--json'], { cwd }));
    expect(shown.verification?.ok).toBe(true);
  });

  it('refuses a corrupted backup before touching anything', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 20);
    const cwd = tempDir();
    const manifest = await backupOf(db.url, cwd);
    const bytes = readFileSync(manifest.file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(manifest.file, bytes);
    await withClient(db.name, (c) => c.query('DELETE FROM posts'));
    const damaged = await snapshotContent(db.name);

    const restored = await runCli(['restore', manifest.id, '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code).toBe(3);
    expect(restored.stderr).toMatch(/corrupted: its checksum does not match/);
    expect(await snapshotContent(db.name)).toEqual(damaged);
    expect(readdirSync(path.join(cwd, 'backups'))).not.toContain('pre-restore'); // no safety backup either: nothing was started

    const verified = await runCli(['verify', manifest.id], { cwd });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/FAILED .*checksum mismatch/s);
  });

  it('leaves the target exactly as it was when the restore fails part-way', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 30);
    // The dump ends with a GRANT to a role that will not exist at restore time: pg_restore fails after
    // it has dropped, recreated and refilled every table.
    await withClient(db.name, (c) => c.query('CREATE ROLE dbguard_gone; GRANT SELECT ON users TO dbguard_gone'));
    const cwd = tempDir();
    await backupOf(db.url, cwd);
    await withClient(db.name, (c) => c.query('REVOKE ALL ON users FROM dbguard_gone; DROP ROLE dbguard_gone'));
    await withClient(db.name, (c) => c.query("DELETE FROM posts WHERE id % 2 = 0; INSERT INTO empty_table VALUES (1), (2)"));
    const current = await snapshotContent(db.name);

    const restored = await runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/Restore failed; the database was left as it was/);
    expect(restored.stderr).toMatch(/dbguard_gone/);
    expect(await snapshotContent(db.name)).toEqual(current);
  });

  it('restores into another database with --to, creating it, and only some tables with --table', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 40);
    const cwd = tempDir();
    await backupOf(db.url, cwd);
    const copyName = `${db.name}_copy`;
    const restored = await runCli(['restore', 'latest', '--yes', '--json', '--to', pgUrl(server(), copyName)], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(parseJson<{ createdTarget: boolean; safetyBackupId: null }>(restored)).toMatchObject({ createdTarget: true, safetyBackupId: null });
    expect(await snapshotContent(copyName)).toEqual(await snapshotContent(db.name));

    await withClient(db.name, (c) => c.query("UPDATE posts SET title = 'changed'; DELETE FROM billing.invoices; UPDATE users SET name = 'kept'"));
    const tableRestore = await runCli(['restore', 'latest', '--type', 'manual', '--yes', '--table', 'posts', 'billing.invoices'], {
      cwd,
      env: { DATABASE_URL: db.url },
    });
    expect(tableRestore.code, tableRestore.stderr).toBe(0);
    const after = await snapshotContent(db.name);
    const original = await snapshotContent(copyName);
    expect(after['public.posts']).toEqual(original['public.posts']);
    expect(after['billing.invoices']).toEqual(original['billing.invoices']);
    expect((after['public.users'] as Array<{ name: string }>).every((u) => u.name === 'kept')).toBe(true);

    const unknown = await runCli(['restore', 'latest', '--yes', '--table', 'nope'], { cwd, env: { DATABASE_URL: db.url } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no table "nope"/);
  });

  it('refuses a restore without a terminal unless --yes, and changes nothing', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name, 10);
    const cwd = tempDir();
    await backupOf(db.url, cwd);
    await withClient(db.name, (c) => c.query('DELETE FROM posts'));
    const restored = await runCli(['restore', 'latest'], { cwd, env: { DATABASE_URL: db.url } });
    expect(restored.code).toBe(3);
    expect(restored.stderr).toMatch(/Refusing to restore without confirmation/);
    expect(restored.stderr).toMatch(/--yes/);
    expect(await withClient(db.name, (c) => c.query('SELECT count(*)::int AS n FROM posts'))).toMatchObject({ rows: [{ n: 0 }] });
  });

  it('never shows the password: not in manifests, output, errors, or pg_dump/pg_restore arguments', async () => {
    // A role of its own with a password no other test uses: other tests may legitimately put theirs on a
    // command line, and this one watches every process on the machine.
    const password = `Unique:${randomBytes(6).toString('hex')}@/\\x`;
    const role = `secret_${randomBytes(3).toString('hex')}`;
    const base = await createDatabase();
    await withClient('postgres', (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${password.replace(/'/g, "''")}'`));
    await withClient('postgres', (c) => c.query(`ALTER DATABASE ${base.name} OWNER TO ${role}`));
    const url = (pw: string) => `postgresql://${role}:${encodeURIComponent(pw)}@${server().host}:${server().port}/${base.name}`;
    const db = { name: base.name, url: url(password) };
    await fillSampleDataAs(db.url);
    const cwd = tempDir();
    const encoded = encodeURIComponent(password);
    const secrets = [password, encoded, password.slice(7, 19)];

    // Watch every process's arguments while a backup and a restore run.
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
    const backedUp = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    const restored = await runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    watching = false;
    await watcher;
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(restored.code, restored.stderr).toBe(0);
    expect(seenArgs.some((a) => a.includes('pg_dump'))).toBe(true);
    expect(seenArgs.some((a) => a.includes('pg_restore'))).toBe(true);

    const wrong = await runCli(['backup'], { cwd, env: { DATABASE_URL: url(`${password}-wrong`) } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`rejected user "${role}"`));

    const malformed = await runCli(['backup', '--db', `postgresql://u:${encoded}@[bad/x`], { cwd });
    expect(malformed.code).toBe(2);

    // Manifests, and the attempt history that records the failed (wrong password) attempt's error.
    const jsonFiles = readdirSync(path.join(cwd, 'backups'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.json'));
    expect(jsonFiles.filter((f) => !f.startsWith('.dbguard')).length).toBe(2);
    const manifests = jsonFiles.map((f) => readFileSync(path.join(cwd, 'backups', f), 'utf8'));
    expect(manifests.join('\n')).toMatch(/rejected user/);
    const everything = [backedUp.stdout, backedUp.stderr, restored.stdout, restored.stderr, wrong.stderr, malformed.stderr, ...manifests, ...seenArgs].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('fails clearly, writing nothing, when the server is unreachable or the database missing', async () => {
    const cwd = tempDir();
    const { port } = server();
    const refused = await runCli(['backup'], { cwd, env: { DATABASE_URL: `postgresql://x:y@127.0.0.1:${port === 1 ? 2 : 1}/app` } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/connection refused/);
    const missing = await runCli(['backup'], { cwd, env: { DATABASE_URL: pgUrl(server(), 'no_such_db') } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Database "no_such_db" does not exist/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(await databaseExists('no_such_db')).toBe(false);
  });

  it('refuses to start with a pg_dump older than the server, naming both versions, and keeps nothing', async () => {
    const db = await createDatabase();
    const cwd = tempDir();
    const bin = path.join(cwd, 'old-bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 11.22"\n', { mode: 0o755 });
    const result = await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url, DBGUARD_PG_BINDIR: bin } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump 11\.22 is older than the PostgreSQL 15 server and cannot dump it/);
    expect(result.stderr).toMatch(/hint: Install the PostgreSQL 15 client tools/);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);
    expect(readdirSync(path.join(cwd, 'backups', 'manual'))).toEqual([]);
  });
});
