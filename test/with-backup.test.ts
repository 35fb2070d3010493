/*
 * withBackup: migrations that run inside the application, with the real libraries in this process (drizzle-orm's
 * migrator, knex's migrate.latest(), better-sqlite3, pg) while the application holds its own open connection.
 * "Exactly the backup" is checked with a full dump (sqlite3 .dump, pg_dump of schema and data) taken before.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { migrate as migrateSqlite } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import knex from 'knex';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { listBackups, parseDatabaseUrl, rollbackReport, withBackup, type WithBackupStep } from '../dist/index.js';
import { runCli } from './harness/cli.js';
import { writeDrizzleMigrations } from './harness/drizzle.js';
import { createDatabase, fillSampleData, server } from './harness/pg-db.js';
import { TEST_PASSWORD, TEST_USER } from './harness/postgres.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

function sqliteDump(file: string): string {
  return execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' });
}

/** Schema and data; without the random key of the `\\restrict` lines that pg_dump writes since 15.14. */
function pgDump(database: string): string {
  const { host, port } = server();
  const env = { ...process.env, PGHOST: host, PGPORT: String(port), PGUSER: TEST_USER, PGPASSWORD: TEST_PASSWORD };
  const dump = execFileSync('pg_dump', ['--no-owner', `--dbname=${database}`], { encoding: 'utf8', env });
  return dump.replace(/^\\(un)?restrict \S+$/gm, '');
}

function sqliteApp(): { dir: string; file: string; url: string; target: ReturnType<typeof parseDatabaseUrl> } {
  const dir = tempDir();
  const file = createSqliteDb(dir, { orders: 50 });
  const url = `file:${file}`;
  return { dir, file, url, target: parseDatabaseUrl(url, dir) };
}

