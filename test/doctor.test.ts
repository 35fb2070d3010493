import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spaceVerdict } from '../src/core/doctor.js';
import { isNativeLoadError, nativeFixCommand, unsupportedNodeMessage } from '../src/platform.js';
import { CLI, type CliResult, parseJson, runCli } from './harness/cli.js';
import { createMysqlDatabase } from './harness/mysql-db.js';
import { createDatabase } from './harness/pg-db.js';
import { type S3Server, startS3 } from './harness/s3.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

interface Report {
  ok: boolean;
  checks: Array<{ name: string; status: 'ok' | 'warning' | 'problem'; detail: string; fix?: string }>;
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

async function doctor(cwd: string, env: Record<string, string | undefined> = {}): Promise<{ result: CliResult; report: Report; check: (name: string) => Report['checks'][number] }> {
  const result = await runCli(['doctor', '--json'], { cwd, env });
  const report = parseJson<Report>(result);
  const check = (name: string) => {
    const found = report.checks.find((c) => c.name === name);
    if (!found) throw new Error(`no check "${name}" in ${JSON.stringify(report.checks.map((c) => c.name))}`);
    return found;
  };
  return { result, report, check };
}

/** A SQLite project with a private backups folder: every check passes. */
function healthyProject(config: object = {}): string {
  const cwd = tempDir();
  const db = createSqliteDb(cwd);
  writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { app: { url: `file:${db}` } }, ...config }));
  mkdirSync(path.join(cwd, 'backups'), { mode: 0o700 });
  return cwd;
}

