import { describe, expect, it } from 'vitest';
import { analyzeSql, upMigrationSql } from '../../src/migrate/analyze.js';

/** kind, table (schema.name), column, line, allowed: what `migrate` and `lint` act on. */
const summary = (findings: Awaited<ReturnType<typeof analyzeSql>>) =>
  findings.map((f) => [f.kind, f.table ? [f.table.schema, f.table.name].filter(Boolean).join('.') : undefined, f.column, f.line, f.allowed]);

describe('migration SQL analysis (PostgreSQL grammar)', () => {
  it('finds every destructive statement, per table and per column, with its line', async () => {
    const findings = await analyzeSql(
      [
        'DROP TABLE users, billing.invoices;',
        'DROP SCHEMA old CASCADE;',
        'DROP DATABASE legacy;',
        'DROP INDEX idx_users_email;',
        'TRUNCATE carts, shop.orders;',
        'DELETE FROM sessions WHERE expires < now();',
        'DELETE FROM audit.events;',
        'UPDATE accounts SET plan = 1;',
        'UPDATE accounts SET plan = 2 WHERE id = 7;',
        'ALTER TABLE people DROP COLUMN nickname, ALTER COLUMN age TYPE bigint, ALTER COLUMN email SET NOT NULL, ADD COLUMN bio text, ALTER COLUMN name DROP NOT NULL;',
        'CREATE TABLE notes (id int);',
        'INSERT INTO notes VALUES (1);',
      ].join('\n'),
    );
    expect(summary(findings)).toEqual([
      ['drop-table', 'users', undefined, 1, false],
      ['drop-table', 'billing.invoices', undefined, 1, false],
      ['drop-schema', 'old', undefined, 2, false],
      ['drop-database', 'legacy', undefined, 3, false],
      ['truncate', 'carts', undefined, 5, false],
      ['truncate', 'shop.orders', undefined, 5, false],
      ['delete-without-where', 'audit.events', undefined, 7, false],
      ['update-without-where', 'accounts', undefined, 8, false],
      ['drop-column', 'people', 'nickname', 10, false],
      ['alter-column-type', 'people', 'age', 10, false],
      ['set-not-null', 'people', 'email', 10, false],
    ]);
    expect(findings[0]).toEqual({ kind: 'drop-table', statement: 'DROP TABLE users, billing.invoices', line: 1, table: { name: 'users' }, allowed: false });
    expect(findings[1]!.table).toEqual({ schema: 'billing', name: 'invoices' });
    expect(findings[6]!.table).toEqual({ schema: 'audit', name: 'events' });
  });

  it('accepts a finding only for the kinds named by `-- dbguard:allow`, in the statement itself', async () => {
    const findings = await analyzeSql(
      [
        'CREATE TABLE a (id int);',
        '-- dbguard:allow drop-column, set-not-null',
        'ALTER TABLE a DROP COLUMN x, ALTER COLUMN y SET NOT NULL, ALTER COLUMN z TYPE text;',
        '-- dbguard:allow drop-tables',
        'DROP TABLE b;',
        'DROP TABLE c; -- dbguard:allow drop-table',
        'TRUNCATE d;',
      ].join('\n'),
    );
    expect(summary(findings)).toEqual([
      ['drop-column', 'a', 'x', 3, true],
      ['set-not-null', 'a', 'y', 3, true],
      ['alter-column-type', 'a', 'z', 3, false],
      ['drop-table', 'b', undefined, 5, false],
      ['drop-table', 'c', undefined, 6, false],
      ['truncate', 'd', undefined, 7, false],
    ]);
  });

  it('shows each statement on one line without its comments, shortened past 120 characters', async () => {
    const columns = Array.from({ length: 30 }, (_, i) => `DROP COLUMN column_${i}`).join(', ');
    const findings = await analyzeSql(`-- remove the old table\nDROP   TABLE\n   "Legacy";\n\nALTER TABLE wide ${columns};`);
    expect(findings[0]!.statement).toBe('DROP TABLE "Legacy"');
    expect(findings[0]!.line).toBe(2);
    const long = findings[1]!.statement;
    expect(long).toHaveLength(120);
    expect(long).toBe(`ALTER TABLE wide ${columns}`.slice(0, 117) + '...');
    expect((await analyzeSql('  -- indented comment\nDROP TABLE\n"Legacy"'))[0]!.statement).toBe('DROP TABLE "Legacy"');
    expect(await analyzeSql('CREATE TABLE a (id int);\nDROP TABLE a')).toEqual([{ kind: 'drop-table', statement: 'DROP TABLE a', line: 2, table: { name: 'a' }, allowed: false }]);
    const exactly120 = `DELETE FROM t${'x'.repeat(120 - 'DELETE FROM t'.length)}`;
    expect((await analyzeSql(`${exactly120};`))[0]!.statement).toBe(exactly120);
  });

  it.each([
    ['TRUNCATE WHERE;', ['unparseable']],
    ['DELETE WHERE;', ['unparseable']],
    ['ALTER WHERE;', ['unparseable']],
    ['drop WHERE;', ['unparseable']],
    ['FOO DROPPED;', []],
    ['FOO ALTERED UPDATES;', []],
  ])('PostgreSQL: %j -> %j', async (sql, kinds) => {
    expect((await analyzeSql(sql)).map((f) => f.kind)).toEqual(kinds);
  });

  it('names each statement without the end of the one before, and a catalog-qualified table by its schema and name', async () => {
    expect((await analyzeSql('DROP TABLE a ;\n  DROP TABLE b;')).map((f) => f.statement)).toEqual(['DROP TABLE a', 'DROP TABLE b']);
    expect((await analyzeSql('DROP TABLE app.shop.orders;'))[0]!.table).toEqual({ schema: 'shop', name: 'orders' });
  });

  it('reports a statement that does not parse when it may destroy data, and still analyses the others', async () => {
    const findings = await analyzeSql('CREATE TABLE ok (id int);\nDROP TABLE WHERE;\nSELECT 1;\nCREATE FOO;\n-- only a comment;\nDELETE FROM x;\nupdate  ;');
    expect(summary(findings)).toEqual([
      ['unparseable', undefined, undefined, 2, false],
      ['delete-without-where', 'x', undefined, 6, false],
      ['unparseable', undefined, undefined, 7, false],
    ]);
    expect(findings[0]!.statement).toBe('DROP TABLE WHERE;');
    expect(await analyzeSql('CREATE FOO;\nSELECT 1;')).toEqual([]);
  });
});