/** Runs `promise`, which must reject, and returns what it rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('withBackup on SQLite, with the application holding its own connection', () => {
  it('a hand-written migration that throws half-way leaves exactly the backup, and the original error', async () => {
    const { dir, file, target } = sqliteApp();
    const app = new Database(file);
    const before = sqliteDump(file);
    const steps: WithBackupStep['step'][] = [];
    const boom = new Error('boom half-way');

    const error = await rejection(
      withBackup({ target, dir: path.join(dir, 'backups'), label: 'add-status', onStep: (s) => steps.push(s.step) }, () => {
        app.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)');
        app.exec("INSERT INTO audit (what) VALUES ('started')");
        app.exec("ALTER TABLE orders ADD COLUMN status TEXT DEFAULT 'new'");
        app.exec('DELETE FROM lines WHERE id % 2 = 0');
        throw boom;
      }),
    );

    expect(error).toBe(boom);
    const report = rollbackReport(error)!;
    expect(report).toMatchObject({ rollback: 'restored', backupId: expect.stringMatching(/add-status/) });
    expect(sqliteDump(file)).toBe(before);
    expect(steps).toEqual(['backing-up', 'backed-up', 'running', 'rolling-back', 'rolled-back']);
    // The application's own connection goes on working, on the restored database.
    expect(app.prepare('SELECT count(*) FROM lines').pluck().get()).toBe(150);
    expect(() => app.prepare('SELECT status FROM orders').all()).toThrow(/no such column/);
    app.close();
    const [migration] = (await listBackups({ dir: path.join(dir, 'backups') })).backups.filter((b) => b.manifest.type === 'migration');
    expect(migration?.manifest.id).toBe(report.backupId);
  });

  it('a migration that succeeds keeps its changes and returns its result and the backup id', async () => {
    const { dir, file, target } = sqliteApp();
    const app = new Database(file);
    const { result, backupId } = await withBackup({ target, dir: path.join(dir, 'backups'), label: 'audit' }, async () => {
      app.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY)');
      return 42;
    });
    expect(result).toBe(42);
    expect(app.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'audit'").pluck().get()).toBe(1);
    app.close();
    const { backups } = await listBackups({ dir: path.join(dir, 'backups') });
    expect(backups.map((b) => [b.manifest.id, b.manifest.type, b.manifest.label])).toEqual([[backupId, 'migration', 'audit']]);
  });

  it("drizzle-orm's migrator: a failing migration leaves no __drizzle_migrations table, no partial change", async () => {
    const { dir, file, target } = sqliteApp();
    const app = new Database(file);
    const db = drizzleSqlite(app);
    const before = sqliteDump(file);
    const migrationsFolder = writeDrizzleMigrations(dir, [
      ['0000_tags', 'CREATE TABLE tags (id integer PRIMARY KEY, name text);\n--> statement-breakpoint\nINSERT INTO tags VALUES (1, \'a\');'],
      ['0001_broken', 'ALTER TABLE orders ADD COLUMN total integer;\n--> statement-breakpoint\nINSERT INTO missing_table VALUES (1);'],
    ]);

    const error = await rejection(withBackup({ target, dir: path.join(dir, 'backups') }, () => migrateSqlite(db, { migrationsFolder })));

    expect(String((error as Error).message) + String((error as Error).cause)).toMatch(/missing_table/);
    expect(rollbackReport(error)?.rollback).toBe('restored');
    expect(sqliteDump(file)).toBe(before);

    writeDrizzleMigrations(dir, [
      ['0000_tags', 'CREATE TABLE tags (id integer PRIMARY KEY, name text);'],
      ['0001_total', 'ALTER TABLE orders ADD COLUMN total integer;'],
    ]);
    const { backupId } = await withBackup({ target, dir: path.join(dir, 'backups') }, () => migrateSqlite(db, { migrationsFolder }));
    expect(backupId).toBeTruthy();
    expect(app.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(2);
    app.close();
  });

  it('rollback: false keeps what the migration did and reports the backup to restore', async () => {
    const { dir, file, target } = sqliteApp();
    const boom = new Error('kept');
    const error = await rejection(
      withBackup({ target, dir: path.join(dir, 'backups'), rollback: false }, () => {
        const app = new Database(file);
        app.exec('CREATE TABLE half (id INTEGER)');
        app.close();
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(rollbackReport(error)).toMatchObject({ rollback: 'kept', backupId: expect.any(String) });
    expect(sqliteDump(file)).toMatch(/CREATE TABLE half/);
  });

  it('encrypted backups: refused before the migration runs when no identity is given; rolled back with one', async () => {
    const { dir, file, target } = sqliteApp();
    const backups = path.join(dir, 'backups');
    const encryption = { recipients: [], passphrase: 'correct horse' };
    let ran = false;
    const refused = await rejection(withBackup({ target, dir: backups, backup: { encryption } }, () => (ran = true)));
    expect(refused).toMatchObject({ name: 'UsageError', exitCode: 2, message: expect.stringMatching(/could not be rolled back. Nothing was run/) });
    expect(ran).toBe(false);
    expect((await listBackups({ dir: backups })).backups).toEqual([]);

    const before = sqliteDump(file);
    const error = await rejection(
      withBackup({ target, dir: backups, backup: { encryption }, decryption: { identities: [], passphrase: 'correct horse' } }, () => {
        sqliteExecIn(file, 'CREATE TABLE secret_half (id INTEGER); DROP TABLE "user profiles";');
        throw new Error('encrypted boom');
      }),
    );
    expect(rollbackReport(error)?.rollback).toBe('restored');
    expect(sqliteDump(file)).toBe(before);
    const [taken] = (await listBackups({ dir: backups })).backups.filter((b) => b.manifest.type === 'migration');
    expect(taken?.manifest.encryption).toMatchObject({ algorithm: 'age', passphrase: true });
  });

  it('a database that does not exist yet is not backed up; a failure says there was nothing to restore', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'new.db');
    const target = parseDatabaseUrl(`file:${file}`, dir);
    const error = await rejection(
      withBackup({ target, dir: path.join(dir, 'backups') }, () => {
        throw new Error('first start');
      }),
    );
    expect(rollbackReport(error)).toEqual({ backupId: null, rollback: 'nothing-to-restore' });
    const { backupId, result } = await withBackup({ target, dir: path.join(dir, 'backups') }, () => 'created');
    expect([backupId, result]).toEqual([null, 'created']);
  });

  it('a thrown string is wrapped so that it can carry the report', async () => {
    const { dir, target } = sqliteApp();
    const error = await rejection(
      withBackup({ target, dir: path.join(dir, 'backups') }, () => {
        throw 'plain string';
      }),
    );
    expect(error).toMatchObject({ name: 'DbguardError', cause: 'plain string', message: 'The migration failed: plain string' });
    expect(rollbackReport(error)?.rollback).toBe('restored');
  });
});

function sqliteExecIn(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('withBackup holds the same lock as dbguard migrate and restore', () => {
  it('a second guarded migration of the same database waits for the first, then runs', async () => {
    const { dir, target } = sqliteApp();
    const backups = path.join(dir, 'backups');
    const order: string[] = [];
    const firstRunning = deferred();
    const release = deferred();
    const first = withBackup({ target, dir: backups, onStep: (s) => s.step === 'running' && firstRunning.resolve() }, async () => {
      order.push('first started');
      await release.promise;
      order.push('first done');
    });
    await firstRunning.promise;
    const second = withBackup(
      {
        target,
        dir: backups,
        onStep: (s) => {
          if (s.step === 'waiting') {
            order.push('second waiting');
            expect(s.holder).toMatch(/^dbguard migrate \(pid \d+, since /);
            release.resolve();
          }
          if (s.step === 'backing-up') order.push('second backing up');
        },
      },
      () => {
        order.push('second started');
      },
    );
    await Promise.all([first, second]);
    expect(order).toEqual(['first started', 'second waiting', 'first done', 'second backing up', 'second started']);
  });

  it('gives up after lockTimeoutMs with a clear refusal, and dbguard restore is refused meanwhile', async () => {
    const { dir, target, url } = sqliteApp();
    const backups = path.join(dir, 'backups');
    const running = deferred();
    const release = deferred();
    const first = withBackup({ target, dir: backups, onStep: (s) => s.step === 'running' && running.resolve() }, () => release.promise);
    await running.promise;
    let ran = false;
    const refused = await rejection(withBackup({ target, dir: backups, lockTimeoutMs: 300 }, () => (ran = true)));
    expect(refused).toMatchObject({ name: 'RefusedError', exitCode: 3, message: expect.stringMatching(/Another dbguard migrate \(pid \d+/) });
    expect(ran).toBe(false);

    const cli = await runCli(['restore', 'latest', '--yes', '--dir', backups], { cwd: dir, env: { DATABASE_URL: url } });
    expect(cli.code, cli.stderr).toBe(3);
    expect(cli.stderr).toContain(`is working on ${target.engine === 'sqlite' ? target.path : ''}.`);
    release.resolve();
    await first;
  });
});

describe('withBackup on PostgreSQL, with the application holding a pg pool', () => {
  it("drizzle-orm's migrator: a migration that fails leaves no drizzle schema behind; a failed seed after it undoes it all", async () => {
    const { name, url } = await createDatabase('wb');
    await fillSampleData(name, 50);
    const dir = tempDir();
    const target = parseDatabaseUrl(url, dir);
    const backups = path.join(dir, 'backups');
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    try {
      const db = drizzlePg(pool);
      await pool.query('SELECT 1'); // the pool holds an idle connection throughout
      const before = pgDump(name);

      // 1. The migration itself fails: drizzle rolls its transaction back, but its schema and table stay.
      const migrationsFolder = writeDrizzleMigrations(dir, [
        ['0000_mood', "CREATE TYPE mood AS ENUM ('ok', 'bad');\n--> statement-breakpoint\nALTER TABLE users ADD COLUMN mood mood;"],
        ['0001_broken', 'INSERT INTO missing_table VALUES (1);'],
      ]);
      const failed = await rejection(withBackup({ target, dir: backups }, () => migratePg(db, { migrationsFolder })));
      expect(rollbackReport(failed)?.rollback).toBe('restored');
      expect(pgDump(name)).toBe(before);

      // 2. The migrations commit, then the application's next step throws: all of it is undone.
      writeDrizzleMigrations(dir, [
        ['0000_mood', "CREATE TYPE mood AS ENUM ('ok', 'bad');\n--> statement-breakpoint\nALTER TABLE users ADD COLUMN mood mood;"],
        [
          '0001_audit',
          'CREATE SCHEMA audit;\n--> statement-breakpoint\nCREATE TABLE audit.events (id serial PRIMARY KEY, at timestamptz);\n' +
            "--> statement-breakpoint\nCREATE FUNCTION audit.now_plus(i integer) RETURNS integer LANGUAGE sql AS 'SELECT i + 1';\n" +
            '--> statement-breakpoint\nCREATE VIEW busy_users AS SELECT id FROM users WHERE mood IS NOT NULL;\n' +
            '--> statement-breakpoint\nDELETE FROM posts WHERE id % 3 = 0;',
        ],
      ]);
      const seedFailed = new Error('seed failed');
      const error = await rejection(
        withBackup({ target, dir: backups }, async () => {
          await migratePg(db, { migrationsFolder });
          await pool.query("UPDATE users SET mood = 'bad'");
          throw seedFailed;
        }),
      );
      expect(error).toBe(seedFailed);
      expect(rollbackReport(error)?.rollback).toBe('restored');
      expect(pgDump(name)).toBe(before);
      // The pool's connections were not terminated, and they see the restored database.
      expect((await pool.query('SELECT count(*)::int AS n FROM posts')).rows[0].n).toBe(100);

      // 3. The same migrations, succeeding: kept, with the backup id.
      const { backupId } = await withBackup({ target, dir: backups, label: 'mood' }, () => migratePg(db, { migrationsFolder }));
      expect(backupId).toMatch(/mood/);
      expect((await pool.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it("knex's migrate.latest(): a migration that throws half-way outside a transaction is rolled back exactly", async () => {
    const { name, url } = await createDatabase('wbk');
    await fillSampleData(name, 20);
    const dir = tempDir();
    const migrations = path.join(dir, 'migrations');
    mkdirSync(migrations);
    writeFileSync(
      path.join(migrations, '20260101_orders.cjs'),
      "exports.up = (knex) => knex.schema.createTable('orders', (t) => { t.increments('id'); t.integer('user_id').references('users.id'); });\n" +
        'exports.down = () => {};\n',
    );
    writeFileSync(
      path.join(migrations, '20260102_half.cjs'),
      'exports.config = { transaction: false };\n' +
        "exports.up = async (knex) => { await knex.schema.alterTable('users', (t) => { t.string('nickname'); });\n" +
        "  await knex('posts').where('id', '>', 10).del();\n" +
        "  throw new Error('half-way'); };\n" +
        'exports.down = () => {};\n',
    );
    const app = knex({ client: 'pg', connection: url, migrations: { directory: migrations, loadExtensions: ['.cjs'] } });
    try {
      const before = pgDump(name);
      const error = await rejection(withBackup({ target: parseDatabaseUrl(url, dir), dir: path.join(dir, 'backups') }, () => app.migrate.latest()));
      expect((error as Error).message).toMatch(/half-way/);
      expect(rollbackReport(error)?.rollback).toBe('restored');
      expect(pgDump(name)).toBe(before);
      expect(await app('posts').count({ n: '*' })).toEqual([{ n: '40' }]);
    } finally {
      await app.destroy();
    }
  });
});
