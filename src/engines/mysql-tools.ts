import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { MysqlConnection } from '../config/database-url.js';
import { DbguardError } from '../errors.js';
import { findExecutable, pathDirs } from './executables.js';

/** The dump tool and the command-line client: MariaDB's names first, then MySQL's. */
export type MysqlToolRole = 'dump' | 'client';
const CANDIDATES: Record<MysqlToolRole, string[]> = { dump: ['mariadb-dump', 'mysqldump'], client: ['mariadb', 'mysql'] };

const INSTALL_HINT =
  'Install the MariaDB or MySQL client tools (Debian/Ubuntu: apt-get install mariadb-client; macOS: brew install mysql-client), ' +
  'or point DBGUARD_MYSQL_BINDIR at the folder that holds mariadb-dump or mysqldump.';

export interface MysqlTool {
  name: string;
  path: string;
  /** MariaDB's and MySQL's tools spell TLS and some dump options differently. */
  flavor: 'mariadb' | 'mysql';
}

const resolved = new Map<string, MysqlTool>();

/** Finds the tool in DBGUARD_MYSQL_BINDIR, else on PATH; its flavor from its name or its `--version`. */
export async function mysqlTool(role: MysqlToolRole, env: NodeJS.ProcessEnv = process.env): Promise<MysqlTool> {
  const dirs = env.DBGUARD_MYSQL_BINDIR ? [env.DBGUARD_MYSQL_BINDIR] : pathDirs(env);
  const key = `${role}:${dirs.join(path.delimiter)}`;
  const known = resolved.get(key);
  if (known) return known;
  for (const name of CANDIDATES[role]) {
    const file = findExecutable(name, dirs);
    if (!file) continue;
    const flavor = name.startsWith('mariadb') || /mariadb/i.test(await versionOf(file)) ? 'mariadb' : 'mysql';
    const tool = { name, path: file, flavor } as const;
    resolved.set(key, tool);
    return tool;
  }
  throw new DbguardError(`Neither ${CANDIDATES[role].join(' nor ')} was found.`, { hint: INSTALL_HINT });
}

