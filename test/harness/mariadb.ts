/**
 * A throwaway MariaDB server for the test suite: Debian's mariadb-install-db/mariadbd, on 127.0.0.1 and a free port
 * with a private socket, and a password user so secrets handling is tested for real. As root, the server runs as
 * the `mysql` user.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './postgres.js';

export const MYSQL_TEST_USER = 'dbguard_test';
/** Contains characters that need escaping in URLs and option files. */
export const MYSQL_TEST_PASSWORD = 'Plugh:pa@ss/w0rd\\42#';

export interface MariadbServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

function findTool(name: string): string {
  for (const dir of [process.env.DBGUARD_TEST_MYSQL_BINDIR, '/usr/sbin', '/usr/bin', '/usr/local/bin'].filter(Boolean) as string[]) {
    if (existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(
    `The test suite needs a MariaDB server (${name}) and it found none.\n` +
      'Install it: `apt-get install -y mariadb-server mariadb-client` (Debian/Ubuntu), or set DBGUARD_TEST_MYSQL_BINDIR.\n' +
      '`bash .ci/run` installs it for you.',
  );
}

export async function startMariadb(): Promise<MariadbServer> {
  const installDb = findTool('mariadb-install-db');
  const mariadbd = findTool('mariadbd');
  const asRoot = process.getuid?.() === 0;
  const root = mkdtempSync(path.join(os.tmpdir(), 'dbguard-test-mariadb-'));
  const dataDir = path.join(root, 'data');
  const socket = path.join(root, 'mysqld.sock');
  const user = asRoot ? ['--user=mysql'] : [];
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'mysql']).toString());
    const gid = Number(execFileSync('id', ['-g', 'mysql']).toString());
    chownSync(root, uid, gid);
  }
  const installed = spawnSync(
    installDb,
    ['--no-defaults', `--datadir=${dataDir}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'],
    { encoding: 'utf8', cwd: root },
  );
  if (installed.status !== 0) throw new Error(`mariadb-install-db failed (${installed.status}): ${installed.stderr || installed.stdout}`);

  const port = await freePort();
  const child: ChildProcess = spawn(
    mariadbd,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      ...user,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${path.join(root, 'mysqld.pid')}`,
      `--log-error=${path.join(root, 'error.log')}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=64M',
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      '--innodb-flush-method=nosync',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      // root has no password and is reachable only through the private socket; the tests' user has one.
      const connection = await mysql.createConnection({ socketPath: socket, user: 'root' });
      await connection.query('CREATE USER ?@? IDENTIFIED BY ?', [MYSQL_TEST_USER, '%', MYSQL_TEST_PASSWORD]);
      await connection.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [MYSQL_TEST_USER, '%']);
      await connection.end();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`mariadbd did not start: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { host: '127.0.0.1', port, stop };
}

export function mysqlUrl(server: { host: string; port: number }, database: string, password = MYSQL_TEST_PASSWORD): string {
  return `mysql://${MYSQL_TEST_USER}:${encodeURIComponent(password)}@${server.host}:${server.port}/${database}`;
}
