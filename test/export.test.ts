import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportSubject, parseDatabaseUrl } from '../dist/index.js';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { engineFor } from '../src/engines/index.js';
import type { SchemaTable } from '../src/engines/types.js';
import { type Rows, ownedReferences, ownedRows, randomData } from './harness/export-oracle.js';
import { exportSchemaSql, expectedExport, rowKey } from './harness/export-schema.js';
import { createDatabase, withClient } from './harness/pg-db.js';
import { eventually } from './harness/serve.js';
import { tempDir } from './harness/tmp.js';

interface ExportDocument {
  format: string;
  subject: { table: string; key: Record<string, unknown> };
  exportedAt: string;
  database: { name: string; engine: string };
  redacted: string[];
  excluded: string[];
  tables: Record<string, Array<Record<string, unknown>>>;
  references: Array<{ table: string; key: Record<string, unknown> }>;
  rowCounts: Record<string, number>;
}

function keysOf(document: ExportDocument): Record<string, string[]> {
  const keys: Record<string, string[]> = {};
  for (const [table, rows] of Object.entries(document.tables)) {
    if (rows.length > 0) keys[table] = rows.map((row) => rowKey(table, row)).sort();
  }
  return keys;
}

function referencesOf(document: ExportDocument): string[] {
  return document.references.map((r) => `${r.table} ${Object.entries(r.key).map(([k, v]) => `${k}=${v}`).join(',')}`).sort();
}

async function pgDatabase(): Promise<string> {
  const { name, url } = await createDatabase('export');
  await withClient(name, (c) => c.query(exportSchemaSql('postgres')));
  return url;
}

function sqliteDatabase(dir: string): string {
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec(exportSchemaSql('sqlite'));
  db.close();
  return file;
}