async function versionOf(file: string): Promise<string> {
  const child = spawn(file, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await new Promise((resolve) => child.once('close', resolve).once('error', resolve));
  return out;
}

/**
 * Arguments that say where to connect: never the password. `--no-defaults` first, so an option file of the user's
 * cannot point the tool at another server or user than the URL names.
 */
export function connectionArgs(connection: MysqlConnection, tool: MysqlTool): string[] {
  const args = ['--no-defaults', `--host=${connection.host}`, `--port=${connection.port}`, '--protocol=TCP'];
  if (connection.user) args.push(`--user=${connection.user}`);
  if (connection.ssl === 'disable') args.push(tool.flavor === 'mariadb' ? '--skip-ssl' : '--ssl-mode=DISABLED');
  if (connection.ssl === 'require') args.push(tool.flavor === 'mariadb' ? '--ssl' : '--ssl-mode=REQUIRED');
  if (connection.ssl === 'verify') args.push(...(tool.flavor === 'mariadb' ? ['--ssl', '--ssl-verify-server-cert'] : ['--ssl-mode=VERIFY_IDENTITY']));
  return args;
}

/**
 * The password travels in MYSQL_PWD, which both MariaDB's and MySQL's tools read from their environment: never in
 * arguments (`ps` shows those to every user), never in an option file a killed process (SIGKILL) would leave behind.
 */
export function mysqlToolEnv(connection: MysqlConnection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MYSQL_PWD;
  delete env.MYSQL_HOST;
  delete env.MYSQL_TCP_PORT;
  if (connection.password !== undefined) env.MYSQL_PWD = connection.password;
  return env;
}

export function spawnMysqlTool(tool: MysqlTool, args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore', signal?: AbortSignal): ChildProcess {
  return spawn(tool.path, args, { env, stdio: [stdin, 'pipe', 'pipe'], signal });
}

/** Waits for a tool; rejects with the gist of its stderr when it fails. */
export function waitForMysqlTool(tool: MysqlTool, child: ChildProcess, connection: MysqlConnection): Promise<void> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.name === 'AbortError' ? new DbguardError(`${tool.name} was stopped.`) : new DbguardError(`Could not start ${tool.name}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(toolFailure(tool.name, stderr, code, signal, connection));
    });
  });
}

function toolFailure(name: string, stderr: string, code: number | null, signal: NodeJS.Signals | null, connection: MysqlConnection): DbguardError {
  const where = `${connection.host}:${connection.port}`;
  if (/Access denied for user/i.test(stderr) && /\b1045\b/.test(stderr)) return accessDenied(connection, where);
  if (/\b2002\b|\b2003\b|Can't connect/i.test(stderr)) return refused(where);
  if (/\b1049\b|Unknown database/i.test(stderr)) return unknownDatabase(connection.database, where);
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^Warning:/i.test(line));
  const detail = lines.slice(0, 5).join('\n  ');
  const how = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
  return new DbguardError(`${name} ${how}${detail ? `:\n  ${detail}` : '.'}`);
}

const accessDenied = (connection: MysqlConnection, where: string) =>
  new DbguardError(`MySQL at ${where} rejected user "${connection.user ?? '(default)'}": access denied.`, {
    hint: 'Check the user name and password in the database URL.',
  });
const refused = (where: string) =>
  new DbguardError(`Cannot connect to MySQL at ${where}: connection refused.`, { hint: 'Is the server running and listening on that host and port?' });
const unknownDatabase = (database: string, where: string) =>
  new DbguardError(`Database "${database}" does not exist on ${where}.`, { hint: 'Check the database name in the URL.' });

/**
 * A mysql2 connection to `database` (none when null). Dates and big numbers come back as strings, exactly as
 * stored; the connection speaks utf8mb4.
 */
export async function connectMysql(connection: MysqlConnection, database: string | null = connection.database): Promise<Connection> {
  // Loaded on first use: commands on other databases skip its start-up.
  const mysql = await import('mysql2/promise');
  try {
    const client = await mysql.createConnection({
      host: connection.host,
      port: connection.port,
      user: connection.user,
      password: connection.password,
      database: database ?? undefined,
      ssl: connection.ssl === 'verify' ? {} : connection.ssl === 'require' ? { rejectUnauthorized: false } : undefined,
      charset: 'utf8mb4_general_ci',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 10_000,
    });
    client.on('error', () => {}); // a dropped connection surfaces on the next query
    return client;
  } catch (error) {
    throw describeMysqlConnectError(error, connection, database ?? '');
  }
}

export function describeMysqlConnectError(error: unknown, connection: MysqlConnection, database: string): DbguardError {
  const where = `${connection.host}:${connection.port}`;
  const err = error as { code?: string; message?: string };
  switch (err.code) {
    case 'ECONNREFUSED':
      return refused(where);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DbguardError(`Cannot connect to MySQL: host "${connection.host}" not found.`, { hint: 'Check the host in the database URL.' });
    case 'ETIMEDOUT':
      return new DbguardError(`Timed out connecting to MySQL at ${where}.`, { hint: 'Check the host, port and firewall.' });
    case 'ER_ACCESS_DENIED_ERROR':
      return accessDenied(connection, where);
    case 'ER_BAD_DB_ERROR':
      return unknownDatabase(database, where);
    case 'ER_DBACCESS_DENIED_ERROR':
      return new DbguardError(`User "${connection.user ?? '(default)'}" may not use database "${database}" on ${where}.`, {
        hint: 'Grant the user privileges on the database, or check its name in the URL.',
      });
    default:
      return new DbguardError(`Cannot connect to MySQL at ${where}: ${err.message ?? String(error)}`);
  }
}

/** `name` quoted for MySQL: backticks, doubled inside. */
export function quoteMysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