describe('migration SQL analysis (SQLite, as Prisma and Drizzle write it)', () => {
  it("recognises Prisma's table rewrite and the columns it copies, not a drop", async () => {
    const findings = await analyzeSql(
      [
        'PRAGMA foreign_keys=OFF;',
        'CREATE TABLE "new_User" ("id" INTEGER NOT NULL PRIMARY KEY, "email" TEXT NOT NULL);',
        'INSERT INTO "new_User" ("id", "email") SELECT "id", "User"."email" FROM "User";',
        'DROP TABLE "User";',
        'ALTER TABLE "new_User" RENAME TO "User";',
        'PRAGMA foreign_keys=ON;',
      ].join('\n'),
      'sqlite',
    );
    expect(findings).toEqual([{ kind: 'table-rewrite', statement: 'DROP TABLE "User"', line: 4, table: { name: 'User' }, copiedColumns: ['id', 'email'], allowed: false }]);
  });

  it("recognises Drizzle's rewrite, with backticks and statement breakpoints", async () => {
    const findings = await analyzeSql(
      'CREATE TABLE `__new_t` (`id` integer, `n` text);--> statement-breakpoint\nINSERT INTO `__new_t`("id", "n") SELECT "id", 1 FROM `t`;--> statement-breakpoint\nDROP TABLE `t`;--> statement-breakpoint\nALTER TABLE `__new_t` RENAME TO `t`;',
      'sqlite',
    );
    expect(findings).toEqual([{ kind: 'table-rewrite', statement: 'DROP TABLE "t"', line: 3, table: { name: 't' }, copiedColumns: ['id'], allowed: false }]);
  });

  it('a rewrite that copies nothing copies no column; a drop renamed from elsewhere or renamed as another table stays a drop', async () => {
    const noCopy = await analyzeSql('CREATE TABLE "new_a" (id int);\nDROP TABLE "a";\nALTER TABLE "new_a" RENAME TO "a";', 'sqlite');
    expect(noCopy).toEqual([{ kind: 'table-rewrite', statement: 'DROP TABLE "a"', line: 2, table: { name: 'a' }, copiedColumns: [], allowed: false }]);
    const otherSource = await analyzeSql(
      'CREATE TABLE "new_a" (id int);\nINSERT INTO "new_a" SELECT id FROM "b";\nINSERT INTO "other" SELECT id FROM "a";\nDROP TABLE "a";\nALTER TABLE "new_a" RENAME TO "a";',
      'sqlite',
    );
    expect(otherSource[0]).toMatchObject({ kind: 'table-rewrite', copiedColumns: [] });
    const renamedElsewhere = await analyzeSql('DROP TABLE "a";\nALTER TABLE "new_a" RENAME TO "b";\nALTER INDEX "i" RENAME TO "a";', 'sqlite');
    expect(summary(renamedElsewhere)).toEqual([['drop-table', 'a', undefined, 1, false]]);
    const copiedAfterTheDrop = await analyzeSql('CREATE TABLE "new_a" (id int);\nDROP TABLE "a";\nINSERT INTO "new_a" SELECT id FROM "a";\nALTER TABLE "new_a" RENAME TO "a";', 'sqlite');
    expect(copiedAfterTheDrop[0]).toMatchObject({ kind: 'table-rewrite', copiedColumns: [] });
    const renamedBefore = await analyzeSql('ALTER TABLE "new_a" RENAME TO "a";\nDROP TABLE "a";', 'sqlite');
    expect(summary(renamedBefore)).toEqual([['drop-table', 'a', undefined, 2, false]]);
  });
});

