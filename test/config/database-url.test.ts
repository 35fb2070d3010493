import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseName, locateDatabaseUrl, parseDatabaseUrl, redactUrl } from '../../src/config/database-url.js';
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
});
