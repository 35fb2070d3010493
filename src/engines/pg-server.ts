/**
 * A temporary PostgreSQL server for point-in-time recovery: the server binary of the backup's major version, on a
 * private Unix socket only (no TCP), trusting local connections, stopped and deleted by its owner. As root it runs
 * as the `postgres` user (the server refuses root).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DbguardError } from '../errors.js';
import { pathDirs } from './executables.js';
import { connectPg } from './pg-tools.js';

const run = promisify(execFile);

/** Where the server binaries usually are, newest layouts first; DBGUARD_PG_BINDIR wins. */
function candidateBinDirs(major: number, env: NodeJS.ProcessEnv): string[] {
  return [
    `/usr/lib/postgresql/${major}/bin`,
    `/usr/pgsql-${major}/bin`,
    `/opt/homebrew/opt/postgresql@${major}/bin`,
    `/usr/local/opt/postgresql@${major}/bin`,
    ...pathDirs(env),
  ];
}

async function postgresMajor(binary: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(binary, ['--version']);
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The `postgres` binary of this major version, or a clear error naming what was found. */
export async function findPostgresServer(major: number, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const hint = `Install the PostgreSQL ${major} server (Debian/Ubuntu: apt-get install postgresql-${major}; macOS: brew install postgresql@${major}), or set DBGUARD_PG_BINDIR to the folder holding its postgres binary.`;
  if (env.DBGUARD_PG_BINDIR) {
    const binary = path.join(env.DBGUARD_PG_BINDIR, 'postgres');
    const found = existsSync(binary) ? await postgresMajor(binary) : undefined;
    if (found === major) return binary;
    throw new DbguardError(
      found === undefined
        ? `DBGUARD_PG_BINDIR (${env.DBGUARD_PG_BINDIR}) holds no postgres server binary; recovery needs the PostgreSQL ${major} server. Nothing was changed.`
        : `DBGUARD_PG_BINDIR holds PostgreSQL ${found}'s server, and the base backup is PostgreSQL ${major}: recovery needs the same major version. Nothing was changed.`,
      { hint },
    );
  }
  const seen: string[] = [];
  for (const dir of candidateBinDirs(major, env)) {
    const binary = path.join(dir, 'postgres');
    if (!existsSync(binary)) continue;
    const found = await postgresMajor(binary);
    if (found === major) return binary;
    if (found !== undefined) seen.push(`${binary} (PostgreSQL ${found})`);
  }
  throw new DbguardError(
    `Recovery needs the PostgreSQL ${major} server binary (postgres), and ${seen.length > 0 ? `only ${seen.join(', ')} was found` : 'none was found'}. Nothing was changed.`,
    { hint },
  );
}

/** uid and gid of the `postgres` user when running as root (the server refuses root); undefined otherwise. */
export async function serverAccount(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  } catch {
    throw new DbguardError('As root, recovery runs the temporary PostgreSQL server as the "postgres" user, and there is none.', {
      hint: 'Run dbguard as an ordinary user, or create a "postgres" system user.',
    });
  }
}

export interface TemporaryServer {
  socketDir: string;
  port: number;
  child: ChildProcess;
  /** The server's log (its last 256 KB). */
  log(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Fast shutdown, then immediate after a few seconds; resolves once it has exited. */
  stop(): Promise<void>;
}

export const TEMPORARY_PORT = 5432;

/** Starts `postgres` on `dataDir` with these settings (which win over the data folder's own configuration). */
export function startTemporaryServer(options: {
  binary: string;
  dataDir: string;
  socketDir: string;
  settings: Record<string, string>;
  account: { uid: number; gid: number } | undefined;
}): TemporaryServer {
  const settings: Record<string, string> = {
    listen_addresses: '',
    unix_socket_directories: options.socketDir,
    port: String(TEMPORARY_PORT),
    hba_file: path.join(options.dataDir, 'pg_hba.conf'),
    ident_file: path.join(options.dataDir, 'pg_ident.conf'),
    ssl: 'off',
    logging_collector: 'off',
    log_destination: 'stderr',
    shared_preload_libraries: '',
    archive_mode: 'off',
    hot_standby: 'off',
    fsync: 'off', // a throwaway copy: a crash loses nothing that matters
    ...options.settings,
  };
  const args = ['-D', options.dataDir, ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  const child = spawn(options.binary, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(options.account ? { uid: options.account.uid, gid: options.account.gid } : {}),
  });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log = (log + chunk).slice(-256 * 1024);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: -1, signal: null }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    socketDir: options.socketDir,
    port: TEMPORARY_PORT,
    child,
    log: () => log,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGQUIT'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Waits until the server accepts connections and is out of recovery (promoted), or has exited: `ended` then says
 * whether it stopped because the WAL ended before the recovery target.
 */
export async function waitForPromotion(server: TemporaryServer, user: string | undefined, signal?: AbortSignal): Promise<{ promoted: true } | { promoted: false; targetNotReached: boolean }> {
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    signal?.throwIfAborted();
    if (exited) return { promoted: false, targetNotReached: /recovery ended before configured recovery target was reached/.test(server.log()) };
    try {
      const client = await connectPg({ host: server.socketDir, port: server.port, user, password: undefined, database: 'postgres', sslmode: undefined });
      try {
        const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (!rows[0]!.r) return { promoted: true };
      } finally {
        await client.end().catch(() => {});
      }
    } catch {
      // starting up or still recovering
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Makes the unpacked base backup startable here: no leftover pid file, our own hba and ident files, a config file. */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await fs.rm(path.join(dataDir, 'postmaster.pid'), { force: true });
  await fs.writeFile(path.join(dataDir, 'pg_hba.conf'), 'local all all trust\n', { mode: 0o600 });
  await fs.writeFile(path.join(dataDir, 'pg_ident.conf'), '', { mode: 0o600 });
  // Debian keeps postgresql.conf in /etc: the base backup then has none, and the server needs one.
  const conf = path.join(dataDir, 'postgresql.conf');
  if (!existsSync(conf)) await fs.writeFile(conf, '', { mode: 0o600 });
  await fs.writeFile(path.join(dataDir, 'recovery.signal'), '', { mode: 0o600 });
}
