import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCommand } from '../../src/guard/classify.js';

/*
 * What the classifier tells the user about a command line, beyond its verdict: which command each reason is
 * about (with passwords hidden), which file it read, what the commands before it on the line produce, and what it
 * checked.
 */

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(path.join(os.tmpdir(), 'dbguard-reasons-'));
  mkdirSync(path.join(cwd, 'sql', 'nested'), { recursive: true });
  // \ir includes relative to the including file: c0.sql -> c1.sql -> ... -> c8.sql, which drops a table.
  for (let i = 0; i < 9; i++) writeFileSync(path.join(cwd, 'sql', `c${i}.sql`), i === 8 ? 'DROP TABLE deep;\n' : `\\ir c${i + 1}.sql\n`);
  writeFileSync(path.join(cwd, 'sql', 'a.sql'), '\\ir b.sql\nSELECT 1;\n');
  writeFileSync(path.join(cwd, 'sql', 'b.sql'), '\\ir a.sql\nDELETE FROM sessions;\n');
  writeFileSync(path.join(cwd, 'sql', 'outer.sql'), '\\ir nested/inner.sql\n');
  writeFileSync(path.join(cwd, 'sql', 'nested', 'inner.sql'), 'TRUNCATE carts;\n');
});

afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const classify = (line: string) => classifyCommand(line, { cwd });

describe('dumps written earlier on the line', () => {
  it('a plain dump replayed by psql or mysql needs a backup; one made with --clean drops what it restores', async () => {
    expect(await classify('pg_dump -U app -d shop -f dump.sql && psql copy -f dump.sql')).toEqual({
      verdict: 'backup',
      reasons: [{ rule: 'sql-not-visible', command: 'psql copy -f dump.sql', message: 'runs dump.sql, which pg_dump writes earlier on the line' }],
      checked: ['pg_dump -U app -d shop -f dump.sql', 'psql copy -f dump.sql'],
    });
    for (const line of ['pg_dumpall --file=all.sql && psql -f all.sql', 'pg_dumpall -f all.sql && psql -f all.sql', 'pg_restore -f all.sql x.dump && psql -f all.sql', 'pg_restore --file all.sql x.dump && psql -f all.sql', 'mysqldump -r all.sql shop && mysql copy < all.sql', 'mysqldump --result-file=all.sql shop; mysql copy < all.sql', 'mysqldump -uclara -r all.sql shop && mysql copy < all.sql']) {
      expect((await classify(line)).reasons.map((r) => r.rule), line).toEqual(['sql-not-visible']);
    }
    for (const line of [
      'pg_dump --clean -f dump.sql shop; psql -f dump.sql',
      'pg_dump -c --file dump.sql shop; psql -f dump.sql',
      'mysqldump --add-drop-table -r dump.sql shop && mysql copy < dump.sql',
      'mysqldump --add-drop-database -r dump.sql shop && mysql copy < dump.sql',
      'pg_restore -c -f dump.sql app.dump && psql -f dump.sql',
    ]) {
      expect((await classify(line)).reasons.map((r) => [r.rule, r.message]), line).toEqual([
        ['sql-clean-dump', expect.stringMatching(/^runs dump\.sql, which (pg_dump|mysqldump|pg_restore) writes with --clean earlier on the line/)],
      ]);
    }
  });

  it.each([
    ['-Fc', 'custom format'],
    ['-U clara', 'user'],
    ['-Uclara', 'user, attached'],
    ['-h cloud', 'host'],
    ['-hcloud', 'host, attached'],
    ['-ncrm', 'schema'],
    ['-Ncache', 'excluded schema'],
    ['-tcarts', 'table'],
    ['-Tcarts', 'excluded table'],
    ['-dcrm', 'database'],
    ['-Eutf8', 'encoding'],
    ['-Esql_ascii', 'encoding whose name holds a c'],
    ['-Sclara', 'superuser'],
  ])('reads the value of pg_dump %s (%s) as a value, not as more flags', async (option) => {
    const result = await classify(`pg_dump ${option} -f dump.sql app && psql -f dump.sql copy`);
    expect(result.reasons.map((r) => r.rule)).toEqual(['sql-not-visible']);
  });

  it('output of another command piped into a SQL client', async () => {
    const rules = async (line: string) => (await classify(line)).reasons.map((r) => [r.rule, r.command]);
    expect(await rules('pg_dump app | psql copy')).toEqual([['sql-not-visible', 'psql copy']]);
    expect(await rules('/usr/bin/pg_dump app | psql copy')).toEqual([['sql-not-visible', 'psql copy']]);
    expect(await rules('pg_dump --clean app | psql copy')).toEqual([['sql-clean-dump', 'psql copy']]);
    expect(await rules('pg_dumpall   -c | psql')).toEqual([['sql-clean-dump', 'psql']]);
    expect(await rules('mysqldump --add-drop-table app | mysql copy')).toEqual([['sql-clean-dump', 'mysql copy']]);
    expect(await rules('mysqldump --add-drop-database app | mysql copy')).toEqual([['sql-clean-dump', 'mysql copy']]);
    expect(await rules('my_pg_dump --clean app | psql copy')).toEqual([['sql-not-visible', 'psql copy']]);
    expect(await rules('pg_dump --cleanup app | psql copy')).toEqual([['sql-not-visible', 'psql copy']]);
    expect(await rules('pg_dump x--clean app | psql copy')).toEqual([['sql-not-visible', 'psql copy']]);
    expect(await rules('mysqldumpx --add-drop-table app | mysql copy')).toEqual([['sql-not-visible', 'mysql copy']]);
    expect(await rules('my_mysqldump --add-drop-table app | mysql copy')).toEqual([['sql-not-visible', 'mysql copy']]);
    for (const [producer, client] of [['psql -Atc "select 1"', 'psql app'], ['mariadb -e "select 1"', 'mysql app'], ['mysql -e "select 1"', 'mariadb app'], ['sqlite3 a.db .dump', 'sqlite3 b.db']]) {
      const result = await classify(`${producer} | ${client}`);
      expect(result.verdict, producer).toBe('block');
      expect(result.reasons.map((r) => r.rule), producer).toEqual(['sql-generated']);
    }
  });
});

