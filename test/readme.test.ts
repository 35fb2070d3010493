/*
 * README promises, each tried as a user would (CLI, real SQLite files, a real small disk) or through the library as
 * the README shows it. Each test was watched failing with the code behind it broken.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl, restore, type RestoreStep } from '../dist/index.js';
import { parseJson, runCli } from './harness/cli.js';
import { createSqliteDb, sqliteContent, sqliteExec } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const sqliteSchema = (file: string) => execFileSync('sqlite3', [file, '.schema'], { encoding: 'utf8' });

describe('configuration', () => {
  it('is read from the "dbguard" key of package.json and from dbguard.config.mjs', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'app', dbguard: { backupDir: 'from-package' } }));
    expect(parseJson<{ backupDir: string }>(await runCli(['config', '--json'], { cwd })).backupDir).toBe(path.join(cwd, 'from-package'));
    writeFileSync(path.join(cwd, 'dbguard.config.mjs'), "export default { backupDir: 'from-mjs' };\n");
    expect(parseJson<{ backupDir: string }>(await runCli(['config', '--json'], { cwd })).backupDir).toBe(path.join(cwd, 'from-mjs'));
  });

  it('an unknown nested key gets the keys allowed where it is; a wrong type names the key (exit 2)', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ retention: { automatic: { keepDialy: 3 } } }));
    const nested = await runCli(['config'], { cwd });
    expect(nested.code).toBe(2);
    expect(nested.stderr).toMatch(/retention\.automatic: Unrecognized key: "keepDialy"/);
    expect(nested.stderr).toMatch(/hint: Allowed keys in retention\.automatic: keepLast, maxAgeDays, keepDaily, keepWeekly, keepMonthly\./);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ prune: { afterBackup: 'no' } }));
    const wrongType = await runCli(['config'], { cwd });
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toMatch(/prune\.afterBackup: .*expected boolean/);
    expect(wrongType.stderr).not.toMatch(/Allowed keys: backupDir/);
  });

  it('`dbguard config` hides secrets: the URL password, the passphrase, webhook URLs from the environment', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ notify: [{ type: 'slack', url: '${SLACK_WEBHOOK_URL}' }] }));
    const env = {
      DATABASE_URL: 'postgresql://app:pw-url-secret@db.internal:5432/app',
      DBGUARD_PASSPHRASE: 'passphrase-secret',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/webhook-secret',
    };
    for (const args of [['config'], ['config', '--json']]) {
      const shown = await runCli(args, { cwd, env });
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('db.internal');
      for (const secret of ['pw-url-secret', 'passphrase-secret', 'webhook-secret']) expect(shown.stdout + shown.stderr).not.toContain(secret);
    }
  });

  it('a PostgreSQL URL with ?sslmode=require prints no warning of the driver', async () => {
    const result = await runCli(['backup', '--db', 'postgresql://app:pw@127.0.0.1:1/app?sslmode=require'], { cwd: tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
    expect(result.stderr).not.toMatch(/SECURITY WARNING|sslmode/);
  });
});

describe('backup options', () => {
  it('--type, --description and --no-encrypt reach the manifest', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5 });
    const env = { DBGUARD_PASSPHRASE: 'pass' };
    const plain = parseJson<{ type: string; description: string; encryption: unknown; file: string }>(
      await runCli(['backup', '--db', db, '--type', 'automatic', '--description', 'before the import', '--no-encrypt', '--json'], { cwd, env }),
    );
    expect(plain).toMatchObject({ type: 'automatic', description: 'before the import', encryption: null });
    expect(plain.file).toMatch(/\/automatic\/[^/]+\.sqlite\.zst$/);
    const encrypted = parseJson<{ encryption: unknown; file: string }>(await runCli(['backup', '--db', db, '--json'], { cwd, env }));
    expect(encrypted.encryption).toMatchObject({ algorithm: 'age', passphrase: true });
  });

  it('DBGUARD_PASSPHRASE encrypts through the CLI; a restore without it fails before touching anything, with it succeeds', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5 });
    const before = sqliteContent(db);
    const taken = await runCli(['backup', '--db', db, '--json'], { cwd, env: { DBGUARD_PASSPHRASE: 'open sesame' } });
    const { file } = parseJson<{ file: string }>(taken);
    expect(readFileSync(file).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    sqliteExec(db, 'DELETE FROM lines');
    const changed = sqliteContent(db);
    const refused = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/passphrase/i);
    expect(sqliteContent(db)).toEqual(changed);
    const restored = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd, env: { DBGUARD_PASSPHRASE: 'open sesame' } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(sqliteContent(db)).toEqual(before);
  });
});

describe('list', () => {
  it('warns about a data file without a manifest and never lists it', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5 });
    const taken = parseJson<{ id: string }>(await runCli(['backup', '--db', db, '--json'], { cwd }));
    writeFileSync(path.join(cwd, 'backups', 'manual', 'dev-20260101T000000Z.sqlite.zst'), 'orphan');
    expect(parseJson<Array<{ id: string }>>(await runCli(['list', '--json'], { cwd })).map((b) => b.id)).toEqual([taken.id]);
    const listed = await runCli(['list'], { cwd });
    expect(listed.stdout).toContain(taken.id);
    expect(listed.stdout).not.toContain('dev-20260101T000000Z');
    expect(listed.stderr).toMatch(/dev-20260101T000000Z\.sqlite\.zst: no manifest: an incomplete backup, not listed/);
  });
});

describe('restore', () => {
  it('a damaged SQLite backup whose checksum and row counts match is refused by PRAGMA integrity_check, nothing touched', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 300, journalMode: 'delete' });
    const target = parseDatabaseUrl(`file:${db}`, cwd);
    const dir = path.join(cwd, 'backups');
    const taken = await backup({ target, dir, compression: { algorithm: 'none' } });
    sqliteExec(db, 'DELETE FROM lines WHERE id > 100');
    const before = sqliteContent(db);
    // Damage the index only: every table still counts the same rows, the checksum is recomputed into the manifest.
    execFileSync('sqlite3', [taken.file, 'PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, \'lines(order_id)\', \'lines(payload)\') WHERE name = \'lines_order\';']);
    const { createHash } = await import('node:crypto');
    const manifest = JSON.parse(readFileSync(taken.manifestPath, 'utf8'));
    manifest.sha256 = createHash('sha256').update(readFileSync(taken.file)).digest('hex');
    manifest.size = readFileSync(taken.file).length;
    writeFileSync(taken.manifestPath, JSON.stringify(manifest));
    const error = await restore({ ref: taken.manifest.id, dir, target, confirm: async () => true }).then(
      () => new Error('restored'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/The backup fails PRAGMA integrity_check: .*lines_order/);
    expect(sqliteContent(db)).toEqual(before);
  });

  it('reports its steps (onStep) and the safety backup progress in order, from the library', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 50 });
    const target = parseDatabaseUrl(`file:${db}`, cwd);
    const dir = path.join(cwd, 'backups');
    const progress: Array<[number, string | undefined]> = [];
    const taken = await backup({ target, dir, onProgress: (bytes, info) => progress.push([bytes, info?.phase]) });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)![0]).toBeGreaterThan(0);
    const steps: RestoreStep['step'][] = [];
    const result = await restore({ ref: taken.manifest.id, dir, target, confirm: async () => true, onStep: (s) => steps.push(s.step) });
    expect(steps).toEqual(['verified', 'safety-backup', 'restoring', 'checking']);
    expect(result.safetyBackupId).toBeTruthy();
  });

  it('a backup stopped by its AbortSignal rejects and leaves nothing', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 10 });
    // Big enough (~150 MB) that the abort, at the first progress report, lands while the snapshot is being copied.
    sqliteExec(db, 'CREATE TABLE big (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) INSERT INTO big SELECT randomblob(1000000) FROM n;');
    const target = parseDatabaseUrl(`file:${db}`, cwd);
    const dir = path.join(cwd, 'backups');
    const controller = new AbortController();
    const error = await backup({ target, dir, signal: controller.signal, onProgress: () => controller.abort() }).then(
      () => new Error('completed'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/cancelled; nothing was kept/);
    // Nothing still writes once it has rejected: no file of the project open (the snapshot's copy has stopped) ...
    const open = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(open.filter((file) => file.startsWith(cwd))).toEqual([]);
    // ... and nothing of it is left.
    expect(existsSync(path.join(dir, 'manual')) ? execFileSync('ls', ['-A', path.join(dir, 'manual')], { encoding: 'utf8' }) : '').toBe('');
  });
});

describe('migrate', () => {
  function sqliteProject() {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5, name: 'app.db' });
    return { cwd, db, env: { DATABASE_URL: 'file:./app.db' } };
  }
  const failing = (db: string) => ['--', 'sh', '-c', `sqlite3 '${db}' "CREATE TABLE half (id int); DELETE FROM lines" && exit 1`];

  it('--no-rollback leaves the database as the failed migration left it and prints the restore command', async () => {
    const { cwd, db, env } = sqliteProject();
    const result = await runCli(['migrate', '--no-rollback', ...failing(db)], { cwd, env });
    expect(result.code).toBe(1);
    expect(sqliteSchema(db)).toMatch(/CREATE TABLE half/);
    expect(sqliteContent(db).lines).toEqual([]);
    const id = /dbguard restore (\S+)/.exec(result.stderr + result.stdout)?.[1];
    expect(id).toBeTruthy();
    expect((await runCli(['restore', id!, '--yes'], { cwd, env })).code).toBe(0);
    expect(sqliteContent(db).lines).toHaveLength(15);
  });

  it('with encrypted backups, refuses before running anything when rollback has no identity (exit 2)', async () => {
    const { cwd, db, env } = sqliteProject();
    const recipient = execFileSync('node', [path.resolve('dist/cli/main.js'), 'key', 'generate', '--out', path.join(cwd, 'key.txt')], { encoding: 'utf8' }).match(/age1\w+/)![0];
    const before = sqliteSchema(db);
    const result = await runCli(['migrate', ...failing(db)], { cwd, env: { ...env, DBGUARD_AGE_RECIPIENTS: recipient } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--identity/);
    expect(sqliteSchema(db)).toBe(before);
    const rolledBack = await runCli(['migrate', '--identity', path.join(cwd, 'key.txt'), ...failing(db)], { cwd, env: { ...env, DBGUARD_AGE_RECIPIENTS: recipient } });
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stderr).toMatch(/restored from backup/);
    expect(sqliteSchema(db)).toBe(before);
  });

  it('a database that does not exist yet needs no backup: the migration runs, nothing is backed up', async () => {
    const cwd = tempDir();
    const result = await runCli(['migrate', '--', 'sqlite3', 'new.db', 'CREATE TABLE t (id int)'], { cwd, env: { DATABASE_URL: 'file:./new.db' } });
    expect(result.code, result.stderr).toBe(0);
    expect(sqliteSchema(path.join(cwd, 'new.db'))).toMatch(/CREATE TABLE t/);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);
  });
});

describe('guard', () => {
  it('init --git-hook writes the hook where core.hooksPath points', async () => {
    const cwd = tempDir();
    execFileSync('git', ['init', '-q'], { cwd });
    execFileSync('git', ['config', 'core.hooksPath', '.husky'], { cwd });
    mkdirSync(path.join(cwd, '.husky'));
    writeFileSync(path.join(cwd, '.husky', 'pre-commit'), '#!/bin/sh\nnpm test\n', { mode: 0o755 });
    const result = await runCli(['init', '--git-hook'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const hook = readFileSync(path.join(cwd, '.husky', 'pre-commit'), 'utf8');
    expect(hook).toMatch(/\$dbguard_bin guard scan --staged/);
    expect(hook).toMatch(/npm test/);
    expect(existsSync(path.join(cwd, '.git', 'hooks', 'pre-commit'))).toBe(false);
  });

  it('init without a package.json says it skipped the npm scripts, and why', async () => {
    const result = await runCli(['init'], { cwd: tempDir() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^skipped +package\.json: there is none here, so no npm scripts were added \(run `npm init`, then `dbguard init` again\)$/m);
    expect(result.stdout).not.toMatch(/^kept/m);
  });
});

describe('storage warnings', () => {
  it('warns when the free disk space would not hold another backup of the same size (a real small tmpfs)', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 800 });
    const disk = tempDir('dbguard-disk-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', disk]);
    try {
      const result = await runCli(['backup', '--db', db, '--compress', 'none', '--dir', disk], { cwd });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/warning: Only .* free on the backups disk: the next backup \(about .*\) will not fit/);
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});
