/**
 * A throwaway PostgreSQL server for the test suite: the operating system's initdb/pg_ctl, on 127.0.0.1 and a free
 * port, with password (SCRAM) authentication so secrets handling is tested for real. As root, the server runs
 * as the `postgres` user (initdb refuses root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const TEST_USER = 'dbguard_test';
/** Contains characters that need escaping in URLs and passfiles. */
export const TEST_PASSWORD = 'Xyzzy:pa@ss/w0rd\\42';

export interface PgServer {
  host: string;
  port: number;
  dataDir: string;
  stop(): void;
}

export function findPgBinDir(): string {
  const candidates = [
    process.env.DBGUARD_TEST_PG_BINDIR,
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
    '/usr/local/pgsql/bin',
  ].filter((dir): dir is string => Boolean(dir));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
  if (!found) {
    throw new Error(
      'The test suite needs a PostgreSQL server (initdb and pg_ctl) and it found none.\n' +
        'Install it: `apt-get install -y postgresql` (Debian/Ubuntu) or `brew install postgresql@15` (macOS),\n' +
        'or set DBGUARD_TEST_PG_BINDIR to the folder holding initdb. `bash .ci/run` installs it for you.',
    );
  }
  return found;
}

/** A TCP port free on 127.0.0.1 right now (the servers the harness starts listen there only). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `tls`: PEM files of the server's certificate and key; the server then accepts TLS connections only. */
export async function startPostgres(options: { tls?: { cert: string; key: string } } = {}): Promise<PgServer> {
  const bin = findPgBinDir();
  const asRoot = process.getuid?.() === 0;
  const root = mkdtempSync(path.join(os.tmpdir(), 'dbguard-test-pg-'));
  const dataDir = path.join(root, 'data');
  const pwfile = path.join(root, 'pw');
  writeFileSync(pwfile, `${TEST_PASSWORD}\n`, { mode: 0o600 });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(root, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const command = asRoot ? 'runuser' : path.join(bin, tool);
    const fullArgs = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args;
    const result = spawnSync(command, fullArgs, { encoding: 'utf8', cwd: root });
    if (result.status !== 0) throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
  };

  run('initdb', ['-D', dataDir, '-U', TEST_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
  rmSync(pwfile);
  const port = await freePort();
  let serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  if (options.tls) {
    for (const [name, file] of [['server.crt', options.tls.cert], ['server.key', options.tls.key]] as const) {
      copyFileSync(file, path.join(dataDir, name));
      chmodSync(path.join(dataDir, name), 0o600);
      if (asRoot) execFileSync('chown', ['postgres:postgres', path.join(dataDir, name)]);
    }
    writeFileSync(
      path.join(dataDir, 'pg_hba.conf'),
      'local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n',
    );
    serverOptions += ' -c ssl=on';
  }
  run('pg_ctl', ['-D', dataDir, '-o', serverOptions, '-l', path.join(root, 'server.log'), '-w', '-t', '60', 'start']);
  return {
    host: '127.0.0.1',
    port,
    dataDir,
    stop() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

export function pgUrl(server: { host: string; port: number }, database: string, password = TEST_PASSWORD): string {
  return `postgresql://${TEST_USER}:${encodeURIComponent(password)}@${server.host}:${server.port}/${database}`;
}
