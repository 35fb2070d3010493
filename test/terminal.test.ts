import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.js';
import { createSqliteDb, sqliteExec, sqliteQuery } from './harness/sqlite-db.js';
import { runInTerminal } from './harness/terminal.js';
import { tempDir } from './harness/tmp.js';

const PROMPT = /Type the database name \(dev\.db\) to confirm/;

describe('on a terminal, the user confirms by typing the database name', () => {
  it('restore: a wrong name refuses and changes nothing; the right name restores', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 30 });
    expect((await runCli(['backup', '--db', db], { cwd })).code).toBe(0);
    sqliteExec(db, 'DELETE FROM lines');

    const wrong = await runInTerminal(['restore', 'latest', '--db', db], { cwd, prompt: PROMPT, answer: 'prod.db' });
    expect(wrong.prompted).toBe(true);
    expect(wrong.stdout).toMatch(/This replaces the content of .*dev\.db/);
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toMatch(/Restore cancelled; nothing was changed/);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n).toBe(0);
    expect(readdirSync(path.join(cwd, 'backups'))).not.toContain('pre-restore');

    const right = await runInTerminal(['restore', 'latest', '--db', db], { cwd, prompt: PROMPT, answer: 'dev.db' });
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toMatch(/undo +dbguard restore \S+-before-restore/);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n).toBe(90);
  });

  it('run: a blocked command runs only after the name is typed, with a backup first', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 10 });
    const command = ['sqlite3', db, 'DELETE FROM lines'];

    const declined = await runInTerminal(['run', '--db', db, '--', ...command], { cwd, prompt: PROMPT, answer: 'no' });
    expect(declined.prompted).toBe(true);
    expect(declined.code).toBe(3);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n).toBe(30);

    const approved = await runInTerminal(['run', '--db', db, '--', ...command], { cwd, prompt: PROMPT, answer: 'dev.db' });
    expect(approved.code, approved.stdout).toBe(0);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n).toBe(0);
    const id = /dbguard restore (\S+)/.exec(approved.stdout)![1]!;
    expect((await runCli(['restore', id, '--yes', '--db', db], { cwd })).code).toBe(0);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n).toBe(30);
  });

  it('run against a database marked production: refused even on a terminal, unless --production and the name typed', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 10 });
    expect((await runCli(['protect', '--env', 'production', '--db', db], { cwd })).code).toBe(0);
    const command = ['sqlite3', db, 'DELETE FROM lines'];
    const count = () => sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM lines').n;

    const refused = await runInTerminal(['run', '--db', db, '--', ...command], { cwd, prompt: PROMPT, answer: 'dev.db' });
    expect(refused.prompted).toBe(false);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/marked as production/);
    expect(refused.stdout).toMatch(/add --production/);
    expect(count()).toBe(30);

    const declined = await runInTerminal(['run', '--production', '--db', db, '--', ...command], { cwd, prompt: PROMPT, answer: 'prod' });
    expect(declined.prompted).toBe(true);
    expect(declined.code).toBe(3);
    expect(count()).toBe(30);

    const approved = await runInTerminal(['run', '--production', '--db', db, '--', ...command], { cwd, prompt: PROMPT, answer: 'dev.db' });
    expect(approved.code, approved.stdout).toBe(0);
    expect(count()).toBe(0);
    const audit = readFileSync(path.join(cwd, 'backups', 'guard-audit.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(audit).toEqual([expect.objectContaining({ approvedBy: 'terminal', environment: 'production' })]);
  });

  it('shows progress on a terminal: the compression of a backup snapshot, the safety backup and time of a restore', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 3000 });
    const never = /^\b$/;
    const backedUp = await runInTerminal(['backup', '--db', db], { cwd, prompt: never, answer: '' });
    expect(backedUp.code, backedUp.stdout).toBe(0);
    expect(backedUp.stdout).toMatch(/Backing up \S+dev\.db: compressing [\d.]+ [kM]B of [\d.]+ [kM]B/);
    const restored = await runInTerminal(['restore', 'latest', '--yes', '--db', db], { cwd, prompt: never, answer: '' });
    expect(restored.code, restored.stdout).toBe(0);
    expect(restored.stdout).toMatch(/Safety backup of the current database: compressing/);
    expect(restored.stdout).toMatch(/Restoring \(all or nothing\)\.\.\. done in \d+\.\d s/);
  });
});
