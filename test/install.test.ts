import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase } from './harness/pg-db.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * A user whose npm (or company policy) blocks install scripts: the package as published, installed with
 * --ignore-scripts, so better-sqlite3 and zstd-napi have no native build. Everything that does not need them works,
 * and what does says in one line what is missing and the command that fixes it.
 */
describe('an install with install scripts blocked', () => {
  it('keeps the guard and PostgreSQL backups working and names the fix for SQLite and zstd', { timeout: 300_000 }, async () => {
    const packDir = tempDir();
    await run('npm', ['pack', '--pack-destination', packDir, '--silent'], { cwd: ROOT });
    const tarball = path.join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz'))!);
    const project = tempDir();
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, timeout: 240_000 });
    const cli = path.join(project, 'node_modules', 'dbguard', 'dist', 'cli', 'main.js');
    const dbguard = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: project, env, cli });

    const sqlite = await dbguard(['backup', '--db', createSqliteDb(project)]);
    expect(sqlite.code).toBe(1);
    expect(sqlite.stderr.split('\n')).toContain(
      `error: SQLite support is unavailable: better-sqlite3's native module was not built (install scripts blocked, or no compiler). Fix: cd ${project} && npm rebuild better-sqlite3 --ignore-scripts=false`,
    );
    expect(sqlite.stderr).toMatch(/^hint: .*npm install-scripts approve better-sqlite3 zstd-napi.*"allowScripts"/m);
    expect(sqlite.stderr).not.toMatch(/bindings file|unexpected error/);

    const guard = await dbguard(['guard', 'check', 'prisma', 'migrate', 'reset']);
    expect(guard.code).toBe(3); // the guard's parsers are WebAssembly: no build needed

    const pg = await createDatabase('noscripts');
    const backup = await dbguard(['backup', '--compress', 'zstd', '--json'], { DATABASE_URL: pg.url });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr.trim()).toBe(
      `warning: zstd is unavailable, compressing with gzip instead: zstd-napi's native module was not built (install scripts blocked, or no compiler). Fix: cd ${project} && npm rebuild zstd-napi --ignore-scripts=false`,
    );
    // pg_dump's own gzip inside the custom-format dump, with no zstd layer around it:
    expect(parseJson(backup)).toMatchObject({ compression: 'none', fileName: expect.stringMatching(/\.dump$/) });

    const doctor = await dbguard(['doctor', '--json'], { DATABASE_URL: pg.url });
    expect(doctor.code).toBe(1);
    const problems = parseJson<{ checks: Array<{ name: string; status: string; fix?: string }> }>(doctor).checks.filter((c) => c.status === 'problem');
    expect(problems.map((c) => [c.name, c.fix?.split('. ')[0]])).toEqual([
      ['better-sqlite3', `cd ${project} && npm rebuild better-sqlite3 --ignore-scripts=false`],
      ['zstd-napi', `cd ${project} && npm rebuild zstd-napi --ignore-scripts=false`],
    ]);
  });
});
