import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { PostgresConnection } from '../config/database-url.js';
import { DbguardError, UsageError } from '../errors.js';
import { findExecutable, pathDirs } from './executables.js';

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'pg_basebackup' | 'pg_receivewal';

const INSTALL_HINT =
  'Install the PostgreSQL client tools (Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq), ' +
  'or point DBGUARD_PG_BINDIR at the folder that holds pg_dump.';

/** The tool's path: `$DBGUARD_PG_BINDIR/<tool>` when set, else found on PATH (past Debian's wrapper). */
export function pgToolPath(tool: PgTool, env: NodeJS.ProcessEnv = process.env): string {
  if (env.DBGUARD_PG_BINDIR) return path.join(env.DBGUARD_PG_BINDIR, tool);
  return debianWrapped(tool, env) ?? tool;
}

/** Where Debian's and Ubuntu's postgresql-client-<version> packages put their programs: `<root>/<version>/bin`. */
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

/**
 * On Debian and Ubuntu, `pg_dump` and the other tools on PATH are links to postgresql-common's `pg_wrapper`, a Perl
 * script that picks a version and runs its program: with PGHOST set, as it is for every tool dbguard starts, the
 * newest installed version that has it. That program, started directly: the same choice without the Perl start-up
 * (~0.05 s) in every run. Looked up at every start, as the wrapper does (packages change under `serve`).
 */
function debianWrapped(tool: PgTool, env: NodeJS.ProcessEnv): string | undefined {
  const onPath = findExecutable(tool, pathDirs(env));
  if (!onPath) return undefined;
  try {
    if (path.basename(realpathSync(onPath)) !== 'pg_wrapper') return undefined;
    const versions = readdirSync(DEBIAN_PG_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const program = findExecutable(tool, [path.join(DEBIAN_PG_ROOT, version, 'bin')]);
      if (program) return program;
    }
  } catch {
    // not the layout expected: the wrapper decides
  }
  return undefined;
}

/**
 * Major and full version of a client tool, e.g. `{ major: 15, full: '15.18' }`. Asked every time (not remembered):
 * `dbguard serve` runs for weeks, and the client tools may be upgraded meanwhile.
 */
export async function pgToolVersion(tool: PgTool): Promise<{ major: number; full: string }> {
  const { stdout } = await runPgTool(tool, ['--version'], { env: process.env });
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match) throw new DbguardError(`Could not read the version of ${tool} from "${stdout.trim()}".`);
  return { major: Number(match[1]), full: match[2] === undefined ? match[1]! : `${match[1]}.${match[2]}` };
}

/**
 * The environment for pg_dump/pg_restore/psql: connection settings, and the password in PGPASSWORD, which libpq
 * reads from the environment. Never in arguments (`ps` shows those to every user); never in a file, which a killed
 * process (SIGKILL) would leave behind.
 */
export function pgToolEnv(connection: PostgresConnection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGDATABASE: connection.database,
    PGAPPNAME: 'dbguard',
    PGCONNECT_TIMEOUT: '10',
  };
  delete env.PGPASSFILE;
  if (connection.user) env.PGUSER = connection.user;
  if (connection.sslmode) env.PGSSLMODE = connection.sslmode;
  if (connection.sslrootcert) env.PGSSLROOTCERT = connection.sslrootcert;
  if (connection.sslcert) env.PGSSLCERT = connection.sslcert;
  if (connection.sslkey) env.PGSSLKEY = connection.sslkey;
  if (connection.password !== undefined) env.PGPASSWORD = connection.password;
  return env;
}

/** A conninfo naming only the database (no secret): pg_restore and psql need one in their arguments. */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Starts a PostgreSQL client tool; `signal` stops it (SIGTERM) when aborted. */
export function spawnPgTool(tool: PgTool, args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore', signal?: AbortSignal): ChildProcess {
  return spawn(pgToolPath(tool, env), args, { env, stdio: [stdin, 'pipe', 'pipe'], signal });
}

/** Waits for a child started by `spawnPgTool`; rejects with its stderr when it fails. */
export function waitForPgTool(tool: PgTool, child: ChildProcess): Promise<{ stderr: string }> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new DbguardError(`${tool} was not found.`, { hint: INSTALL_HINT })
          : new DbguardError(`Could not start ${tool}: ${error.message}`),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stderr });
      else reject(pgToolFailure(tool, stderr, code, signal));
    });
  });
}