describe.each(['postgres', 'sqlite'] as const)('export (%s)', (engine) => {
  const setup = async () => {
    const cwd = tempDir();
    const url = engine === 'postgres' ? await pgDatabase() : sqliteDatabase(cwd);
    return { cwd, url, target: parseDatabaseUrl(url, cwd) };
  };

  it('exports exactly the subject\'s rows and references, secrets redacted, values typed', async () => {
    const { cwd, target } = await setup();
    const out = path.join(cwd, 'u1.json');
    const result = await exportSubject({ target, subject: '"User"=u1', dir: path.join(cwd, 'backups'), out });
    const document = JSON.parse(readFileSync(out, 'utf8')) as ExportDocument;
    const expected = expectedExport(engine);

    expect(keysOf(document)).toEqual(Object.fromEntries(Object.entries(expected.rows).map(([t, k]) => [t, [...k].sort()])));
    expect(referencesOf(document)).toEqual(expected.references);
    const user = engine === 'postgres' ? 'public.User' : 'User';
    expect(document.subject).toEqual({ table: user, key: { id: 'u1' } });
    expect(document.tables[user]).toEqual([
      {
        id: 'u1',
        email: 'u1@example.com',
        passwordHash: '[redacted]',
        invitedById: 'u3',
        avatar: 'AP8Q',
        createdAt: engine === 'postgres' ? '2024-05-06T05:08:09Z' : '2024-05-06',
      },
    ]);
    expect(document.tables[engine === 'postgres' ? 'public.orders' : 'orders']![0]!.total).toBe('9007199254740993');
    expect(document.redacted).toEqual(engine === 'postgres' ? ['public.User.passwordHash', 'billing.invoices.api_token'] : ['User.passwordHash']);
    expect(JSON.stringify(document)).not.toMatch(/secret-hash-1|tok-1/);
    expect(document.database).toEqual({ name: engine === 'postgres' ? target.engine === 'postgres' && target.connection.database : 'app.db', engine });
    expect(document.rowCounts).toEqual(Object.fromEntries(Object.entries(document.tables).map(([t, rows]) => [t, rows.length])));

    expect(result.manifest).toMatchObject({ type: 'export', format: 'export-json', compression: 'zstd', subject: { table: user, references: 8 } });
    expect(result.manifest.tables).toEqual(document.rowCounts);
    expect(result.file).toContain(`${path.sep}export${path.sep}`);
    expect(JSON.stringify(result.manifest)).not.toContain('u1');
    expect(readdirSync(path.dirname(result.file)).sort()).toEqual([path.basename(result.manifestPath), path.basename(result.file)].sort());
  });

  it('refuses a key that is not a value of the key column (exit 2), writing nothing', async () => {
    const { cwd, target } = await setup();
    const attempt = exportSubject({ target, subject: 'orders=not-a-number', dir: path.join(cwd, 'backups') });
    await expect(attempt).rejects.toThrow(engine === 'postgres' ? /not a valid value of public.orders's primary key/ : /No row of orders has that key/);
    await expect(attempt).rejects.toMatchObject({ exitCode: 2 });
    expect(readdirSync(path.join(cwd, 'backups', 'export'))).toEqual([]);
  });

  it('writes one line per row as ndjson', async () => {
    const { cwd, target } = await setup();
    const out = path.join(cwd, 'u1.ndjson');
    await exportSubject({ target, subject: '"User"=u1', dir: path.join(cwd, 'backups'), out, format: 'ndjson' });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'header', format: 'dbguard-export', subject: { key: { id: 'u1' } } });
    expect(lines.at(-1)).toMatchObject({ type: 'summary', references: 8 });
    const rows = lines.filter((l) => l.type === 'row') as Array<{ table: string; row: Record<string, unknown> }>;
    const keys: Record<string, string[]> = {};
    for (const { table, row } of rows) (keys[table] ??= []).push(rowKey(table, row));
    for (const list of Object.values(keys)) list.sort();
    expect(keys).toEqual(Object.fromEntries(Object.entries(expectedExport(engine).rows).map(([t, k]) => [t, [...k].sort()])));
  });

  it('another subject gets only their own rows', async () => {
    const { cwd, target } = await setup();
    const out = path.join(cwd, 'u3.json');
    await exportSubject({ target, subject: 'user=u3', dir: path.join(cwd, 'backups'), out });
    const document = JSON.parse(readFileSync(out, 'utf8')) as ExportDocument;
    const t = (name: string) => (engine === 'postgres' ? `public.${name}` : name);
    // The message u2 sent u3 is u3's as much as u2's; u3 owns nothing else, and none of the users u3 invited.
    expect(keysOf(document)).toEqual({ [t('User')]: ['u3'], [t('messages')]: ['3'] });
    expect(referencesOf(document)).toEqual([`${t('User')} id=u2`]);
  });

  it('applies the configured redaction and exclusions', async () => {
    const { cwd, target } = await setup();
    const out = path.join(cwd, 'u1.json');
    const t = (name: string) => (engine === 'postgres' ? `public.${name}` : name);
    await exportSubject({
      target,
      subject: '"User"=u1',
      dir: path.join(cwd, 'backups'),
      out,
      rules: { redact: ['email'], include: ['passwordHash'], exclude: ['messages', 'posts.title'] },
    });
    const document = JSON.parse(readFileSync(out, 'utf8')) as ExportDocument;
    expect(document.tables[t('User')]![0]).toMatchObject({ email: '[redacted]', passwordHash: 'secret-hash-1' });
    expect(document.tables[t('messages')]).toBeUndefined();
    expect(document.tables[t('posts')]).toEqual([{ id: 10, author_id: 'u1' }]);
    expect(document.excluded).toEqual(['messages', 'posts.title']);
    // What only the left-out messages pointed to (u2) is not listed either.
    expect(referencesOf(document)).toEqual(expectedExport(engine).references.filter((r) => r !== `${t('User')} id=u2`));
  });
});