describe('SQL files', () => {
  it('follows nested includes to their end, stops at a cycle, and names the file that holds the statement', async () => {
    const deep = await classify('psql -f sql/c0.sql');
    expect(deep.verdict).toBe('block');
    expect(deep.reasons.map((r) => [r.rule, r.message])).toEqual([['sql-drop-table', expect.stringMatching(/ \(in sql\/c8\.sql\)$/)]]);
    const cycle = await classify('psql -f sql/a.sql');
    expect(cycle.reasons.map((r) => [r.rule, r.message])).toEqual([['sql-delete-without-where', expect.stringMatching(/ \(in sql\/b\.sql\)$/)]]);
    const nested = await classify('psql -f sql/outer.sql');
    expect(nested.reasons.map((r) => r.message)).toEqual([expect.stringMatching(/TRUNCATE.* \(in sql\/nested\/inner\.sql\)$/)]);
  });

  it('names an unreadable file relative to the folder, or by its absolute path outside it', async () => {
    const inside = await classify('psql -f sql/missing.sql');
    expect(inside.reasons).toEqual([{ rule: 'sql-file-unreadable', command: 'psql -f sql/missing.sql', message: expect.stringContaining(' sql/missing.sql ') }]);
    const outside = await classify('psql -f ../elsewhere/missing.sql');
    expect(outside.reasons[0]!.message).toContain(` ${path.resolve(cwd, '../elsewhere/missing.sql')} `);
  });
});