/** Runs a tool to completion and returns its output. */
export async function runPgTool(tool: PgTool, args: string[], { env }: { env: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }> {
  const child = spawnPgTool(tool, args, env);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const result = await waitForPgTool(tool, child);
  return { stdout, stderr: result.stderr };
}

function pgToolFailure(tool: PgTool, stderr: string, code: number | null, signal: NodeJS.Signals | null): DbguardError {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const mismatch = /server version: ([\d.]+)[^;]*; \S+ version: ([\d.]+)/.exec(stderr);
  if (mismatch) {
    return new DbguardError(`${tool} ${mismatch[2]} is older than the PostgreSQL server (${mismatch[1]}) and refuses to work with it.`, {
      hint: `Install the client tools of PostgreSQL ${mismatch[1]!.split('.')[0]} or newer and put them first on PATH (or set DBGUARD_PG_BINDIR).`,
    });
  }
  const errorLines = lines.filter((line) => /error|fatal/i.test(line));
  const detail = (errorLines.length > 0 ? errorLines : lines).slice(0, 5).join('\n  ');
  const how = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
  return new DbguardError(`${tool} ${how}${detail ? `:\n  ${detail}` : '.'}`);
}

export function pgClientConfig(connection: PostgresConnection, database = connection.database): pg.ClientConfig {
  const ssl = tlsOptions(connection);
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database,
    ssl,
    application_name: 'dbguard',
    connectionTimeoutMillis: 10_000,
  };
}

/**
 * node-postgres's TLS settings for the URL's sslmode, checking what libpq checks for pg_dump and psql (which get the
 * same settings through PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY): verify-full the chain and the host name,
 * verify-ca the chain only, require the chain only when a root certificate is given (libpq's rule), else nothing.
 */
function tlsOptions(connection: PostgresConnection): pg.ClientConfig['ssl'] {
  const mode = connection.sslmode;
  if (mode === undefined || mode === 'disable') return undefined;
  const read = (key: 'sslrootcert' | 'sslcert' | 'sslkey') => {
    const file = connection[key];
    if (!file) return {};
    try {
      return { [{ sslrootcert: 'ca', sslcert: 'cert', sslkey: 'key' }[key]]: readFileSync(file) };
    } catch (error) {
      throw new UsageError(`Cannot read the file of ${key} in the database URL: ${(error as Error).message}`);
    }
  };
  const files = { ...read('sslrootcert'), ...read('sslcert'), ...read('sslkey') };
  const verify = mode === 'verify-full' || mode === 'verify-ca' || (mode === 'require' && connection.sslrootcert !== undefined);
  return {
    ...files,
    rejectUnauthorized: verify,
    ...(verify && mode !== 'verify-full' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** Connects with a clear, credential-free error for every usual failure. */
export async function connectPg(connection: PostgresConnection, database = connection.database): Promise<pg.Client> {
  // Loaded on first use: commands on SQLite, or that never connect, skip its ~30 ms of start-up.
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client(pgClientConfig(connection, database));
  client.on('error', () => {}); // a dropped connection surfaces on the next query
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw describeConnectError(error, connection, database);
  }
}

export function describeConnectError(error: unknown, connection: PostgresConnection, database: string): DbguardError {
  const where = `${connection.host}:${connection.port}`;
  const err = error as { code?: string; message?: string };
  switch (err.code) {
    case 'ECONNREFUSED':
      return new DbguardError(`Cannot connect to PostgreSQL at ${where}: connection refused.`, {
        hint: 'Is the server running and listening on that host and port?',
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DbguardError(`Cannot connect to PostgreSQL: host "${connection.host}" not found.`, { hint: 'Check the host in the database URL.' });
    case '28P01':
    case '28000':
      return new DbguardError(`PostgreSQL at ${where} rejected user "${connection.user ?? '(default)'}": ${err.message ?? 'authentication failed'}.`, {
        hint: /no encryption/.test(err.message ?? '')
          ? 'The server accepts encrypted connections only: add ?sslmode=require to the database URL (or verify-full with sslrootcert=<CA file>).'
          : 'Check the user name and password in the database URL.',
      });
    case '3D000':
      return new DbguardError(`Database "${database}" does not exist on ${where}.`, { hint: 'Check the database name in the URL.' });
    default:
      if (/timeout/i.test(err.message ?? '')) {
        return new DbguardError(`Timed out connecting to PostgreSQL at ${where}.`, { hint: 'Check the host, port and firewall.' });
      }
      if (/certificate|self[- ]signed|altnames/i.test(err.message ?? '')) {
        return new DbguardError(`Cannot connect to PostgreSQL at ${where}: its TLS certificate was not accepted (${err.message}).`, {
          hint: connection.sslrootcert
            ? `Check that ${connection.sslrootcert} (sslrootcert) holds the CA that signed the server's certificate, and the host name for verify-full.`
            : 'Name the CA that signed the server\'s certificate with sslrootcert=<file> in the database URL, or use sslmode=require to encrypt without checking it.',
        });
      }
      return new DbguardError(`Cannot connect to PostgreSQL at ${where}: ${err.message ?? String(error)}`);
  }
}