describe("node-pg-migrate's up and down parts", () => {
  it('keeps the up part and blanks the rest, line numbers intact', async () => {
    const sql = '-- header\n-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;\n';
    expect(upMigrationSql(sql)).toBe('\n-- Up Migration\nCREATE TABLE a (id int);\n\n\n');
    expect(await analyzeSql(upMigrationSql(sql))).toEqual([]);
    const downFirst = '-- Down Migration\nDROP TABLE a;\n--   up   migration\nTRUNCATE b;\n';
    expect(upMigrationSql(downFirst)).toBe('\n\n--   up   migration\nTRUNCATE b;\n');
    expect(summary(await analyzeSql(upMigrationSql(downFirst)))).toEqual([['truncate', 'b', undefined, 4, false]]);
  });

  it('reads an up marker on the first line', () => {
    expect(upMigrationSql('-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;\n')).toBe('-- Up Migration\nCREATE TABLE a (id int);\n\n\n');
  });

  it('runs a file without an up marker whole', () => {
    const sql = 'DROP TABLE a;\n-- Down Migration\nCREATE TABLE a (id int);\n';
    expect(upMigrationSql(sql)).toBe(sql);
    expect(upMigrationSql('SELECT 1; -- Up Migration\n')).toBe('SELECT 1; -- Up Migration\n');
  });
});

describe('migration SQL analysis (MySQL grammar)', () => {
  it('finds drops, truncates, deletes and updates without WHERE, with database-qualified names', async () => {
    const findings = await analyzeSql(
      [
        'DROP TABLE `a`, shop.b;',
        'DROP DATABASE legacy;',
        'DROP SCHEMA older;',
        'DROP INDEX i ON a;',
        'TRUNCATE TABLE shop.carts;',
        'DELETE FROM sessions WHERE id = 1;',
        'DELETE FROM shop.sessions;',
        'UPDATE accounts SET plan = 1;',
        'UPDATE accounts SET plan = 1 WHERE id = 2;',
        'ALTER TABLE people DROP COLUMN nickname, CHANGE `name` `full_name` VARCHAR(10) NULL, MODIFY age BIGINT, ADD COLUMN bio TEXT;',
        'ALTER TABLE people ADD INDEX (age);',
        'ALTER TABLE people DROP INDEX idx_age;',
        'ALTER TABLE people MODIFY email VARCHAR(10) NOT NULL;',
        'DELETE a, b FROM a JOIN b ON a.id = b.id;',
        'UPDATE a JOIN b ON a.id = b.id SET a.x = b.x;',
      ].join('\n'),
      'mysql',
    );
    expect(summary(findings)).toEqual([
      ['drop-table', 'a', undefined, 1, false],
      ['drop-table', 'shop.b', undefined, 1, false],
      ['drop-database', 'legacy', undefined, 2, false],
      ['drop-database', 'older', undefined, 3, false],
      ['truncate', 'shop.carts', undefined, 5, false],
      ['delete-without-where', 'shop.sessions', undefined, 7, false],
      ['update-without-where', 'accounts', undefined, 8, false],
      ['drop-column', 'people', 'nickname', 10, false],
      ['alter-column-type', 'people', 'name', 10, false],
      ['alter-column-type', 'people', 'age', 10, false],
      ['alter-column-type', 'people', 'email', 13, false],
      ['set-not-null', 'people', 'email', 13, false],
      ['delete-without-where', 'a', undefined, 14, false],
      ['update-without-where', 'a', undefined, 15, false],
    ]);
    expect(findings[0]).toEqual({ kind: 'drop-table', statement: 'DROP TABLE `a`, shop.b', line: 1, table: { name: 'a' }, allowed: false });
    expect(findings.find((f) => f.kind === 'drop-table')).not.toHaveProperty('column');
  });

  it('reports an unparseable destructive statement, ignoring words in comments, and reads Drizzle breakpoints', async () => {
    const findings = await analyzeSql('DROP TABLE WHERE;\n-- DROP everything\nFOO BAR;\nCREATE TABLE `t` (id int);--> statement-breakpoint\nDROP TABLE `t`;', 'mysql');
    expect(summary(findings)).toEqual([
      ['unparseable', undefined, undefined, 1, false],
      ['drop-table', 't', undefined, 5, false],
    ]);
  });
  it.each([
    ['TRUNCATE WHERE;', ['unparseable']],
    ['DELETE WHERE;', ['unparseable']],
    ['ALTER WHERE;', ['unparseable']],
    ['update WHERE;', ['unparseable']],
    ['FOO DROPPED;', []],
    ['FOO BAR -- DELETE\n;', []],
    ['DROP VIEW v;', []],
    ['ALTER TABLE p RENAME COLUMN a TO b;', []],
    ['ALTER TABLE p MODIFY COLUMN c INT NULL;', ['alter-column-type']],
    ['ALTER TABLE p CHANGE a b INT NOT NULL;', ['alter-column-type', 'set-not-null']],
    ['ALTER TABLE p DROP c;', ['drop-column']],
    ['truncate a;', ['truncate']],
  ])('MySQL: %j -> %j', async (sql, kinds) => {
    expect((await analyzeSql(sql, 'mysql')).map((f) => f.kind)).toEqual(kinds);
  });
});
