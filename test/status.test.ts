import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

interface StatusJson {
  name: string;
  state: 'fresh' | 'stale' | 'failing';
  newestGood: { id: string; ageMs: number } | null;
  lastAttempt: { ok: boolean; error?: string } | null;
  lastVerification: { id: string; ok: boolean } | null;
  nextBackup: string | null;
  nextVerify: string | null;
  maxAgeMs: number;
  problems: string[];
}

/** A project with two named SQLite databases whose URLs come from the environment. */
function twoDatabases(extra: Record<string, unknown> = {}) {
  const cwd = tempDir();
  createSqliteDb(cwd, { name: 'app.db', orders: 50 });
  createSqliteDb(cwd, { name: 'audit.db', orders: 20 });
  writeFileSync(
    path.join(cwd, 'dbguard.config.json'),
    JSON.stringify({
      databases: {
        app: { url: '${APP_DB}', schedule: '0 * * * *', verify: '30 3 * * 0', maxAge: '26h', timeZone: 'Europe/Berlin', ...extra },
        audit: { url: 'file:./${AUDIT_FILE}', compression: 'none', maxAge: '2h' },
      },
    }),
  );
  return { cwd, env: { APP_DB: 'file:./app.db', AUDIT_FILE: 'audit.db' } };
}

async function status(cwd: string, env: Record<string, string>, args: string[] = []) {
  const result = await runCli(['status', '--json', ...args], { cwd, env });
  return { ...result, statuses: parseJson<StatusJson[]>(result) };
}

describe('named databases and dbguard status', () => {
  it('backs up each named database with its own options; status exits 1 until every one is fresh', async () => {
    const { cwd, env } = twoDatabases();

    const before = await status(cwd, env);
    expect(before.code).toBe(1);
    expect(before.statuses.map((s) => [s.name, s.state, s.newestGood])).toEqual([
      ['app', 'stale', null],
      ['audit', 'stale', null],
    ]);
    expect(before.stderr).toMatch(/2 of 2 database\(s\) not fresh/);
    expect(before.statuses[0]!.nextBackup).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
    expect(before.statuses[0]!.nextVerify).not.toBeNull();
    expect(before.statuses[0]!.maxAgeMs).toBe(26 * 3600_000);

    const app = await runCli(['backup', '--database', 'app', '--type', 'automatic', '--json'], { cwd, env });
    expect(app.code, app.stderr).toBe(0);
    expect(parseJson<{ id: string; compression: string }>(app)).toMatchObject({ compression: 'zstd' });
    const audit = await runCli(['backup', '--database', 'audit', '--json'], { cwd, env });
    expect(audit.code, audit.stderr).toBe(0);
    expect(parseJson<{ id: string; compression: string }>(audit)).toMatchObject({ compression: 'none' }); // its own override

    const after = await status(cwd, env);
    expect(after.code, after.stderr).toBe(0);
    expect(after.statuses.map((s) => [s.name, s.state, s.newestGood?.id.split('-')[0], s.lastAttempt?.ok])).toEqual([
      ['app', 'fresh', 'app', true],
      ['audit', 'fresh', 'audit', true],
    ]);

    const human = await runCli(['status'], { cwd, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^app {2}FRESH/m);
    expect(human.stdout).toMatch(/newest good backup {2}app-\d{8}T\d{6}Z \(automatic, \d+s ago\)/);

    const one = await status(cwd, env, ['--database', 'audit']);
    expect(one.statuses.map((s) => s.name)).toEqual(['audit']);
  });

  it('a failed attempt makes a database failing (exit 1) even with a fresh backup, until the next success', async () => {
    const { cwd, env } = twoDatabases();
    expect((await runCli(['backup', '--database', 'app'], { cwd, env })).code).toBe(0);
    renameSync(path.join(cwd, 'app.db'), path.join(cwd, 'gone.db'));
    const failed = await runCli(['backup', '--database', 'app'], { cwd, env });
    expect(failed.code).toBe(1);

    const after = await status(cwd, env, ['--database', 'app']);
    expect(after.code).toBe(1);
    expect(after.statuses[0]).toMatchObject({ state: 'failing', lastAttempt: { ok: false } });
    expect(after.statuses[0]!.newestGood).not.toBeNull();
    expect(after.statuses[0]!.problems[0]).toMatch(/last backup attempt .* failed/);

    renameSync(path.join(cwd, 'gone.db'), path.join(cwd, 'app.db'));
    expect((await runCli(['backup', '--database', 'app'], { cwd, env })).code).toBe(0);
    expect((await status(cwd, env, ['--database', 'app'])).code).toBe(0);
  });

  it('a newest backup older than maxAge is stale', async () => {
    const { cwd, env } = twoDatabases({ maxAge: '1s' });
    expect((await runCli(['backup', '--database', 'app'], { cwd, env })).code).toBe(0);
    let result = await status(cwd, env, ['--database', 'app']);
    for (const deadline = Date.now() + 20_000; result.code === 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      result = await status(cwd, env, ['--database', 'app']);
    }
    expect(result.code).toBe(1);
    expect(result.statuses[0]!.state).toBe('stale');
    expect(result.statuses[0]!.problems).toEqual([expect.stringMatching(/newest good backup is \d+s old \(maxAge 1s\)/)]);
  });

  it('says which variable is missing, which database to name, and refuses --db with --database (exit 2)', async () => {
    const { cwd, env } = twoDatabases();
    const missing = await runCli(['backup', '--database', 'app'], { cwd, env: { AUDIT_FILE: 'audit.db' } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/databases\.app\.url uses \$\{APP_DB\}, but APP_DB is not set/);

    const unnamed = await runCli(['backup'], { cwd, env });
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toMatch(/Several databases are configured \(app, audit\)/);

    const unknown = await runCli(['backup', '--database', 'nope'], { cwd, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No database named "nope"[\s\S]*Configured databases: app, audit/);

    const both = await runCli(['backup', '--database', 'app', '--db', 'file:./app.db'], { cwd, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either --db <url> or --database <name>/);
  });

  it('rejects a bad schedule or duration in the config with the key that holds it (exit 2)', async () => {
    const { cwd, env } = twoDatabases({ schedule: '61 * * * *' });
    const bad = await runCli(['status'], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/databases\.app\.schedule: invalid schedule "61 \* \* \* \*"/);

    const other = twoDatabases({ maxAge: 'soon' });
    const badAge = await runCli(['status'], { cwd: other.cwd, env: other.env });
    expect(badAge.code).toBe(2);
    expect(badAge.stderr).toMatch(/databases\.app\.maxAge: "soon" is not a duration/);
  });

  it('without named databases the one from DATABASE_URL is "default"', async () => {
    const cwd = tempDir();
    createSqliteDb(cwd, { orders: 10 });
    const env = { DATABASE_URL: 'file:./dev.db' };
    expect((await runCli(['backup', '--database', 'default'], { cwd, env })).code).toBe(0);
    const result = await status(cwd, env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.statuses).toMatchObject([{ name: 'default', state: 'fresh', maxAgeMs: 26 * 3600_000, nextBackup: null }]);

    const none = await runCli(['status'], { cwd, env: {} });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No database configured/);
  });
});
