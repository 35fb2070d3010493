import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { createDatabase, databaseExists, dbguardSession, withClient } from './harness/pg-db.js';
import { eventually } from './harness/serve.js';
import { tempDir } from './harness/tmp.js';

let template: string;
let db: { name: string; url: string };

/** Big enough that pg_dump runs for a while; each test gets its own copy. */
beforeAll(async () => {
  template = (await createDatabase('big')).name;
  await withClient(template, (c) =>
    c.query(`CREATE TABLE blobs AS SELECT i AS id, md5(i::text) || repeat(md5((i * 7)::text), 30) AS payload FROM generate_series(1, 150000) i`),
  );
});

beforeEach(async () => {
  db = await createDatabase('big', template);
});

function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
}

/** Starts a backup and sends `signal` once its partial file (with --jobs: its scratch folder) has appeared. */
async function interruptedBackup(cwd: string, signal: NodeJS.Signals, args: string[] = []) {
  const marker = args.includes('--jobs') ? '.scratch' : '.partial';
  const child = spawn(process.execPath, [CLI, 'backup', ...args], { cwd, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  while (!filesUnder(path.join(cwd, 'backups')).some((f) => f.endsWith(marker))) {
    if (child.exitCode !== null) throw new Error(`backup ended before it could be interrupted: ${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill(signal);
  return { code: await closed, stderr };
}

/** Starts a restore and sends `signal` once pg_restore has written into `database` (inside its transaction, if one). */
async function interruptedRestore(cwd: string, args: string[], signal: NodeJS.Signals, database: string) {
  const child = spawn(process.execPath, [CLI, 'restore', ...args], { cwd, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`restore ended before it could be interrupted: ${stderr}`);
    return (await dbguardSession(database, { writing: true })) || undefined;
  }, 'pg_restore at work');
  child.kill(signal);
  const code = await closed;
  return { code, stderr };
}

const fingerprint = (database: string) =>
  withClient(database, async (c) => (await c.query("SELECT count(*) AS n, md5(string_agg(payload, '' ORDER BY id)) AS h FROM blobs")).rows[0]);

/** The nice value and parent pid of a process, from /proc/<pid>/stat. */
function procStat(pid: number): { ppid: number; nice: number; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return { comm, ppid: Number(fields[1]), nice: Number(fields[16]) };
  } catch {
    return undefined;
  }
}

/** The nice value of the pg_dump that a `dbguard backup` started, relative to this process's. */
async function pgDumpNiceness(args: string[]): Promise<number> {
  const cwd = tempDir();
  const child = spawn(process.execPath, [CLI, 'backup', ...args], { cwd, env: { ...process.env, DATABASE_URL: db.url }, stdio: 'ignore' });
  const closed = new Promise((resolve) => child.once('close', resolve));
  try {
    for (;;) {
      const dump = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map((name) => procStat(Number(name))).find((p) => p?.ppid === child.pid && p.comm === 'pg_dump');
      if (dump) return dump.nice - procStat(process.pid)!.nice;
      if (child.exitCode !== null) throw new Error('the backup ended before its pg_dump was seen');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGINT');
    await closed;
  }
}

describe('CPU priority', () => {
  it('a backup yields the CPU to the application: it and pg_dump run at nice +10, unless --no-nice', async () => {
    expect(await pgDumpNiceness([])).toBe(Math.min(10, 19 - procStat(process.pid)!.nice));
    expect(await pgDumpNiceness(['--no-nice'])).toBe(0);
  });
});

describe('interrupted restores', () => {
  it('SIGTERM during a restore over a database stops pg_restore: the transaction rolls back, exit 143', async () => {
    const cwd = tempDir();
    expect((await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url } })).code).toBe(0);
    await withClient(db.name, (c) => c.query('DELETE FROM blobs WHERE id % 10 = 0'));
    const before = await fingerprint(db.name);
    const { code, stderr } = await interruptedRestore(cwd, ['latest', '--yes'], 'SIGTERM', db.name);
    expect(code).toBe(143);
    expect(stderr).toMatch(/Interrupted by SIGTERM; the restore was stopped/);
    expect(await fingerprint(db.name)).toEqual(before);
    expect(filesUnder(path.join(cwd, 'backups', 'pre-restore')).some((f) => f.endsWith('.json'))).toBe(true);
  });

  it('SIGINT during verify --restore-test drops the scratch database and records nothing, exit 130', async () => {
    const cwd = tempDir();
    const taken = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    const { id } = parseJson<{ id: string }>(taken);
    const scratchDatabases = () =>
      withClient('postgres', async (c) => (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'dbguard_scratch_%'")).rows.length);
    const before = await scratchDatabases();
    const child = spawn(process.execPath, [CLI, 'verify', id, '--restore-test'], { cwd, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`verify ended before it could be interrupted: ${stderr}`);
      return (await dbguardSession('dbguard_scratch_%', { writing: true })) || undefined;
    }, 'pg_restore filling the scratch database');
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/Interrupted by SIGINT; nothing was recorded, and a scratch database was dropped/);
    expect(await scratchDatabases()).toBe(before);
    const shown = parseJson<{ verifiedAt?: string }>(await runCli(['show', id, '--json'], { cwd }));
    expect(shown.verifiedAt).toBeUndefined();
  });

  it('SIGINT during a parallel restore into a new database drops that database, exit 130', async () => {
    const cwd = tempDir();
    expect((await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url } })).code).toBe(0);
    const copy = `${db.name}_interrupted`;
    const { code, stderr } = await interruptedRestore(cwd, ['latest', '--yes', '--jobs', '2', '--to', db.url.replace(/\/[^/]+$/, `/${copy}`)], 'SIGINT', copy);
    expect(code).toBe(130);
    expect(stderr).toMatch(/Interrupted by SIGINT/);
    expect(await databaseExists(copy)).toBe(false);
  });
});

describe('interrupted backups', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s removes the partial backup and exits %i', async (signal, expected) => {
    const cwd = tempDir();
    const { code, stderr } = await interruptedBackup(cwd, signal);
    expect(code).toBe(expected);
    expect(stderr).toMatch(new RegExp(`Interrupted by ${signal}`));
    expect(filesUnder(path.join(cwd, 'backups')).filter((f) => !['manual'].includes(f))).toEqual([]);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);
  });

  it('SIGINT during a parallel dump (--jobs) stops pg_dump and removes its folder', async () => {
    const cwd = tempDir();
    const { code, stderr } = await interruptedBackup(cwd, 'SIGINT', ['--jobs', '2']);
    expect(code).toBe(130);
    expect(stderr).toMatch(/Interrupted by SIGINT/);
    await eventually(async () => ((await dbguardSession(db.name)) ? undefined : true), "pg_dump's workers gone");
    expect(filesUnder(path.join(cwd, 'backups')).filter((f) => !['manual'].includes(f))).toEqual([]);
  });

  it('SIGKILL during a parallel dump leaves a folder that the next run removes', async () => {
    const cwd = tempDir();
    const { code } = await interruptedBackup(cwd, 'SIGKILL', ['--jobs', '2']);
    expect(code).toBe(-1);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);
    await eventually(async () => ((await dbguardSession(db.name)) ? undefined : true), 'the orphaned pg_dump ended');
    const next = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(next.code, next.stderr).toBe(0);
    const manifest = parseJson<{ id: string }>(next);
    expect(filesUnder(path.join(cwd, 'backups', 'manual')).sort()).toEqual([`${manifest.id}.dump.zst`, `${manifest.id}.json`]);
  });

  it('SIGKILL leaves a backup that never lists as complete, and the next run cleans it up', async () => {
    const started = Date.now() - 1000;
    const cwd = tempDir();
    const { code } = await interruptedBackup(cwd, 'SIGKILL');
    expect(code).toBe(-1);
    // Nothing the killed process wrote holds the password (it only ever lives in the child's environment).
    const password = decodeURIComponent(new URL(db.url).password);
    // (The test harness's own PostgreSQL servers, dbguard-test-pg-*, hold the password by design while they start.)
    const ours = (name: string) => name.startsWith('dbguard-') && !name.startsWith('dbguard-test-pg-');
    const fresh = readdirSync(os.tmpdir()).filter((name) => ours(name) && (statSync(path.join(os.tmpdir(), name), { throwIfNoEntry: false })?.mtimeMs ?? 0) >= started);
    for (const name of fresh) {
      for (const file of filesUnder(path.join(os.tmpdir(), name))) {
        const full = path.join(os.tmpdir(), name, file);
        let text: string;
        try {
          if (!statSync(full).isFile()) continue;
          text = readFileSync(full, 'utf8');
        } catch {
          continue; // removed meanwhile by the test that made it
        }
        expect(text).not.toContain(password);
      }
    }
    const leftovers = filesUnder(path.join(cwd, 'backups', 'manual'));
    expect(leftovers.some((f) => f.endsWith('.partial'))).toBe(true);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toEqual([]);

    const next = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(next.code, next.stderr).toBe(0);
    const manifest = parseJson<{ id: string }>(next);
    expect(filesUnder(path.join(cwd, 'backups', 'manual')).sort()).toEqual([`${manifest.id}.dump.zst`, `${manifest.id}.json`]);
  });

  it('two restores of the same database at once: one runs, the other is refused (exit 3)', async () => {
    const cwd = tempDir();
    expect((await runCli(['backup'], { cwd, env: { DATABASE_URL: db.url } })).code).toBe(0);
    const [a, b] = await Promise.all([
      runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: db.url } }),
      runCli(['restore', 'latest', '--yes'], { cwd, env: { DATABASE_URL: db.url } }),
    ]);
    expect([a.code, b.code].sort()).toEqual([0, 3]);
    expect([a, b].find((r) => r.code === 3)!.stderr).toMatch(/Another dbguard restore \(pid \d+, since .*\) is working on postgresql:\/\/127\.0\.0\.1:\d+\/\w+\./);
    expect(readdirSync(path.join(cwd, 'backups', '.dbguard', 'locks'))).toEqual([]);
  });
});