/** A port on which nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('dbguard doctor', () => {
  it('passes where everything is in place, and says what it checked', async () => {
    const cwd = healthyProject();
    const { result, report, check } = await doctor(cwd);
    expect(result.code, result.stderr).toBe(0);
    expect(report.ok).toBe(true);
    for (const name of ['better-sqlite3', 'zstd-napi', 'guard parsers', 'database app', 'backups folder', 'disk space', 'remote', 'notifications']) {
      expect(check(name).status, name).toBe('ok');
    }
    expect(check('database app').detail).toMatch(/^SQLite 3\.\d+/);
    const human = await runCli(['doctor'], { cwd });
    expect(human.stdout).toMatch(/^ok +better-sqlite3: native module loads/m);
  });

  it('finds pg_dump, pg_restore and psql missing from PATH when a PostgreSQL database needs them', async () => {
    const db = await createDatabase('doctor');
    const cwd = tempDir();
    const { result, report, check } = await doctor(cwd, { DATABASE_URL: db.url, PATH: path.join(cwd, 'empty-bin') });
    expect(result.code).toBe(1);
    expect(report.ok).toBe(false);
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
      expect(check(tool)).toMatchObject({ status: 'problem', detail: `${tool} not found or not runnable` });
      expect(check(tool).fix).toMatch(/apt-get install postgresql-client/);
    }
    expect(check('database default').status).toBe('ok'); // the server itself answers
    expect(check('age').status).toBe('warning'); // optional: only for decrypting by hand
    expect(result.stderr).toMatch(/error: 3 problem\(s\): pg_dump, pg_restore, psql\./);
  });

  it('finds the MySQL/MariaDB dump tool and client, and says how to install them when a MySQL database lacks them', async () => {
    const db = await createMysqlDatabase('doctor');
    const cwd = tempDir();
    const found = await doctor(cwd, { DATABASE_URL: db.url });
    expect(found.check('database default').detail).toMatch(/^MySQL\/MariaDB \d+\.\d+.* answers$/);
    expect(found.check('mariadb-dump/mysqldump')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^mariadb-dump \d+\.\d+/) });
    expect(found.check('mariadb/mysql')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^mariadb \d+\.\d+/) });

    const missing = await doctor(cwd, { DATABASE_URL: db.url, PATH: path.join(cwd, 'empty-bin') });
    expect(missing.result.code).toBe(1);
    expect(missing.check('mariadb-dump/mysqldump')).toMatchObject({ status: 'problem', detail: 'Neither mariadb-dump nor mysqldump was found.' });
    expect(missing.check('mariadb/mysql')).toMatchObject({ status: 'problem', detail: 'Neither mariadb nor mysql was found.' });
    expect(missing.check('mariadb/mysql').fix).toMatch(/apt-get install mariadb-client/);
    expect(missing.check('database default').status).toBe('ok'); // the server itself answers
    expect(missing.check('pg_dump').status).toBe('warning'); // no PostgreSQL database here
  });

  it('finds client tools older than the server', async () => {
    const db = await createDatabase('doctor');
    const cwd = tempDir();
    const bin = path.join(cwd, 'old-bin');
    mkdirSync(bin);
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
      writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) 11.22"\n`, { mode: 0o755 });
    }
    const { result, check } = await doctor(cwd, { DATABASE_URL: db.url, DBGUARD_PG_BINDIR: bin });
    expect(result.code).toBe(1);
    expect(check('pg_dump')).toMatchObject({ status: 'problem', detail: 'pg_dump 11.22 is older than the PostgreSQL 15 server it must work with' });
  });

  it('finds a backups folder this user cannot write', async () => {
    const cwd = healthyProject();
    const dir = path.join(cwd, 'backups');
    chmodSync(cwd, 0o755);
    chmodSync(dir, 0o555);
    // root writes anywhere: run as an ordinary user, for whom the folder is read-only.
    const asRoot = process.getuid?.() === 0;
    const result = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'doctor', '--json'], {
        cwd,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    const report = parseJson<Report>(result);
    expect(result.code, result.stderr).toBe(1);
    expect(report.checks.find((c) => c.name === 'backups folder')).toMatchObject({ status: 'problem', detail: `${dir} is not writable by this user` });
  });

  it('warns about a backups folder other users can read', async () => {
    const cwd = healthyProject();
    chmodSync(path.join(cwd, 'backups'), 0o755);
    const { result, check } = await doctor(cwd);
    expect(result.code).toBe(0); // a warning: the backups still work
    expect(check('backups folder')).toMatchObject({ status: 'warning', fix: `chmod 700 ${path.join(cwd, 'backups')}` });
  });

  it('finds an unreachable remote, and passes a reachable one', async () => {
    const port = await closedPort();
    const down = healthyProject();
    const { result, check } = await doctor(down, { ...s3.env(), DBGUARD_S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(check('remote')).toMatchObject({ status: 'problem', detail: `Cannot reach s3://dbguard-backups at http://127.0.0.1:${port}: ECONNREFUSED.` });

    const up = healthyProject();
    const reachable = await doctor(up, s3.env('doctor'));
    expect(reachable.result.code, reachable.result.stderr).toBe(0);
    expect(reachable.check('remote')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^s3:\/\/dbguard-backups\/doctor at http:\/\/127\.0\.0\.1:\d+ answers$/) });

    const noBucket = await doctor(up, { ...s3.env(), DBGUARD_REMOTE: 's3://no-such-bucket' });
    expect(noBucket.check('remote')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/does not exist/) });
  });

  it('finds a notification channel whose variable is unset or whose host does not answer', async () => {
    const port = await closedPort();
    const listening = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    try {
      const live = (listening.address() as net.AddressInfo).port;
      const cwd = healthyProject({
        notify: [
          { type: 'webhook', url: `http://127.0.0.1:${live}/hook` },
          { type: 'slack', url: `http://127.0.0.1:${port}/services/T000/B000/secretpath` },
        ],
      });
      const { result, report } = await doctor(cwd);
      expect(result.code).toBe(1);
      const channels = report.checks.filter((c) => c.name.startsWith('notify '));
      expect(channels).toEqual([
        { name: `notify webhook 127.0.0.1:${live}`, status: 'ok', detail: `127.0.0.1:${live} accepts connections` },
        expect.objectContaining({ name: `notify slack 127.0.0.1:${port}`, status: 'problem', detail: `cannot reach 127.0.0.1:${port} (ECONNREFUSED)` }),
      ]);
      expect(result.stdout).not.toContain('secretpath');

      writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { app: { url: `file:${path.join(cwd, 'app.db')}` } }, notify: [{ type: 'slack', url: '${SLACK_WEBHOOK_URL}' }] }));
      const unset = await doctor(cwd);
      expect(unset.result.code).toBe(1);
      expect(unset.check('notifications')).toMatchObject({ status: 'problem', detail: expect.stringContaining('SLACK_WEBHOOK_URL') });
    } finally {
      await new Promise<void>((resolve) => listening.close(() => resolve()));
    }
  });

  it('finds a configured database that is not there', async () => {
    const cwd = healthyProject();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { app: { url: 'file:./gone.db' } } }));
    const gone = await doctor(cwd);
    expect(gone.result.code).toBe(1);
    expect(gone.check('database app')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/gone\.db does not exist/) });
    expect(gone.check('node').detail).toBe(`Node.js ${process.version}`);
  });
});

describe('platform rules', () => {
  it('names the supported Node.js versions in one line on any other', () => {
    expect(unsupportedNodeMessage('v20.19.0')).toBeUndefined();
    expect(unsupportedNodeMessage('v22.12.0')).toBeUndefined();
    expect(unsupportedNodeMessage('v24.1.0')).toBeUndefined();
    expect(unsupportedNodeMessage('v18.20.4')).toBe('warning: dbguard supports Node.js 20, 22, 24; this is Node.js v18.20.4, on which it is not tested.');
    expect(unsupportedNodeMessage('v25.0.0')).toMatch(/^warning: dbguard supports Node\.js 20, 22, 24; this is Node\.js v25\.0\.0/);
  });

  it('recognises a native module that did not build or was built for another Node.js, and nothing else', () => {
    expect(isNativeLoadError(new Error('Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node'))).toBe(true);
    expect(isNativeLoadError(new Error("Cannot find module './build/Release/binding.node'"))).toBe(true);
    expect(isNativeLoadError(new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115.'))).toBe(true);
    expect(isNativeLoadError(new Error('SQLITE_CANTOPEN: unable to open database file'))).toBe(false);
    expect(nativeFixCommand('better-sqlite3', '/srv/my app')).toBe("cd '/srv/my app' && npm rebuild better-sqlite3 --ignore-scripts=false");
    expect(nativeFixCommand('zstd-napi')).toBe(`cd ${process.cwd()} && npm rebuild zstd-napi --ignore-scripts=false`);
  });

  it('judges free space against the largest recent backup', () => {
    const GiB = 1 << 30;
    expect(spaceVerdict(100 * GiB, 0)).toBe('ok');
    expect(spaceVerdict(10 * GiB, 4 * GiB)).toBe('ok');
    expect(spaceVerdict(6 * GiB, 4 * GiB)).toBe('warning');
    expect(spaceVerdict(GiB / 2, 0)).toBe('warning');
    expect(spaceVerdict(3 * GiB, 4 * GiB)).toBe('problem');
  });
});