describe('dbguard run, environment variables and repeated commands', () => {
  it('inside dbguard run only what is destructive remains, and needs a human', async () => {
    expect(await classify('dbguard run -- prisma migrate deploy')).toMatchObject({ verdict: 'allow', reasons: [] });
    const plain = await classify('psql -c "DROP TABLE users"');
    const run = await classify('dbguard run -- psql -c "DROP TABLE users"');
    const approved = await classify('dbguard run --approve -- psql -c "DROP TABLE users"');
    expect([run.verdict, approved.verdict]).toEqual(['block', 'block']);
    expect(run.reasons[0]!.message.startsWith(plain.reasons[0]!.message)).toBe(true);
    expect(run.reasons[0]!.message).not.toBe(plain.reasons[0]!.message);
    expect(approved.reasons[0]!.message.startsWith(run.reasons[0]!.message)).toBe(true);
    expect(approved.reasons[0]!.message).not.toBe(run.reasons[0]!.message);
  });

  it('says that consent-like variables are not consent, naming them, and ignores the others', async () => {
    const plain = await classify('FOO=1 dropdb app');
    expect(plain.reasons[0]!.message).toBe((await classify('dropdb app')).reasons[0]!.message);
    const consent = await classify('DBGUARD_ALLOW=1 FOO=1 I_APPROVE=yes dropdb app');
    expect(consent.reasons[0]!.message).toMatch(/DBGUARD_ALLOW, I_APPROVE[^,]*$/);
    expect(consent.reasons[0]!.message).not.toContain('FOO');
  });

  it('a repeated command is one reason, and each command checked is listed once', async () => {
    expect(await classify('dropdb app; dropdb app')).toEqual({
      verdict: 'block',
      reasons: [{ rule: 'dropdb', command: 'dropdb app', message: expect.any(String) }],
      checked: ['dropdb app'],
    });
    expect((await classify('ls -la; cat notes.txt; ls -la')).checked).toEqual(['ls -la', 'cat notes.txt']);
  });
});

describe('passwords in the reasons', () => {
  it.each([
    ['psql postgresql://u:s3cret@h/db -c "DROP TABLE x"', 'psql postgresql://u:***@h/db -c "DROP TABLE x"'],
    ['psql mysql://u:s3cret@h/db -c "DROP TABLE x"', 'psql mysql://u:***@h/db -c "DROP TABLE x"'],
    ['mysql --password=s3cret -e "DROP DATABASE x"', 'mysql --password=*** -e "DROP DATABASE x"'],
    ['mysql --password s3cret -e "DROP DATABASE x"', 'mysql --password *** -e "DROP DATABASE x"'],
    ['mysql -ps3cret -e "DROP DATABASE x"', 'mysql -p*** -e "DROP DATABASE x"'],
    ['mysql -e "DROP DATABASE x" -ps3cret', 'mysql -e "DROP DATABASE x" -p***'],
  ])('%s is shown as %s', async (line, shown) => {
    const result = await classify(line);
    expect(result.reasons.map((r) => r.command)).toEqual([shown]);
    expect(result.checked).toEqual([shown]);
  });

  it('keeps port numbers, which are not passwords', async () => {
    for (const line of ['psql -p 5432 -c "DROP TABLE x"', 'psql -p5432 -c "DROP TABLE x"', 'psql -c "DROP TABLE x" -p5432']) {
      expect((await classify(line)).reasons[0]!.command).toBe(line);
    }
  });
});

describe('a line the shell parser cannot read', () => {
  it('is shown on one line, shortened, and blocked only when it mentions a database tool or a destructive word', async () => {
    const long = `psql  -c  "DROP TABLE x\n${'y'.repeat(150)}`;
    const result = await classify(long);
    const unparsed = result.reasons.find((r) => r.rule === 'shell-unparseable')!;
    expect(unparsed.command).toBe(`${long.replace(/\s+/g, ' ').slice(0, 117)}...`);
    expect(unparsed.message).toContain('`psql`');
    const short = await classify('echo "drop it');
    expect(short.reasons).toEqual([{ rule: 'shell-unparseable', command: 'echo "drop it', message: expect.stringContaining('`drop`') }]);
    for (const word of ['truncate', 'DELETE', 'prisma', 'dropdb']) expect((await classify(`echo "${word} it`)).verdict, word).toBe('block');
    expect(await classify('echo "hello')).toMatchObject({ verdict: 'allow', reasons: [] });
    expect(await classify('echo "dropdown')).toMatchObject({ verdict: 'allow', reasons: [] });
  });
});