describe('dbguard export (CLI)', () => {
  it('refuses an unknown table, an unknown key and a table without a primary key, writing nothing', async () => {
    const cwd = tempDir();
    const db = sqliteDatabase(cwd);
    const cases: Array<[string, RegExp]> = [
      ['nosuch=1', /No table nosuch/],
      ['"user"=u1', /No table user/],
      ['"User"=nobody', /No row of User has that key/],
      ['post_tags=1', /no primary key/],
      ['order_items=500', /composite primary key \(order_id, line\)/],
      ['=1', /No table name/],
      ['"User"', /has no key/],
    ];
    for (const [subject, message] of cases) {
      const result = await runCli(['export', '--subject', subject, '--db', db, '--out', 'out.json'], { cwd });
      expect(result.code, `${subject}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const files = readdirSync(cwd, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    expect(files).toEqual(['app.db']);
  });

  it('stores an export backup, prints its manifest with --json, and finds a composite key', async () => {
    const cwd = tempDir();
    const db = sqliteDatabase(cwd);
    const result = await runCli(['export', '--subject', 'order_items=order_id:500,line:2', '--db', db, '--json', '--out', 'item.json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const manifest = parseJson<{ type: string; tables: Record<string, number>; file: string; out: string }>(result);
    expect(manifest).toMatchObject({ type: 'export', tables: { order_items: 1 }, out: path.join(cwd, 'item.json') });
    const document = JSON.parse(readFileSync(path.join(cwd, 'item.json'), 'utf8')) as ExportDocument;
    expect(document.tables.order_items).toEqual([{ order_id: 500, line: 2, product_id: 2, qty: 1 }]);
    expect(referencesOf(document)).toEqual(['orders id=500', 'products id=2']);
    // The stored export is listed like any backup, and the foreign keys it had to scan for are named.
    expect(result.stderr).toBe('');

    const users = await runCli(['export', '--subject', 'user=u1', '--db', db, '--json'], { cwd });
    expect(users.code, users.stderr).toBe(0);
    expect(users.stderr).toContain('warning: audit_log(user_id) references User without an index: the export scans audit_log.');
    expect(users.stderr).not.toMatch(/posts\(author_id\)|comments\(post_id\)|profiles/);

    const help = await runCli(['export', '--help'], { cwd });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Which rows belong to the subject/);
    expect(help.stdout).toMatch(/--format <format>/);

    const listed = await runCli(['list', '--json'], { cwd });
    expect(listed.stdout).toContain(manifest.file.split(path.sep).at(-1)!.split('.')[0]);
  });
  it('Ctrl-C while the rows are written stops the export: exit 130, no export kept, no copy, no partial file', async () => {
    const cwd = tempDir();
    const file = path.join(cwd, 'big.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);
      CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);
      CREATE INDEX posts_user ON posts(user_id);
      INSERT INTO users VALUES (1, 'a@example.com');
      WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000000)
        INSERT INTO posts SELECT i, 1, 'a post about something, long enough to take a while ' || i FROM s;`);
    db.close();
    const child = spawn(process.execPath, [CLI, 'export', '--subject', 'users=1', '--db', file, '--out', 'out.json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const exportDir = path.join(cwd, 'backups', 'export');
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`the export ended before it could be interrupted: ${stderr}`);
      const writing = existsSync(exportDir) ? readdirSync(exportDir).find((name) => name.endsWith('.scratch')) : undefined;
      return writing && statSync(path.join(exportDir, writing)).size > 0 ? true : undefined;
    }, 'the export writing its rows');
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/Interrupted by SIGINT/);
    const files = readdirSync(cwd, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    expect(files).toEqual(['big.db']);
  });
});

