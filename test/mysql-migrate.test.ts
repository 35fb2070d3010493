import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeSql } from '../src/migrate/analyze.js';
import { parseJson, runCli } from './harness/cli.js';
import { writeDrizzleMigrations } from './harness/drizzle.js';
import { createMysqlDatabase, fullDump, withMysql } from './harness/mysql-db.js';
import { tempDir } from './harness/tmp.js';

const STANDIN = fileURLToPath(new URL('./harness/prisma-standin.mjs', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

function prismaProject(migrations: Array<[string, string]>, dir = tempDir()): string {
  mkdirSync(path.join(dir, 'prisma', 'migrations'), { recursive: true });
  writeFileSync(path.join(dir, 'prisma', 'schema.prisma'), 'datasource db {\n  provider = "mysql"\n  url = env("DATABASE_URL")\n}\n');
  for (const [name, sql] of migrations) {
    mkdirSync(path.join(dir, 'prisma', 'migrations', name), { recursive: true });
    writeFileSync(path.join(dir, 'prisma', 'migrations', name, 'migration.sql'), sql);
  }
  return dir;
}

const standin = (cwd: string, url: string) => ['--', process.execPath, STANDIN, cwd, url];

const INIT = `-- CreateTable
CREATE TABLE \`User\` (
    \`id\` INTEGER NOT NULL AUTO_INCREMENT,
    \`name\` VARCHAR(191) NULL,
    PRIMARY KEY (\`id\`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE \`Post\` (
    \`id\` INTEGER NOT NULL AUTO_INCREMENT,
    \`title\` VARCHAR(191) NOT NULL,
    PRIMARY KEY (\`id\`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
`;

describe('dbguard migrate and lint on MySQL/MariaDB', () => {
  it('reads MySQL migrations with a MySQL grammar: drops, MODIFY ... NOT NULL, DELETE without WHERE; strings with ; and comments', async () => {
    const findings = await analyzeSql(
      `ALTER TABLE \`User\` DROP COLUMN \`name\`, ADD COLUMN \`bio\` TEXT NULL;
       -- a comment; with a semicolon
       INSERT INTO notes VALUES ('a;b', 'it\\'s');
       ALTER TABLE \`User\` MODIFY \`email\` VARCHAR(191) NOT NULL;
       DELETE FROM \`Session\`;
       -- dbguard:allow drop-table
       DROP TABLE \`Post\`;
       TRUNCATE shop.carts;`,
      'mysql',
    );
    expect(findings.map((f) => [f.kind, f.table?.name, f.column, f.line, f.allowed])).toEqual([
      ['drop-column', 'User', 'name', 1, false],
      ['alter-column-type', 'User', 'email', 4, false],
      ['set-not-null', 'User', 'email', 4, false],
      ['delete-without-where', 'Session', undefined, 5, false],
      ['drop-table', 'Post', undefined, 7, true],
      ['truncate', 'carts', undefined, 8, false],
    ]);
  });

  it('finds pending Prisma migrations, measures destructive ones on the live data, and refuses them without confirmation', async () => {
    const db = await createMysqlDatabase('prm');
    const env = { DATABASE_URL: db.url };
    const dir = prismaProject([['20260101000000_init', INIT]]);
    const first = await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    await withMysql(db.name, (c) =>
      c.query(`INSERT INTO \`User\` (name) SELECT IF(seq % 5 = 0, NULL, CONCAT('n', seq)) FROM seq_1_to_15;
               INSERT INTO \`Post\` (title) SELECT CONCAT('t', seq) FROM seq_1_to_7`),
    );
    prismaProject([['20260102000000_cleanup', 'ALTER TABLE `User` DROP COLUMN `name`;\n\n-- DropTable\nDROP TABLE `Post`;\n\nALTER TABLE `User` ADD COLUMN `bio` TEXT NULL;\n']], dir);

    const linted = await runCli(['lint', '--json'], { cwd: dir, env });
    expect(linted.code).toBe(3);
    const before = await fullDump(db.name);
    const refused = await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('Pending migrations: 20260102000000_cleanup');
    expect(refused.stderr).toContain('DROP COLUMN User.name: 12 non-null values');
    expect(refused.stderr).toContain('DROP TABLE Post: 7 rows');
    expect(await fullDump(db.name)).toBe(before);

    const accepted = await runCli(['migrate', '--yes', '--json', ...standin(dir, db.url)], { cwd: dir, env });
    expect(accepted.code, accepted.stderr).toBe(0);
    const result = parseJson<{ applied: string[]; backupId: string }>(accepted);
    expect(result.applied).toEqual(['20260102000000_cleanup']);
    // The undo command brings the dropped table back.
    const undone = await runCli(['restore', result.backupId, '--yes'], { cwd: dir, env });
    expect(undone.code, undone.stderr).toBe(0);
    expect(await withMysql(db.name, async (c) => (await c.query('SELECT count(*) AS n FROM `Post`'))[0])).toEqual([{ n: 7 }]);
  });

  it('rolls back a migration that fails half-way, so the database is exactly as before (its new table dropped too)', async () => {
    const db = await createMysqlDatabase('rbk');
    const env = { DATABASE_URL: db.url };
    const dir = prismaProject([['20260101000000_init', INIT]]);
    expect((await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env })).code).toBe(0);
    await withMysql(db.name, (c) => c.query("INSERT INTO `User` (name) VALUES ('ann'), ('bob')"));
    const before = await fullDump(db.name);

    prismaProject([['20260102000000_broken', "CREATE TABLE `Audit` (id int);\nINSERT INTO `User` (name) VALUES ('half-way');\nALTER TABLE `Nope` ADD COLUMN x int;"]], dir);
    const result = await runCli(['migrate', ...standin(dir, db.url)], { cwd: dir, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/restored from backup \S+, as it was before/);
    // _prisma_migrations holds the failed attempt's row until the rollback: the dump compares everything.
    expect(await fullDump(db.name)).toBe(before);
  });

  it('drizzle-kit and knex on MySQL: pending migrations from __drizzle_migrations and knex_migrations, a failed knex migration rolled back', async () => {
    const drizzleDb = await createMysqlDatabase('drz');
    const dir = tempDir();
    symlinkSync(NODE_MODULES, path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'drizzle.config.ts'), `export default { dialect: 'mysql', out: './drizzle', dbCredentials: { url: ${JSON.stringify(drizzleDb.url)} } };\n`);
    const init = 'CREATE TABLE `users` (`id` int PRIMARY KEY, `email` varchar(100) NOT NULL);\n--> statement-breakpoint\nINSERT INTO `users` VALUES (1, \'a@x\'), (2, \'b@x\');';
    writeDrizzleMigrations(dir, [['0000_init', init]]);
    const first = await runCli(['migrate', '--json'], { cwd: dir, env: { DATABASE_URL: drizzleDb.url } });
    expect(first.code, first.stderr).toBe(0);
    expect(parseJson<{ applied: string[] }>(first).applied).toEqual(['0000_init']);
    writeDrizzleMigrations(dir, [['0000_init', init], ['0001_drop', 'ALTER TABLE `users` DROP COLUMN `email`;']]);
    const refused = await runCli(['migrate'], { cwd: dir, env: { DATABASE_URL: drizzleDb.url } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('Pending migrations: 0001_drop');
    expect(refused.stderr).toContain('DROP COLUMN users.email: 2 non-null values');

    const knexDb = await createMysqlDatabase('knx');
    const knexDir = tempDir();
    symlinkSync(NODE_MODULES, path.join(knexDir, 'node_modules'));
    writeFileSync(path.join(knexDir, 'knexfile.cjs'), `module.exports = { client: 'mysql2', connection: ${JSON.stringify(knexDb.url)} };\n`);
    mkdirSync(path.join(knexDir, 'migrations'));
    writeFileSync(
      path.join(knexDir, 'migrations', '20260101_users.cjs'),
      "exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); t.string('email'); }).then(() => knex('users').insert([{ email: 'a' }, { email: 'b' }]));\nexports.down = (knex) => knex.schema.dropTable('users');\n",
    );
    const env = { DATABASE_URL: knexDb.url };
    const applied = await runCli(['migrate', '--', 'npx', 'knex', '--knexfile', 'knexfile.cjs', 'migrate:latest'], { cwd: knexDir, env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Migrated: 20260101_users\.cjs/);
    // MySQL commits DDL on its own: the table is created, then the migration throws.
    writeFileSync(
      path.join(knexDir, 'migrations', '20260102_broken.cjs'),
      "exports.up = async (knex) => { await knex.schema.createTable('audit', (t) => t.increments('id')); await knex('users').insert({ email: 'half-way' }); throw new Error('boom'); };\nexports.down = async () => {};\n",
    );
    const before = await fullDump(knexDb.name);
    const broken = await runCli(['migrate', '--', 'npx', 'knex', '--knexfile', 'knexfile.cjs', 'migrate:latest'], { cwd: knexDir, env });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/Pending migrations: 20260102_broken\.cjs/);
    expect(broken.stderr).toMatch(/restored from backup/);
    expect(await fullDump(knexDb.name)).toBe(before);
  });
});
