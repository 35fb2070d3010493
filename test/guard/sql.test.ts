import { beforeAll, describe, expect, it } from 'vitest';
import { type SqlDialect, inspectSql, loadSqlParser } from '../../src/guard/sql.js';

/** `rule:verdict` of each finding, in order. */
const verdicts = (sql: string, dialect?: SqlDialect) => inspectSql(sql, dialect).map((f) => `${f.rule}:${f.verdict}`);

describe('guard SQL inspection', () => {
  beforeAll(() => loadSqlParser());

  it.each([
    ['DROP TABLE users', 'sql-drop-table:block'],
    ['DROP SCHEMA app', 'sql-drop-schema:block'],
    ['DROP MATERIALIZED VIEW totals', 'sql-drop-matview:block'],
    ['DROP FOREIGN TABLE remote_users', 'sql-drop-foreign-table:block'],
    ['DROP SEQUENCE ids', 'sql-drop-sequence:block'],
    ['DROP VIEW active_users', 'sql-drop-view:backup'],
    ['DROP VIEW active_users CASCADE', 'sql-drop-view:block'],
    ['DROP INDEX users_email', 'sql-drop-index:backup'],
    ['DROP FUNCTION f()', 'sql-drop-function:backup'],
    ['DROP DATABASE app', 'sql-drop-database:block'],
    ['DROP OWNED BY app_user', 'sql-drop-owned:block'],
    ['TRUNCATE orders', 'sql-truncate:block'],
    ['ALTER TABLE users DROP COLUMN email', 'sql-drop-column:block'],
    ['ALTER TABLE users ADD COLUMN age int', 'sql-schema-change:backup'],
    ['CREATE TABLE t (id int)', 'sql-schema-change:backup'],
    ['DELETE FROM users', 'sql-delete-without-where:block'],
    ['UPDATE users SET admin = true', 'sql-update-without-where:block'],
    ['DO $$ BEGIN EXECUTE format($q$DROP TABLE %I$q$, t); END $$', 'sql-dynamic:block'],
    ['DO $$ BEGIN DELETE FROM sessions; END $$', 'sql-do-block:block'],
    ['DO $$ BEGIN truncate sessions; END $$', 'sql-do-block:block'],
    ['DO $$ BEGIN RAISE NOTICE $m$dropped$m$; END $$', 'sql-schema-change:backup'],
    ['EXPLAIN ANALYZE DELETE FROM users', 'sql-delete-without-where:block'],
    ['EXPLAIN (ANALYZE) DELETE FROM users', 'sql-delete-without-where:block'],
    ['EXPLAIN (ANALYZE true) DELETE FROM users', 'sql-delete-without-where:block'],
    ['EXPLAIN (ANALYZE on, VERBOSE) DELETE FROM users', 'sql-delete-without-where:block'],
    ['WITH gone AS (DELETE FROM users RETURNING id) SELECT count(*) FROM gone', 'sql-delete-without-where:block'],
    ['\\gexec', 'psql-gexec:block'],
    ["SELECT format('DROP TABLE %I', tablename) FROM pg_tables \\gexec", 'psql-gexec:block'],
    ['.restore backup.db', 'sqlite-restore:block'],
    ['\uFEFFDROP TABLE users', 'sql-drop-table:block'],
    ['  .restore main backup.db', 'sqlite-restore:block'],
  ])('%s -> %s', (sql, expected) => {
    expect(verdicts(sql)).toEqual([expected]);
  });

  it.each([
    'SELECT * FROM users',
    'INSERT INTO users (id) VALUES (1)',
    'DELETE FROM users WHERE id = 3',
    'UPDATE users SET admin = true WHERE id = 3',
    'EXPLAIN DELETE FROM users',
    'EXPLAIN (ANALYZE false) DELETE FROM users',
    'EXPLAIN (ANALYZE off) DELETE FROM users',
    'EXPLAIN (ANALYZE 0) DELETE FROM users',
    'EXPLAIN (VERBOSE) DELETE FROM users',
    'BEGIN; COMMIT',
    'SET search_path = app',
    'VACUUM users',
    '\\set ON_ERROR_STOP on\n\\dt',
    '.tables\n.schema users',
    'source setup.sql;\ndelimiter //',
    '',
    '  \n  ',
    '\uFEFFSELECT 1',
    '-- DROP TABLE users\nSELECT 1',
    "SELECT 'DROP TABLE users'",
    'SELECT restore FROM jobs',
    'SELECT t.restore FROM t',
    // Statements that change neither the schema nor more rows than they name
    'EXPLAIN SELECT 1',
    'SHOW search_path',
    'COPY t TO STDOUT',
    'PREPARE p AS SELECT 1',
    'EXECUTE p',
    'DEALLOCATE p',
    'LISTEN c',
    'UNLISTEN c',
    'NOTIFY c',
    'LOCK TABLE t',
    'CHECKPOINT',
    'CALL p()',
    'DECLARE c CURSOR FOR SELECT 1',
    'FETCH c',
    'CLOSE c',
    'DISCARD ALL',
    'SET CONSTRAINTS ALL DEFERRED',
    'REFRESH MATERIALIZED VIEW v',
    'REINDEX TABLE t',
    'CLUSTER t',
  ])('%j -> nothing', (sql) => {
    expect(verdicts(sql)).toEqual([]);
  });

  it.each([
    ['WHERE 1 = 1', true],
    ['WHERE true', true],
    ['WHERE 1', true],
    ['WHERE 2', true],
    ['WHERE -1', true],
    ['WHERE 0', false],
    ['WHERE false', false],
    ["WHERE 'a' = 'a'", true],
    ["WHERE 'a' = 'b'", false],
    ["WHERE 'a' <> 'b'", true],
    ['WHERE 2 > 1', true],
    ['WHERE 1 > 2', false],
    ['WHERE 1.5 >= 1.5', true],
    ['WHERE 0 = 0', true],
    ['WHERE 0 = 1', false],
    ['WHERE 0.0 = 0', true],
    ["WHERE '' = ''", true],
    ['WHERE true = true', true],
    ['WHERE id = id', true],
    ['WHERE id >= id', true],
    ['WHERE id <= id', true],
    ['WHERE id < id', false],
    ['WHERE id = other', false],
    ['WHERE a.id = b.id', false],
    ['WHERE true OR id = 1', true],
    ['WHERE id = 1 OR 1 = 1', true],
    ['WHERE id = 1 OR false', false],
    ['WHERE true AND 1 = 1', true],
    ['WHERE true AND id = 1', false],
    ['WHERE id = 1 AND true', false],
    ['WHERE NOT false', false],
    ['WHERE id IS NOT NULL', false],
    ['WHERE 1 = 1 AND (true OR id = 2)', true],
  ])('DELETE %s -> deletes every row: %s', (where, everyRow) => {
    expect(verdicts(`DELETE FROM users ${where}`)).toEqual(everyRow ? ['sql-delete-without-where:block'] : []);
    expect(verdicts(`UPDATE users SET a = 1 ${where}`)).toEqual(everyRow ? ['sql-update-without-where:block'] : []);
  });

  it('reads psql variables and MySQL backticks as the server would see them', () => {
    expect(verdicts("DELETE FROM users WHERE id = :'id'")).toEqual([]);
    expect(verdicts('DELETE FROM users WHERE id = :"col"')).toEqual([]);
    expect(verdicts('DELETE FROM users WHERE id = :id')).toEqual([]);
    expect(verdicts('DELETE FROM :tbl')).toEqual(['sql-unparseable:block']);
    expect(verdicts("SELECT '1'::int; DELETE FROM users WHERE id = :id::int")).toEqual([]);
    expect(verdicts('DELETE FROM `orders`')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts('DELETE FROM `orders` WHERE id = 1')).toEqual([]);
  });

  it('reads SQLite and MySQL with their own grammar, and statements it rejects with PostgreSQL', () => {
    expect(verdicts('DELETE FROM t', 'sqlite')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts('DELETE FROM t', 'mysql')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts('DELETE FROM t WHERE id = 1', 'sqlite')).toEqual([]);
    expect(verdicts('BEGIN; DROP TABLE t; COMMIT', 'sqlite')).toEqual(['sql-drop-table:block']);
    expect(verdicts('DROP TABLE t', 'postgresql')).toEqual(['sql-drop-table:block']);
    expect(verdicts('.restore x.db\nSELECT 1', 'sqlite')).toEqual(['sqlite-restore:block']);
  });

  it('judges a statement no parser accepts by its keywords, and says so', () => {
    expect(verdicts('DROP TABLE IF EXISTS users %%% nonsense')).toEqual(['sql-unparseable:block']);
    expect(verdicts('TRUNCATE %%% x')).toEqual(['sql-unparseable:block']);
    expect(verdicts('DELETE LOW_PRIORITY QUICK IGNORE FROM users WHERE id = 1')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('UPDATE OR IGNORE users SET a = 1 WHERE id = 1', 'postgresql')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('UPDATE OR IGNORE users SET a = 1', 'postgresql')).toEqual(['sql-unparseable:block']);
    expect(verdicts('DELETE LOW_PRIORITY QUICK IGNORE FROM users WHERE id IN (DROP %%%)')).toEqual(['sql-unparseable:block']);
    expect(verdicts('CREATE %%% x')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('RENAME %%% x')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('REPLACE %%% x')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('GRANT UPDATE ON t TO u %%%')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('ALTER %%% x')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('CREATE TABLE t (a int ON UPDATE %%%)')).toEqual(['sql-unparseable:backup']);
    expect(verdicts('SELECT %%% x')).toEqual([]);
    expect(verdicts("SELECT 'DROP' %%% x")).toEqual([]);
    expect(verdicts('SELECT 1 %%% -- DROP')).toEqual([]);
  });

  it('cuts a script into statements and judges each: one parse error does not hide the rest', () => {
    expect(verdicts('SELECT 1 FROM x WHERE ;\nDELETE FROM users;\nSELECT 2;')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts('SELECT 1 FROM x WHERE ;\nDELETE FROM users WHERE id = 1;')).toEqual([]);
    expect(verdicts("SELECT 'été' FROM x WHERE ;\nDROP TABLE users;")).toEqual(['sql-drop-table:block']);
    expect(verdicts('SELECT 1 FROM x WHERE ;\n;\nCREATE TABLE t (id int);')).toEqual(['sql-schema-change:backup']);
  });

  it('gives one finding per rule, with the other statements counted', () => {
    const found = inspectSql('DROP TABLE a; DROP TABLE b; DROP TABLE c; TRUNCATE d');
    expect(found.map((f) => f.rule)).toEqual(['sql-drop-table', 'sql-truncate']);
    expect(found[0]?.message).toMatch(/\b2 more\b/);
    expect(found[1]?.message).not.toMatch(/more\)/);
  });

  it('orders client commands first, then statements in the order they come', () => {
    expect(verdicts('TRUNCATE a; DROP TABLE b;\n\\gexec')).toEqual(['psql-gexec:block', 'sql-truncate:block', 'sql-drop-table:block']);
  });
  it('keeps a block apart from a backup of the same rule: a CASCADE drop after a plain one is still blocked', () => {
    expect(verdicts('DROP VIEW a; DROP VIEW b CASCADE')).toEqual(['sql-drop-view:backup', 'sql-drop-view:block']);
    expect(verdicts('DROP VIEW a CASCADE; DROP VIEW b')).toEqual(['sql-drop-view:block', 'sql-drop-view:backup']);
    expect(verdicts('DELETE %%% WHERE x; TRUNCATE %%%')).toEqual(['sql-unparseable:backup', 'sql-unparseable:block']);
    expect(verdicts('DROP TYPE mood; DROP TYPE b CASCADE; DROP SCHEMA s RESTRICT')).toEqual(['sql-drop-type:backup', 'sql-drop-type:block', 'sql-drop-schema:block']);
  });

  it("tries the database's own grammar on each statement of a script PostgreSQL rejects", () => {
    // VACUUM sends the whole script to PostgreSQL's grammar, which rejects SQLite's INSERT OR REPLACE.
    const script = 'VACUUM; INSERT OR REPLACE INTO t VALUES (1); DELETE FROM t';
    expect(verdicts(script, 'sqlite')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(script)).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(script, 'postgresql')).toEqual(['sql-unparseable:backup', 'sql-delete-without-where:block']);
    const mysql = 'BEGIN; REPLACE INTO t VALUES (1); DELETE FROM t';
    expect(verdicts(mysql, 'mysql')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(mysql)).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(mysql, 'postgresql')).toEqual(['sql-unparseable:backup', 'sql-delete-without-where:block']);
    // VACUUM sends it to PostgreSQL's grammar, which rejects UPDATE ... LIMIT.
    const limited = 'VACUUM; UPDATE t SET a = 1 WHERE id = 1 LIMIT 1; DELETE FROM u';
    expect(verdicts(limited, 'mysql')).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(limited)).toEqual(['sql-delete-without-where:block']);
    expect(verdicts(limited, 'postgresql')).toEqual(['sql-unparseable:backup', 'sql-delete-without-where:block']);
  });

  it('names the statement each finding is about, cut at UTF-8 byte positions', () => {
    const [truncate, drop] = inspectSql("SELECT 'été';\nTRUNCATE a;\n  DROP   TABLE\n b");
    expect(truncate?.message).toContain('TRUNCATE a');
    expect(truncate?.message).not.toContain('DROP');
    expect(drop?.message).toContain('DROP TABLE b');
    expect(drop?.message).not.toContain('TRUNCATE');
    const [unparsed] = inspectSql("SELECT 'été' FROM x WHERE ;\nDROP TABLE été %%%;");
    expect(unparsed?.message).toContain('DROP TABLE été %%%');
    const [long] = inspectSql(`DROP TABLE ${'x'.repeat(100)}`);
    expect(long?.message).toContain(`DROP TABLE ${'x'.repeat(60)}`);
    expect(long?.message).not.toContain('x'.repeat(100));
  });
});