describe('an export among backups', () => {
  it('verifies (row counts read back from the file), is never restored, never `latest`, and a corrupted one fails', async () => {
    const cwd = tempDir();
    const db = sqliteDatabase(cwd);
    const backedUp = await runCli(['backup', '--db', db, '--json'], { cwd });
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const backupId = parseJson<{ id: string }>(backedUp).id;
    for (const format of ['json', 'ndjson']) {
      const exported = await runCli(['export', '--subject', '"User"=u1', '--db', db, '--json', '--format', format, '--label', format], { cwd });
      expect(exported.code, exported.stderr).toBe(0);
      const { id, file } = parseJson<{ id: string; file: string }>(exported);
      const verified = await runCli(['verify', id, '--json'], { cwd });
      expect(verified.code, verified.stdout).toBe(0);
      expect(parseJson<{ verification: { rowCounts: string } }>(verified).verification.rowCounts).toBe('match');

      const restored = await runCli(['restore', id, '--db', db, '--yes'], { cwd });
      expect(restored.code).toBe(2);
      expect(restored.stderr).toMatch(/personal-data export, not a backup/);

      // One row less (the checksum made to match): the counts read back no longer match the manifest. (a truncated table) no longer match the manifest's counts.
      const plain = path.join(cwd, `plain.${format}`);
      await runCli(['export', '--subject', '"User"=u1', '--db', db, '--format', format, '--compress', 'none', '--out', plain, '--json'], { cwd }).then((r) => {
        const manifest = parseJson<{ file: string; id: string }>(r);
        const lines = readFileSync(manifest.file, 'utf8').split('\n');
        const row = lines.findIndex((l) => (format === 'json' ? l.startsWith('    {"id":100') : l.includes('"id":100')));
        lines.splice(row, 1);
        writeFileSync(manifest.file, lines.join('\n'));
        const manifestFile = path.join(path.dirname(manifest.file), `${manifest.id}.json`);
        const bytes = readFileSync(manifest.file);
        const stored = JSON.parse(readFileSync(manifestFile, 'utf8'));
        writeFileSync(manifestFile, JSON.stringify({ ...stored, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }));
        return runCli(['verify', manifest.id, '--json'], { cwd });
      }).then((r) => {
        expect(r.code).toBe(1);
        expect(r.stdout).toMatch(/row count/);
      });
      expect(file).toBeTruthy();
    }
    const latest = await runCli(['restore', 'latest', '--db', db, '--yes', '--json'], { cwd });
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toContain(backupId);
  });
});

describe.each(['postgres', 'sqlite'] as const)('export on random data, every user (%s)', (engine) => {
  it.each([1, 2, 3])('matches an independent in-memory evaluation of the rules (seed %i)', async (seed) => {
    const cwd = tempDir();
    let url: string;
    let rowsOf: (table: SchemaTable) => Promise<Array<Record<string, unknown>>>;
    const sql = exportSchemaSql(engine, false) + randomData(seed);
    if (engine === 'postgres') {
      const { name, url: pgUrl } = await createDatabase('export');
      await withClient(name, (c) => c.query(sql));
      url = pgUrl;
      rowsOf = (t) => withClient(name, async (c) => (await c.query(`SELECT * FROM "${t.schema}"."${t.name}"`)).rows);
    } else {
      url = path.join(cwd, 'app.db');
      const db = new Database(url);
      db.exec(sql);
      db.close();
      rowsOf = async (t) => {
        const read = new Database(url, { readonly: true });
        try {
          return read.prepare(`SELECT * FROM "${t.name}"`).all() as Array<Record<string, unknown>>;
        } finally {
          read.close();
        }
      };
    }
    const target = parseDatabaseUrl(url, cwd);
    const schema = await engineFor(target).describeSchema();
    const rows: Rows = {};
    for (const table of schema.tables) rows[table.id] = await rowsOf(table);
    const userTable = engine === 'postgres' ? 'public.User' : 'User';
    let total = 0;
    for (const user of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) {
      const owned = ownedRows(schema, rows, userTable, (row) => row.id === user);
      const expected: Record<string, string[]> = {};
      for (const [table, indexes] of owned) {
        if (indexes.size > 0) expected[table] = [...indexes].map((i) => rowKey(table, rows[table]![i]!)).sort();
      }
      const out = path.join(cwd, `${user}.json`);
      await exportSubject({ target, subject: `"User"=${user}`, dir: path.join(cwd, 'backups'), out, compression: { algorithm: 'none' } });
      const document = JSON.parse(readFileSync(out, 'utf8')) as ExportDocument;
      expect(keysOf(document), user).toEqual(expected);
      expect(referencesOf(document), user).toEqual(ownedReferences(schema, rows, owned));
      total += Object.values(expected).flat().length;
    }
    expect(total).toBeGreaterThan(50); // the data gives the rules something to decide
  });
});
