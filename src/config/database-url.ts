import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { parse as parsePgUrl } from 'pg-connection-string';
import { UsageError } from '../errors.js';

export interface PostgresConnection {
  host: string;
  port: number;
  user: string | undefined;
  /** Never printed, never logged, never passed on a command line. */
  password: string | undefined;
  database: string;
  sslmode: string | undefined;
  /** Files named by the URL's `sslrootcert`, `sslcert` and `sslkey`, as libpq reads them. */
  sslrootcert?: string | undefined;
  sslcert?: string | undefined;
  sslkey?: string | undefined;
}

export interface MysqlConnection {
  host: string;
  port: number;
  user: string | undefined;
  /** Never printed, never logged, never passed on a command line. */
  password: string | undefined;
  database: string;
  /** `verify`: TLS with a checked certificate; `require`: TLS, any certificate; undefined: the tools' default. */
  ssl: 'verify' | 'require' | 'disable' | undefined;
}

export type DatabaseTarget =
  | {
      engine: 'mysql';
      connection: MysqlConnection;
      /** Safe to print: no credentials. */
      display: string;
    }
  | {
      engine: 'postgres';
      connection: PostgresConnection;
      /** Prisma's `?schema=`: recorded, but the whole database is backed up. */
      schema: string | undefined;
      /** Safe to print: no credentials. */
      display: string;
    }
  | {
      engine: 'sqlite';
      path: string;
      display: string;
      /** How a relative path was resolved, when that is not obvious. */
      note: string | undefined;
    };

export type UrlSource = 'flag' | 'env' | 'dotenv';

export interface LocateOptions {
  db?: string | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** `--db`, else `DATABASE_URL` in the environment, else `DATABASE_URL` in `./.env`. */
export function locateDatabaseUrl({ db, env, cwd }: LocateOptions): { url: string; source: UrlSource } {
  if (db !== undefined && db.trim() !== '') return { url: db.trim(), source: 'flag' };
  const fromEnv = env.DATABASE_URL?.trim();
  if (fromEnv) return { url: fromEnv, source: 'env' };
  const dotenvPath = path.join(cwd, '.env');
  if (existsSync(dotenvPath)) {
    const parsed = parseDotenv(readFileSync(dotenvPath));
    const fromFile = parsed.DATABASE_URL?.trim();
    if (fromFile) return { url: fromFile, source: 'dotenv' };
  }
  throw new UsageError(
    'No database configured.',
    'Pass --db <url>, set the DATABASE_URL environment variable, or add DATABASE_URL=... to a .env file in this folder ' +
      '(e.g. DATABASE_URL=postgresql://user@localhost:5432/app or DATABASE_URL=file:./dev.db).',
  );
}

const SQLITE_EXTENSIONS = ['.db', '.sqlite', '.sqlite3', '.db3'];

/** Parses a database URL or SQLite path into a target; `cwd` anchors relative paths. */
export function parseDatabaseUrl(raw: string, cwd: string): DatabaseTarget {
  const url = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();

  if (scheme === 'postgres' || scheme === 'postgresql') return parsePostgres(url);
  if (scheme === 'file' || scheme === 'sqlite') return parseSqlite(url, scheme, cwd);
  if (scheme === undefined || /^[a-z]$/i.test(scheme)) {
    // A plain path (a one-letter "scheme" is a Windows drive letter).
    if (SQLITE_EXTENSIONS.includes(path.extname(url).toLowerCase())) {
      return sqliteTarget(path.resolve(cwd, url), undefined);
    }
    throw new UsageError(
      `Cannot tell which database "${redactUrl(url)}" is.`,
      `Use a postgres:// or postgresql:// URL, a file:./dev.db or sqlite:./dev.db URL, or a path ending in ${SQLITE_EXTENSIONS.join(', ')}.`,
    );
  }
  if (scheme === 'mysql' || scheme === 'mariadb') return parseMysql(url);
  throw new UsageError(
    `Unsupported database URL scheme "${scheme}:".`,
    'dbguard supports PostgreSQL (postgres://, postgresql://), MySQL/MariaDB (mysql://, mariadb://) and SQLite (file:, sqlite:, or a .db/.sqlite path).',
  );
}

const SSL_PARAMETERS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'uselibpqcompat'];

function parsePostgres(url: string): DatabaseTarget {
  let parsed: ReturnType<typeof parsePgUrl>;
  try {
    const checked = new URL(url); // pg-connection-string is lenient; a URL that Node cannot read is malformed
    // dbguard reads sslmode itself; left in, pg-connection-string would print a multi-line warning about it.
    for (const key of SSL_PARAMETERS) checked.searchParams.delete(key);
    parsed = parsePgUrl(checked.toString());
  } catch {
    throw new UsageError(
      `The PostgreSQL URL "${redactUrl(url)}" is malformed.`,
      'Expected postgresql://user:password@host:5432/database (percent-encode special characters in the password).',
    );
  }
  const database = parsed.database;
  if (!database) {
    throw new UsageError(
      `The PostgreSQL URL "${redactUrl(url)}" names no database.`,
      'Add the database name after the host: postgresql://user@host:5432/<database>.',
    );
  }
  const host = parsed.host || 'localhost';
  const port = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UsageError(`The PostgreSQL URL "${redactUrl(url)}" has an invalid port.`);
  }
  const query = new URL(url).searchParams;
  const schema = query.get('schema') ?? undefined;
  return {
    engine: 'postgres',
    connection: {
      host,
      port,
      user: parsed.user || undefined,
      password: parsed.password || undefined,
      database,
      sslmode: query.get('sslmode') ?? undefined,
      sslrootcert: query.get('sslrootcert') ?? undefined,
      sslcert: query.get('sslcert') ?? undefined,
      sslkey: query.get('sslkey') ?? undefined,
    },
    schema,
    display: `postgresql://${host}:${port}/${database}`,
  };
}

