/*
 * Safe migrations against real databases. drizzle-kit runs for real (it works fully here). The Prisma CLI cannot
 * download its engines on these machines, so Prisma support is tested with real Prisma-format migration folders,
 * a real _prisma_migrations table, and test/harness/prisma-standin.mjs, which applies them without a transaction
 * the way Prisma does.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { writeDrizzleMigrations } from './harness/drizzle.js';
import { createDatabase, snapshotContent, withClient } from './harness/pg-db.js';
import { sqliteContent, sqliteExec, sqliteQuery } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const STANDIN = fileURLToPath(new URL('./harness/prisma-standin.mjs', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

function drizzleProject(dialect: 'sqlite' | 'postgresql', url: string, migrations: Array<[string, string]>): string {
  const dir = tempDir();
  symlinkSync(NODE_MODULES, path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'drizzle.config.ts'), `export default { dialect: '${dialect}', out: './drizzle', dbCredentials: { url: ${JSON.stringify(url)} } };\n`);
  writeDrizzleMigrations(dir, migrations);
  return dir;
}

function prismaProject(migrations: Array<[string, string]>, dir = tempDir()): string {
  mkdirSync(path.join(dir, 'prisma', 'migrations'), { recursive: true });
  writeFileSync(path.join(dir, 'prisma', 'schema.prisma'), 'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n');
  for (const [name, sql] of migrations) {
    mkdirSync(path.join(dir, 'prisma', 'migrations', name), { recursive: true });
    writeFileSync(path.join(dir, 'prisma', 'migrations', name, 'migration.sql'), sql);
  }
  return dir;
}

const sqliteSchema = (file: string) => sqliteQuery<{ s: string }>(file, "SELECT group_concat(sql, ';') AS s FROM sqlite_schema").s;

const standin = (cwd: string, url: string) => ['--', process.execPath, STANDIN, cwd, url];

describe('dbguard migrate with drizzle-kit', () => {
  it.each(['sqlite', 'postgresql'] as const)('%s: backs up, migrates, records versions, summarises', async (dialect) => {
    const db = dialect === 'postgresql' ? (await createDatabase('drz')).url : 'DBFILE';
    const init = 'CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n--> statement-breakpoint\nINSERT INTO users VALUES (1, \'a@x\'), (2, \'b@x\');';
    const dir = drizzleProject(dialect, db === 'DBFILE' ? './dev.db' : db, [['0000_init', init]]);
    const env = { DATABASE_URL: db === 'DBFILE' ? 'file:./dev.db' : db };
    if (db === 'DBFILE') sqliteExec(path.join(dir, 'dev.db'), 'PRAGMA user_version = 0');

    const first = await runCli(['migrate', '--json'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    expect(parseJson<{ applied: string[] }>(first).applied).toEqual(['0000_init']);

    writeDrizzleMigrations(dir, [['0000_init', init], ['0001_age', 'ALTER TABLE users ADD COLUMN age integer;']]);
    const second = await runCli(['migrate'], { cwd: dir, env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/Pending migrations: 0001_age/);
    expect(second.stdout).toMatch(/Migrated: 0001_age/);
    const id = /undo +dbguard restore (\S+)/.exec(second.stdout)![1]!;
    const manifest = parseJson<{ type: string; migration: unknown; label: string }>(await runCli(['show', id, '--json'], { cwd: dir }));
    expect(manifest).toMatchObject({ type: 'migration', label: '0001_age', migration: { tool: 'drizzle', lastApplied: '0000_init', pending: ['0001_age'] } });
  });
});

describe('dbguard migrate with knex', () => {
  it('runs knex migrate:latest, checks knex_migrations, and rolls back a migration that throws half-way', async () => {
    const dir = tempDir();
    symlinkSync(NODE_MODULES, path.join(dir, 'node_modules'));
    writeFileSync(
      path.join(dir, 'knexfile.cjs'),
      "module.exports = { client: 'better-sqlite3', connection: { filename: './dev.db' }, useNullAsDefault: true };\n",
    );
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(
      path.join(dir, 'migrations', '20260101_users.cjs'),
      "exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); t.string('email'); }).then(() => knex('users').insert([{ email: 'a' }, { email: 'b' }]));\nexports.down = (knex) => knex.schema.dropTable('users');\n",
    );
    const env = { DATABASE_URL: 'file:./dev.db' };
    const first = await runCli(['migrate', '--', 'npx', 'knex', '--knexfile', 'knexfile.cjs', 'migrate:latest'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Migrated: 20260101_users\.cjs/);

    // Not in a transaction (knex's config disables it for this one): the table is created, then it throws.
    writeFileSync(
      path.join(dir, 'migrations', '20260102_broken.cjs'),
      "exports.config = { transaction: false };\nexports.up = async (knex) => { await knex.schema.createTable('audit', (t) => t.increments('id')); await knex('users').insert({ email: 'half-way' }); throw new Error('boom'); };\nexports.down = async () => {};\n",
    );
    const before = sqliteContent(path.join(dir, 'dev.db'));
    const broken = await runCli(['migrate', '--', 'npx', 'knex', '--knexfile', 'knexfile.cjs', 'migrate:latest'], { cwd: dir, env });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/Pending migrations: 20260102_broken\.cjs/);
    expect(broken.stderr).toMatch(/Not analysed .*20260102_broken\.cjs/);
    expect(broken.stderr).toMatch(/restored from backup/);
    expect(sqliteContent(path.join(dir, 'dev.db'))).toEqual(before);
  });
});

describe('dbguard migrate with node-pg-migrate', () => {
  it('detects it from package.json, runs node-pg-migrate up for real, reads pgmigrations, analyses only the up part of its SQL files', async () => {
    const db = await createDatabase('npm');
    const dir = tempDir();
    symlinkSync(NODE_MODULES, path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', devDependencies: { 'node-pg-migrate': '*' } }));
    mkdirSync(path.join(dir, 'migrations'));
    const migration = (name: string, up: string, down: string) =>
      writeFileSync(path.join(dir, 'migrations', `${name}.sql`), `-- Up Migration\n${up}\n\n-- Down Migration\n${down}\n`);
    migration('1700000000000_users', "CREATE TABLE users (id serial PRIMARY KEY, email text);\nINSERT INTO users (email) VALUES ('a'), ('b');", 'DROP TABLE users;');
    const env = { DATABASE_URL: db.url };

    // The down part drops the table: it is not what `up` runs, so nothing destructive is reported.
    const first = await runCli(['migrate', '--json'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    expect(parseJson<{ applied: string[]; findings: unknown[] }>(first)).toMatchObject({ applied: ['1700000000000_users'], findings: [] });
    expect(await withClient(db.name, async (c) => (await c.query('SELECT name FROM pgmigrations')).rows)).toEqual([{ name: '1700000000000_users' }]);

    migration('1700000000001_drop_email', 'ALTER TABLE users DROP COLUMN email;', 'ALTER TABLE users ADD COLUMN email text;');
    const refused = await runCli(['migrate'], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Pending migrations: 1700000000001_drop_email/);
    expect(refused.stderr).toMatch(/DROP COLUMN users\.email: 2 non-null values/);
    expect(await withClient(db.name, async (c) => (await c.query('SELECT count(*)::int AS n FROM pgmigrations')).rows[0].n)).toBe(1);

    const applied = await runCli(['migrate', '--yes'], { cwd: dir, env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Migrated: 1700000000001_drop_email/);
    const columns = await withClient(db.name, async (c) => (await c.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY 1")).rows);
    expect(columns).toEqual([{ column_name: 'id' }]);
  });
});

describe('dbguard migrate, Prisma-format migrations', () => {
  it('rolls back a migration that fails half-way, so schema and rows are exactly as before (PostgreSQL)', async () => {
    const db = await createDatabase('prm');
    const dir = prismaProject([['20260101000000_init', 'CREATE TABLE "User" (id serial PRIMARY KEY, name text);\nINSERT INTO "User" (name) VALUES (\'ann\'), (\'bob\');']]);
    expect((await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env: { DATABASE_URL: db.url } })).code).toBe(0);
    await withClient(db.name, (c) => c.query(`INSERT INTO "User" (name) VALUES ('cy')`));
    const before = await snapshotContent(db.name);

    prismaProject([['20260102000000_broken', 'CREATE TABLE "Audit" (id int);\nINSERT INTO "User" (name) VALUES (\'half-way\');\nALTER TABLE "Nope" ADD COLUMN x int;']], dir);
    const result = await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/migration command exited with code 1/);
    expect(result.stderr).toMatch(/restored from backup \S+, as it was before/);
    expect(await snapshotContent(db.name)).toEqual(before);
    const audit = await withClient(db.name, (c) => c.query(`SELECT to_regclass('public."Audit"') AS t`));
    expect(audit.rows[0].t).toBeNull();
  });

  it('detects a command that exits 0 without applying, and rolls back (SQLite)', async () => {
    const dir = prismaProject([['20260101000000_init', 'CREATE TABLE "User" (id integer PRIMARY KEY, name text);']]);
    const file = path.join(dir, 'prisma', 'dev.db');
    const env = { DATABASE_URL: 'file:./dev.db' };
    expect((await runCli(['migrate', ...standin(dir, file)], { cwd: dir, env })).code).toBe(0);
    sqliteExec(file, `INSERT INTO "User" (name) VALUES ('ann')`);
    const before = { schema: sqliteSchema(file), content: sqliteContent(file) };
    prismaProject([['20260102000000_more', 'ALTER TABLE "User" ADD COLUMN age integer;']], dir);
    // The command changes the database, then exits 0 without recording the migration.
    const sql = `ALTER TABLE "User" ADD COLUMN age integer; CREATE TABLE half (id int); UPDATE "User" SET name = 'changed'`;
    const result = await runCli(['migrate', '--', 'sqlite3', file, sql], { cwd: dir, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/exited 0 but did not apply 20260102000000_more/);
    expect(result.stderr).toMatch(/restored from backup \S+, as it was before/);
    expect({ schema: sqliteSchema(file), content: sqliteContent(file) }).toEqual(before);
  });

  it('reports destructive statements with exact live counts and refuses them without confirmation', async () => {
    const db = await createDatabase('dst');
    const dir = prismaProject([['20260101000000_init', 'CREATE TABLE "User" (id serial PRIMARY KEY, name text);\nCREATE TABLE "Post" (id serial PRIMARY KEY, title text);']]);
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env })).code).toBe(0);
    await withClient(db.name, (c) =>
      c.query(`INSERT INTO "User" (name) SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END FROM generate_series(1, 15) i;
               INSERT INTO "Post" (title) SELECT 't' || i FROM generate_series(1, 7) i`),
    );
    prismaProject([['20260102000000_cleanup', 'ALTER TABLE "User" DROP COLUMN "name";\nDROP TABLE "Post";\nALTER TABLE "User" ADD COLUMN bio text;']], dir);
    const before = await snapshotContent(db.name);

    const refused = await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('DROP COLUMN User.name: 12 non-null values');
    expect(refused.stderr).toContain('DROP TABLE Post: 7 rows');
    expect(await snapshotContent(db.name)).toEqual(before);
    expect(parseJson<unknown[]>(await runCli(['list', '--json', '--type', 'migration'], { cwd: dir }))).toHaveLength(1);

    const accepted = await runCli(['migrate', '--yes', '--json', ...standin(dir, db.url)], { cwd: dir, env });
    expect(accepted.code, accepted.stderr).toBe(0);
    const result = parseJson<{ applied: string[]; backupId: string }>(accepted);
    expect(result.applied).toEqual(['20260102000000_cleanup']);
    // The migration backup records what linting found, as measured before the migration ran.
    const shown = parseJson<{ migration: { findings: string[] } }>(await runCli(['show', result.backupId, '--json'], { cwd: dir }));
    expect(shown.migration.findings).toEqual(['DROP COLUMN User.name: 12 non-null values', 'DROP TABLE Post: 7 rows']);
    // The undo command brings the dropped data back.
    expect((await runCli(['restore', result.backupId, '--yes'], { cwd: dir, env })).code).toBe(0);
    expect((await snapshotContent(db.name))['public.Post']).toHaveLength(7);
  });
});

describe('dbguard migrate with Prisma\'s default commands', () => {
  it('--deploy runs `prisma migrate deploy` (then `prisma generate`); without --deploy or --name it asks which (exit 2)', async () => {
    const db = await createDatabase('prd');
    const dir = prismaProject([['20260101000000_init', 'CREATE TABLE "User" (id serial PRIMARY KEY, name text);']]);
    // The project's own `prisma` (what npx runs): records its arguments, applies migrations through the stand-in.
    mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    const prisma = path.join(dir, 'node_modules', '.bin', 'prisma');
    writeFileSync(prisma, `#!/bin/sh\necho "$*" >> calls.txt\n[ "$1" = migrate ] && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(STANDIN)} "$PWD" "$DATABASE_URL"\nexit 0\n`, { mode: 0o755 });
    const env = { DATABASE_URL: db.url };

    const which = await runCli(['migrate'], { cwd: dir, env });
    expect(which.code).toBe(2);
    expect(which.stderr).toMatch(/Pass --name <name> \(prisma migrate dev\) or --deploy/);
    expect(existsSync(path.join(dir, 'calls.txt'))).toBe(false);

    const deployed = await runCli(['migrate', '--deploy', '--json'], { cwd: dir, env });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(parseJson<{ applied: string[]; command: string[] }>(deployed)).toMatchObject({
      applied: ['20260101000000_init'],
      command: ['npx', 'prisma', 'migrate', 'deploy'],
    });
    expect(readFileSync(path.join(dir, 'calls.txt'), 'utf8')).toBe('migrate deploy\ngenerate\n');
  });
});

describe('dbguard lint', () => {
  it('finds pending Prisma migrations from _prisma_migrations (finished, rolled back, unfinished)', async () => {
    const dir = prismaProject([
      ['20260101000000_a', 'CREATE TABLE t (id int);'],
      ['20260102000000_b', 'DROP TABLE t;'],
      ['20260103000000_c', 'DELETE FROM t;'],
    ]);
    const file = path.join(dir, 'prisma', 'dev.db');
    sqliteExec(
      file,
      `CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3);
       CREATE TABLE _prisma_migrations (id TEXT, migration_name TEXT, finished_at TEXT, rolled_back_at TEXT);
       INSERT INTO _prisma_migrations VALUES ('1', '20260101000000_a', '2026-01-01', NULL), ('2', '20260102000000_b', '2026-01-02', '2026-01-02'),
                                             ('3', '20260103000000_c', NULL, NULL);`,
    );
    const result = await runCli(['lint', '--json'], { cwd: dir, env: { DATABASE_URL: 'file:./dev.db' } });
    expect(result.code).toBe(3);
    const report = parseJson<{ files: string[]; findings: Array<{ kind: string; affected: number }> }>(result);
    expect(report.files.map((f) => path.basename(path.dirname(f)))).toEqual(['20260102000000_b', '20260103000000_c']);
    expect(report.findings.map((f) => [f.kind, f.affected])).toEqual([
      ['drop-table', 3],
      ['delete-without-where', 3],
    ]);
    // Without a database: every migration file, nothing measured.
    const offline = parseJson<{ files: string[] }>(await runCli(['lint', '--json', '--no-db'], { cwd: dir }));
    expect(offline.files).toHaveLength(3);
  });

  it('exits 3 on a destructive statement, 0 once it is accepted with -- dbguard:allow', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'drop.sql'), 'ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users DROP COLUMN legacy;\n');
    const found = await runCli(['lint', 'drop.sql'], { cwd: dir });
    expect(found.code).toBe(3);
    expect(found.stdout).toMatch(/drop\.sql:2: DROP COLUMN users\.legacy: not measured/);
    writeFileSync(path.join(dir, 'drop.sql'), 'ALTER TABLE users ADD COLUMN a int;\n-- dbguard:allow drop-column\nALTER TABLE users DROP COLUMN legacy;\n');
    const allowed = await runCli(['lint', 'drop.sql'], { cwd: dir });
    expect(allowed.code, allowed.stdout).toBe(0);
    expect(allowed.stdout).toMatch(/\[allowed\]/);
    writeFileSync(path.join(dir, 'safe.sql'), 'CREATE TABLE x (id int);\nDELETE FROM x WHERE id = 1;');
    expect((await runCli(['lint', 'safe.sql'], { cwd: dir })).stdout).toMatch(/No destructive statements in 1 file/);
    writeFileSync(path.join(dir, 'bad.sql'), 'DROP TABLEE users;');
    const unparseable = await runCli(['lint', 'bad.sql', '--json'], { cwd: dir });
    expect(unparseable.code).toBe(3);
    expect(parseJson<{ findings: Array<{ kind: string }> }>(unparseable).findings.map((f) => f.kind)).toEqual(['unparseable']);
  });

  it('measures a SQLite table rewrite by the values in the columns it leaves behind', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'dev.db');
    sqliteExec(db, "CREATE TABLE `User` (id integer PRIMARY KEY, email text, nickname text); INSERT INTO `User` VALUES (1, 'a', 'x'), (2, 'b', NULL), (3, 'c', 'z');");
    writeFileSync(
      path.join(dir, 'rewrite.sql'),
      `PRAGMA foreign_keys=OFF;
CREATE TABLE \`new_User\` (id integer PRIMARY KEY, email text NOT NULL);
INSERT INTO \`new_User\` ("id", "email") SELECT "id", "email" FROM \`User\`;
DROP TABLE \`User\`;
ALTER TABLE \`new_User\` RENAME TO \`User\`;
PRAGMA foreign_keys=ON;
`,
    );
    const result = await runCli(['lint', 'rewrite.sql', '--db', db], { cwd: dir });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/rewrite\.sql:4: TABLE REWRITE User: 2 non-null values in columns the copy drops \(drops nickname\)/);
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM User').n).toBe(3);
  });

  it('reads only the part of a node-pg-migrate SQL file that `up` runs, keeping line numbers (its own marker rule)', async () => {
    const { analyzeSql, upMigrationSql } = await import('../src/migrate/analyze.js');
    const file = '-- header\n-- Down Migration\nDROP TABLE a;\n--- up migration\nALTER TABLE b DROP COLUMN c;\n';
    expect(upMigrationSql(file)).toBe('\n\n\n--- up migration\nALTER TABLE b DROP COLUMN c;\n');
    expect((await analyzeSql(upMigrationSql(file))).map((f) => [f.kind, f.line])).toEqual([['drop-column', 5]]);
    expect(upMigrationSql('DROP TABLE a;\n-- Down Migration\nCREATE TABLE a (id int);')).toBe('DROP TABLE a;\n-- Down Migration\nCREATE TABLE a (id int);');
  });

  it('is available from the library as lint() and analyzeSql()', async () => {
    const { analyzeSql, lint } = await import('../dist/index.js');
    expect((await analyzeSql('ALTER TABLE "User" DROP COLUMN "name";')).map((f) => [f.kind, f.table?.name, f.column])).toEqual([['drop-column', 'User', 'name']]);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'm.sql'), 'TRUNCATE audit;');
    const { findings } = await lint({ cwd: dir, paths: ['m.sql'] });
    expect(findings.map((f) => [f.kind, f.needsConfirmation])).toEqual([['truncate', true]]);
  });
});
