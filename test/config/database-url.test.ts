import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseName, engineName, locateDatabaseUrl, parseDatabaseUrl, redactUrl, siblingTarget } from '../../src/config/database-url.js';
import { UsageError } from '../../src/errors.js';
import { tempDir } from '../harness/tmp.js';

describe('database URLs', () => {
  it('parses PostgreSQL URLs, keeping the password out of what is printable', () => {
    const target = parseDatabaseUrl('postgresql://app:p%40ss%3Aword@db.internal:6543/shop?schema=billing&sslmode=require', '/x');
    expect(target).toEqual({
      engine: 'postgres',
      connection: { host: 'db.internal', port: 6543, user: 'app', password: 'p@ss:word', database: 'shop', sslmode: 'require' },
      schema: 'billing',
      display: 'postgresql://db.internal:6543/shop',
    });
    expect(parseDatabaseUrl('postgres://localhost/app', '/x')).toMatchObject({ connection: { port: 5432, user: undefined } });
  });

  it('parses MySQL and MariaDB URLs in Prisma\'s, Drizzle\'s and mysql2\'s forms', () => {
    expect(parseDatabaseUrl('mysql://app:p%40ss%3Aword@db.internal:3307/shop?sslaccept=strict', '/x')).toEqual({
      engine: 'mysql',
      connection: { host: 'db.internal', port: 3307, user: 'app', password: 'p@ss:word', database: 'shop', ssl: 'verify' },
      display: 'mysql://db.internal:3307/shop',
    });
    expect(parseDatabaseUrl('mariadb://root@localhost/app', '/x')).toMatchObject({ engine: 'mysql', connection: { port: 3306, user: 'root', password: undefined, ssl: undefined } });
    expect(parseDatabaseUrl('mysql://u@h/app?sslaccept=accept_invalid_certs', '/x')).toMatchObject({ connection: { ssl: 'require' } });
    expect(parseDatabaseUrl('mysql://u@h/app?ssl={"rejectUnauthorized":true}', '/x')).toMatchObject({ connection: { ssl: 'verify' } });
    expect(parseDatabaseUrl('mysql://u@h/app?ssl-mode=DISABLED', '/x')).toMatchObject({ connection: { ssl: 'disable' } });
    for (const bad of ['mysql://u:secret@host', 'mysql://u:secret@host:99999/db']) {
      expect(() => parseDatabaseUrl(bad, '/x')).toThrow(/MySQL URL "mysql:\/\/u:\*\*\*@host/);
    }
  });

  it.each([
    ['file:./dev.db', '/proj/dev.db'],
    ['file:dev.db?connection_limit=1', '/proj/dev.db'],
    ['sqlite:./data/app.sqlite', '/proj/data/app.sqlite'],
    ['sqlite:///var/db/app.db', '/var/db/app.db'],
    ['./local.sqlite3', '/proj/local.sqlite3'],
    ['/abs/path.db', '/abs/path.db'],
  ])('resolves SQLite %s to %s', (url, expected) => {
    expect(parseDatabaseUrl(url, '/proj')).toMatchObject({ engine: 'sqlite', path: expected });
  });

  it('rejects what it cannot read, without echoing passwords', () => {
    for (const bad of ['postgresql://u:secret@host', 'redis://localhost', 'notes.txt', 'postgresql://u:secret@host:99999/db']) {
      expect(() => parseDatabaseUrl(bad, '/x')).toThrow(UsageError);
      try {
        parseDatabaseUrl(bad, '/x');
      } catch (error) {
        expect((error as Error).message).not.toContain('secret');
      }
    }
    expect(redactUrl('postgresql://u:secret@h/db')).toBe('postgresql://u:***@h/db');
  });

  it('prefers --db, then DATABASE_URL, then .env', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'OTHER=1\nDATABASE_URL="file:./from-dotenv.db" # comment\n');
    expect(locateDatabaseUrl({ db: 'a.db', env: { DATABASE_URL: 'b.db' }, cwd })).toEqual({ url: 'a.db', source: 'flag' });
    expect(locateDatabaseUrl({ env: { DATABASE_URL: 'b.db' }, cwd })).toEqual({ url: 'b.db', source: 'env' });
    expect(locateDatabaseUrl({ env: {}, cwd })).toEqual({ url: 'file:./from-dotenv.db', source: 'dotenv' });
    expect(() => locateDatabaseUrl({ env: {}, cwd: tempDir() })).toThrow(/No database configured/);
  });

  it('resolves file: URLs next to prisma/schema.prisma when it exists', () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'prisma'));
    writeFileSync(path.join(cwd, 'prisma', 'schema.prisma'), '');
    const target = parseDatabaseUrl('file:./dev.db', cwd);
    expect(target).toMatchObject({ path: path.join(cwd, 'prisma', 'dev.db') });
    expect(databaseName(target)).toBe('dev');
  });

  it('reads the TLS files a PostgreSQL URL names without opening them, and accepts libpq-compatible modes', () => {
    // The driver's own URL parser would read these files (and fail: they do not exist); dbguard hands them to libpq.
    const url = 'postgresql://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem&sslcert=/nonexistent/c.pem&sslkey=/nonexistent/k.pem';
    expect(parseDatabaseUrl(url, '/x')).toEqual({
      engine: 'postgres',
      connection: { host: 'h', port: 5432, user: 'u', password: undefined, database: 'db', sslmode: 'verify-full', sslrootcert: '/nonexistent/ca.pem', sslcert: '/nonexistent/c.pem', sslkey: '/nonexistent/k.pem' },
      schema: undefined,
      display: 'postgresql://h:5432/db',
    });
    expect(parseDatabaseUrl('postgresql://u@h/db?uselibpqcompat=true&sslmode=verify-ca', '/x')).toMatchObject({ connection: { sslmode: 'verify-ca', sslrootcert: undefined } });
  });

  it('fills in the PostgreSQL defaults and refuses bad ports and missing databases', () => {
    expect(parseDatabaseUrl('POSTGRES:///app', '/x')).toMatchObject({ connection: { host: 'localhost', port: 5432, database: 'app' }, display: 'postgresql://localhost:5432/app' });
    expect(parseDatabaseUrl(' postgresql://h:65535/db ', '/x')).toMatchObject({ connection: { port: 65535 } });
    expect(() => parseDatabaseUrl('postgresql://h:0/db', '/x')).toThrow(/has an invalid port/);
    expect(() => parseDatabaseUrl('postgresql://h:abc/db', '/x')).toThrow(/is malformed/);
    expect(() => parseDatabaseUrl('postgresql://h', '/x')).toThrow(/names no database/);
  });

  it.each([
    ['ssl-mode=VERIFY_CA', 'verify'],
    ['ssl-mode=VERIFY_IDENTITY', 'verify'],
    ['ssl-mode=REQUIRED&ssl=true', 'require'],
    ['sslmode=required', 'require'],
    ['sslmode=disabled&ssl=true', 'disable'],
    ['ssl-mode=REQUIRED&sslmode=disabled', 'require'],
    ['sslaccept=strict&ssl-mode=DISABLED', 'verify'],
    ['sslaccept=other&ssl=false', 'disable'],
    ['ssl-mode=PREFERRED&ssl=0', 'disable'],
    ['ssl=true', 'verify'],
    ['ssl=1', 'verify'],
    ['ssl=', 'verify'],
    ['ssl={"rejectUnauthorized":false}', 'require'],
    ['ssl={}', 'verify'],
    ['ssl=not-json', 'verify'],
    ['charset=utf8', undefined],
  ])('reads the MySQL TLS setting %s as %s', (query, ssl) => {
    expect(parseDatabaseUrl(`mysql://u@h/app?${query}`, '/x')).toMatchObject({ connection: { ssl } });
  });

  it('reads MySQL hosts, ports and names, IPv6 and percent-encoded included', () => {
    expect(parseDatabaseUrl('mysql://u@[::1]:3306/app', '/x')).toMatchObject({ connection: { host: '::1' }, display: 'mysql://[::1]:3306/app' });
    expect(parseDatabaseUrl('mysql:///a%20b', '/x')).toMatchObject({ connection: { host: 'localhost', port: 3306, user: undefined, database: 'a b' } });
    expect(parseDatabaseUrl('mysql://u%40x@h/app', '/x')).toMatchObject({ connection: { user: 'u@x' } });
    expect(parseDatabaseUrl('mysql://u@h:65535/app', '/x')).toMatchObject({ connection: { port: 65535 } });
    for (const bad of ['mysql://u@h:0/app', 'mysql://u@h/a/b', 'mysql://u@h:x/app']) expect(() => parseDatabaseUrl(bad, '/x'), bad).toThrow(UsageError);
    expect(() => parseDatabaseUrl('mysql://u@h/a/b', '/x')).toThrow(/names no database/);
  });

  it('reads SQLite URLs: percent-encoded, absolute, with // and a query; refuses an empty path', () => {
    expect(parseDatabaseUrl('file:./my%20db.db', '/proj')).toEqual({ engine: 'sqlite', path: '/proj/my db.db', display: '/proj/my db.db', note: undefined });
    expect(parseDatabaseUrl('file:/abs/x.db', '/proj')).toMatchObject({ path: '/abs/x.db' });
    expect(parseDatabaseUrl('sqlite://./dev.db', '/proj')).toMatchObject({ path: '/proj/dev.db' });
    expect(parseDatabaseUrl('./data/app.DB', '/proj')).toMatchObject({ engine: 'sqlite', path: '/proj/data/app.DB' });
    expect(parseDatabaseUrl('c:/data/app.db', '/proj')).toMatchObject({ engine: 'sqlite' });
    for (const bad of ['sqlite:', 'file:', 'file://', 'sqlite:?mode=ro']) expect(() => parseDatabaseUrl(bad, '/proj'), bad).toThrow(/has no path/);
    expect(() => parseDatabaseUrl('ftp://host/x.db', '/proj')).toThrow('Unsupported database URL scheme "ftp:".');
    expect(() => parseDatabaseUrl('c:/data/app.txt', '/proj')).toThrow(/Cannot tell which database/);
  });

  it('only file: URLs resolve next to prisma/schema.prisma, saying so; sqlite: URLs and absolute paths do not', () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'prisma'));
    writeFileSync(path.join(cwd, 'prisma', 'schema.prisma'), '');
    expect(parseDatabaseUrl('file:./dev.db', cwd)).toEqual({
      engine: 'sqlite',
      path: path.join(cwd, 'prisma', 'dev.db'),
      display: path.join(cwd, 'prisma', 'dev.db'),
      note: `resolved relative to prisma/schema.prisma, as Prisma does: ${path.join(cwd, 'prisma', 'dev.db')}`,
    });
    expect(parseDatabaseUrl('sqlite:./dev.db', cwd)).toMatchObject({ path: path.join(cwd, 'dev.db'), note: undefined });
    expect(parseDatabaseUrl('file:/abs/dev.db', cwd)).toMatchObject({ path: '/abs/dev.db', note: undefined });
  });

  it('redacts passwords in the user part and in a password= parameter', () => {
    expect(redactUrl('mysql://u:p@h/db?user=y&password=x&Password=z#f')).toBe('mysql://u:***@h/db?user=y&password=***&Password=***#f');
    expect(redactUrl('postgresql://admin:long-secret@h/db?password=another-secret&x=1')).toBe('postgresql://admin:***@h/db?password=***&x=1');
    expect(redactUrl('postgresql://u@h/db')).toBe('postgresql://u@h/db');
    expect(redactUrl('see postgresql://u:p@h/db')).toBe('see postgresql://u:p@h/db');
  });

  it('names databases and their siblings: same server, or the same folder', () => {
    const pg = parseDatabaseUrl('postgresql://u:pw@h:6000/app', '/x');
    expect(databaseName(pg)).toBe('app');
    expect(siblingTarget(pg, 'app_copy')).toEqual({ ...pg, connection: { ...(pg as { connection: object }).connection, database: 'app_copy' }, display: 'postgresql://h:6000/app_copy' });
    const my = parseDatabaseUrl('mysql://u@[::1]:3307/app', '/x');
    expect(siblingTarget(my, 'other')).toMatchObject({ engine: 'mysql', connection: { host: '::1', port: 3307, database: 'other' }, display: 'mysql://[::1]:3307/other' });
    expect(siblingTarget(parseDatabaseUrl('mysql://u@h/app', '/x'), 'o').display).toBe('mysql://h:3306/o');
    const file = parseDatabaseUrl('/data/app.sqlite3', '/x');
    expect(databaseName(file)).toBe('app');
    expect(databaseName(parseDatabaseUrl('sqlite:/data/app.backup', '/x'))).toBe('app.backup');
    expect(siblingTarget(file, 'copy')).toEqual({ engine: 'sqlite', path: '/data/copy.db', display: '/data/copy.db', note: undefined });
    expect(siblingTarget(file, 'copy.SQLITE')).toMatchObject({ path: '/data/copy.SQLITE' });
    for (const bad of ['', '../x', 'a/b', '-x', 'a b', 'x'.repeat(64)]) expect(() => siblingTarget(pg, bad), bad).toThrow(/is not a database name/);
    expect(siblingTarget(pg, `_${'x'.repeat(62)}`).connection).toMatchObject({ database: `_${'x'.repeat(62)}` });
    expect([engineName('postgres'), engineName('mysql'), engineName('sqlite')]).toEqual(['PostgreSQL', 'MySQL/MariaDB', 'SQLite']);
  });

  it('ignores blank settings when looking for the database URL', () => {
    const cwd = tempDir();
    expect(locateDatabaseUrl({ db: '  ', env: { DATABASE_URL: ' b.db ' }, cwd })).toEqual({ url: 'b.db', source: 'env' });
    expect(locateDatabaseUrl({ db: ' a.db ', env: {}, cwd })).toEqual({ url: 'a.db', source: 'flag' });
    writeFileSync(path.join(cwd, '.env'), 'OTHER=1\n');
    expect(() => locateDatabaseUrl({ env: {}, cwd })).toThrow(UsageError);
    writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=" "\n');
    expect(() => locateDatabaseUrl({ env: { DATABASE_URL: ' ' }, cwd })).toThrow(UsageError);
    writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=" c.db"\n');
    expect(locateDatabaseUrl({ db: '', env: {}, cwd })).toEqual({ url: 'c.db', source: 'dotenv' });
  });
});