/** Prisma's `?sslaccept=`, mysql2's and Drizzle's `?ssl=` (true, or JSON with rejectUnauthorized), `?ssl-mode=`. */
function mysqlSsl(query: URLSearchParams): MysqlConnection['ssl'] {
  const accept = query.get('sslaccept');
  if (accept === 'strict') return 'verify';
  if (accept === 'accept_invalid_certs') return 'require';
  const mode = (query.get('ssl-mode') ?? query.get('sslmode'))?.toUpperCase();
  if (mode === 'DISABLED') return 'disable';
  if (mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY') return 'verify';
  if (mode === 'REQUIRED') return 'require';
  const ssl = query.get('ssl');
  if (ssl === null) return undefined;
  if (ssl === 'false' || ssl === '0') return 'disable';
  if (ssl === 'true' || ssl === '1' || ssl === '') return 'verify';
  try {
    return (JSON.parse(ssl) as { rejectUnauthorized?: boolean }).rejectUnauthorized === false ? 'require' : 'verify';
  } catch {
    return 'verify';
  }
}

function parseMysql(url: string): DatabaseTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `The MySQL URL "${redactUrl(url)}" is malformed.`,
      'Expected mysql://user:password@host:3306/database (percent-encode special characters in the password).',
    );
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new UsageError(`The MySQL URL "${redactUrl(url)}" names no database.`, 'Add the database name after the host: mysql://user@host:3306/<database>.');
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const port = parsed.port ? Number(parsed.port) : 3306;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError(`The MySQL URL "${redactUrl(url)}" has an invalid port.`);
  return {
    engine: 'mysql',
    connection: {
      host,
      port,
      user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      database,
      ssl: mysqlSsl(parsed.searchParams),
    },
    display: `mysql://${host.includes(":") ? `[${host}]` : host}:${port}/${database}`,
  };
}

function parseSqlite(url: string, scheme: 'file' | 'sqlite', cwd: string): DatabaseTarget {
  let rest = url.slice(scheme.length + 1);
  rest = rest.split('?')[0] ?? '';
  if (rest.startsWith('//')) rest = rest.slice(2); // sqlite://./dev.db, file:///abs/path
  if (rest === '') {
    throw new UsageError(`The SQLite URL "${url}" has no path.`, 'Expected file:./dev.db, sqlite:./dev.db or an absolute path.');
  }
  const decoded = decodeURIComponent(rest);
  if (path.isAbsolute(decoded)) return sqliteTarget(decoded, undefined);

  // Prisma resolves file: URLs relative to the folder of its schema.
  const prismaSchema = path.join(cwd, 'prisma', 'schema.prisma');
  if (scheme === 'file' && existsSync(prismaSchema)) {
    const resolved = path.resolve(path.dirname(prismaSchema), decoded);
    return sqliteTarget(resolved, `resolved relative to prisma/schema.prisma, as Prisma does: ${resolved}`);
  }
  return sqliteTarget(path.resolve(cwd, decoded), undefined);
}

function sqliteTarget(file: string, note: string | undefined): DatabaseTarget {
  return { engine: 'sqlite', path: file, display: file, note };
}

const ENGINE_NAMES: Record<DatabaseTarget['engine'], string> = { postgres: 'PostgreSQL', mysql: 'MySQL/MariaDB', sqlite: 'SQLite' };

/** The database product's name, for messages. */
export function engineName(engine: DatabaseTarget['engine']): string {
  return ENGINE_NAMES[engine];
}

/** The URL with any password replaced, safe for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** The short name used in backup file names: the database name, or the SQLite file's base name. */
export function databaseName(target: DatabaseTarget): string {
  if (target.engine !== 'sqlite') return target.connection.database;
  const base = path.basename(target.path);
  const ext = path.extname(base);
  return SQLITE_EXTENSIONS.includes(ext.toLowerCase()) ? base.slice(0, -ext.length) : base;
}

/**
 * Another database beside `target`: on the same PostgreSQL or MySQL server (same credentials), or a SQLite file in the same
 * folder (`.db` added when the name has no SQLite extension). The name is a plain name, never a path or a URL.
 */
export function siblingTarget(target: DatabaseTarget, name: string): DatabaseTarget {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    throw new UsageError(`"${name}" is not a database name.`, 'Use letters, digits, "_", "-" and "." (at most 63 characters), starting with a letter, digit or "_".');
  }
  if (target.engine === 'postgres') {
    const { host, port } = target.connection;
    return { ...target, connection: { ...target.connection, database: name }, display: `postgresql://${host}:${port}/${name}` };
  }
  if (target.engine === 'mysql') {
    const { host, port } = target.connection;
    return { ...target, connection: { ...target.connection, database: name }, display: `mysql://${host.includes(':') ? `[${host}]` : host}:${port}/${name}` };
  }
  const file = path.join(path.dirname(target.path), SQLITE_EXTENSIONS.includes(path.extname(name).toLowerCase()) ? name : `${name}.db`);
  return sqliteTarget(file, undefined);
}
