import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, listBackups, parseDatabaseUrl } from '../dist/index.js';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { createSqliteDb, sqliteContent, sqliteExec } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

describe('CLI basics', () => {
  it('`restore latest` takes the newest backup of that database, never that of another one in the same folder', async () => {
    const cwd = tempDir();
    const a = createSqliteDb(cwd, { name: 'a.db', orders: 2 });
    const b = createSqliteDb(cwd, { name: 'b.db', orders: 5 });
    const ofA = parseJson<{ id: string }>(await runCli(['backup', '--json', '--db', a], { cwd }));
    const atBackup = sqliteContent(a);
    expect((await runCli(['backup', '--json', '--db', b], { cwd })).code).toBe(0); // newer, of b
    sqliteExec(a, 'DELETE FROM "user profiles"');

    const restored = await runCli(['restore', 'latest', '--yes', '--json', '--db', a], { cwd });
    expect(parseJson<{ backup: { id: string } }>(restored).backup.id).toBe(ofA.id);
    expect(sqliteContent(a)).toEqual(atBackup);
    const copy = path.join(cwd, 'copy.db');
    const intoCopy = await runCli(['restore', 'latest', '--yes', '--json', '--db', a, '--to', copy], { cwd });
    expect(parseJson<{ backup: { id: string } }>(intoCopy).backup.id).toBe(ofA.id);

    const c = createSqliteDb(cwd, { name: 'c.db', orders: 1 });
    const cBefore = sqliteContent(c);
    const refused = await runCli(['restore', 'latest', '--yes', '--db', c], { cwd });
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('No backups of')]);
    expect(sqliteContent(c)).toEqual(cBefore);
  });

  it('finishes its work and exits 0, without a stack trace, when the reader of its output has gone (`| head`)', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 3 });
    const child = spawn(process.execPath, [CLI, 'backup', '--json', '--db', db], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the read end closes before anything is written: every write gets EPIPE
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, stderr]).toEqual([0, '']);
    expect(parseJson<Array<{ type: string }>>(await runCli(['list', '--json'], { cwd }))).toEqual([expect.objectContaining({ type: 'manual' })]);
  });

  it('names DATABASE_URL, --db and .env when no database is configured (exit 2)', async () => {
    const result = await runCli(['backup'], { cwd: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/No database configured/);
    for (const word of ['--db', 'DATABASE_URL', '.env']) expect(result.stderr).toContain(word);
    expect(result.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it('rejects unknown ids, unknown options and unsupported URLs with exit 2', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 1 });
    const taken = parseJson<{ id: string }>(await runCli(['backup', '--json', '--db', db], { cwd }));

    const unknown = await runCli(['show', 'nope'], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No backup with id "nope"/);
    const prefix = await runCli(['restore', taken.id.slice(0, 8), '--db', db], { cwd });
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain(`Did you mean ${taken.id}`);

    const noId = await runCli(['restore', '--db', db], { cwd });
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain(taken.id);

    expect((await runCli(['backup', '--frobnicate'], { cwd })).code).toBe(2);
    for (const name of ['run', 'init', 'protect']) {
      const misplaced = await runCli(['guard', name, '--', 'ls'], { cwd });
      expect([misplaced.code, misplaced.stderr]).toEqual([2, expect.stringContaining(`\`${name}\` is not a guard subcommand: it is \`dbguard ${name}\``)]);
    }
    expect((await runCli(['backup', '--type', 'weekly'], { cwd })).code).toBe(2);
    const redis = await runCli(['backup', '--db', 'redis://root:hunter2@localhost/app'], { cwd });
    expect(redis.code).toBe(2);
    expect(redis.stderr).toMatch(/Unsupported database URL scheme "redis:"/);
    expect(redis.stderr).not.toContain('hunter2');
  });

  it('prints help for every command, exit 0', async () => {
    for (const command of ['backup', 'list', 'show', 'verify', 'restore']) {
      const result = await runCli([command, '--help'], { cwd: tempDir() });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`Usage: dbguard ${command}`));
    }
  });

  it('lists backups grouped by type, newest first, and flags a damaged manifest', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5 });
    for (const args of [['--type', 'automatic'], ['--label', 'one'], ['--label', 'two']]) {
      expect((await runCli(['backup', '--db', db, ...args], { cwd })).code).toBe(0);
    }
    const list = parseJson<Array<{ type: string; label: string | null; file: string }>>(await runCli(['list', '--json'], { cwd }));
    expect(list.map((m) => m.label)).toEqual(['two', 'one', null]);
    writeFileSync(path.join(cwd, 'backups', 'manual', 'x-20260101T000000Z.json'), '{"id": 1}');
    const human = await runCli(['list'], { cwd });
    expect(human.code).toBe(0);
    expect(human.stdout.indexOf('manual (2)')).toBeLessThan(human.stdout.indexOf('automatic (1)'));
    expect(human.stderr).toMatch(/x-20260101T000000Z\.json: unreadable manifest/);
  });

  it('gives two backups taken in the same second different ids (library API)', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 2 });
    const now = () => new Date('2026-11-22T10:00:00.000Z');
    const target = parseDatabaseUrl(db, cwd);
    const dir = path.join(cwd, 'backups');
    const [a, b] = await Promise.all([backup({ target, dir, now }), backup({ target, dir, now })]);
    expect(new Set([a.manifest.id, b.manifest.id])).toEqual(new Set(['dev-20261122T100000Z', 'dev-20261122T100000Z-2']));
    expect((await listBackups({ dir })).backups).toHaveLength(2);
  });

  it('reads the backups folder and required tables from dbguard.config.json', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 2 });
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ backupDir: 'safe', requiredTables: ['orders', 'audit_log'] }));
    const taken = await runCli(['backup', '--db', db, '--json'], { cwd });
    expect(parseJson<{ file: string }>(taken).file.startsWith(path.join(cwd, 'safe', 'manual'))).toBe(true);
    const restored = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/required table audit_log is missing/);

    mkdirSync(path.join(cwd, 'bad'));
    writeFileSync(path.join(cwd, 'bad', 'dbguard.config.json'), JSON.stringify({ requiredTables: 'orders', colour: true }));
    const invalid = await runCli(['list'], { cwd: path.join(cwd, 'bad') });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/Invalid configuration in dbguard.config.json/);
    expect(invalid.stderr).toMatch(/requiredTables/);
  });

  it('reads dbguard.config.ts and dbguard.config.js, and reports a broken one (exit 2)', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 2 });
    writeFileSync(
      path.join(cwd, 'dbguard.config.ts'),
      "type Policy = { keepLast: number };\nconst automatic: Policy = { keepLast: 1 };\nexport default { backupDir: 'from-ts', retention: { automatic } };\n",
    );
    const shown = parseJson<{ configFile: string; backupDir: string; retention: { automatic: unknown } }>(await runCli(['config', '--json'], { cwd }));
    expect(shown).toMatchObject({ configFile: path.join(cwd, 'dbguard.config.ts'), backupDir: path.join(cwd, 'from-ts'), retention: { automatic: { keepLast: 1 } } });
    expect(parseJson<{ file: string }>(await runCli(['backup', '--db', db, '--json'], { cwd })).file.startsWith(path.join(cwd, 'from-ts'))).toBe(true);

    const jsDir = tempDir();
    writeFileSync(path.join(jsDir, 'dbguard.config.js'), "export default { backupDir: 'from-js' };\n");
    expect(parseJson<{ backupDir: string }>(await runCli(['config', '--json'], { cwd: jsDir })).backupDir).toBe(path.join(jsDir, 'from-js'));

    writeFileSync(path.join(jsDir, 'dbguard.config.js'), 'export default { backupDir: ;\n');
    const broken = await runCli(['list'], { cwd: jsDir });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/Cannot load .*dbguard\.config\.js/);
  });
});
