import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { createSqliteDb, sqliteContent, sqliteExec, sqliteQuery } from './harness/sqlite-db.js';
import { requireStrace, tracedCli } from './harness/strace.js';
import { tempDir } from './harness/tmp.js';

const WRITER = fileURLToPath(new URL('./harness/sqlite-writer.mjs', import.meta.url));

interface ManifestJson {
  id: string;
  file: string;
  tables: Record<string, number>;
  format: string;
  compression: string;
}

describe('SQLite', () => {
  it.each(['wal', 'delete'] as const)('backs up and restores with identical content (%s journal)', async (journalMode) => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { journalMode });
    const before = sqliteContent(db);
    writeFileSync(path.join(cwd, '.env'), '# local settings\nDATABASE_URL="file:./dev.db"\n');

    const backedUp = await runCli(['backup', '--json'], { cwd });
    expect(backedUp.code, backedUp.stderr).toBe(0);
    const manifest = parseJson<ManifestJson>(backedUp);
    expect(manifest.tables).toEqual({ lines: 6000, orders: 2000, 'user profiles': 100 });
    expect(manifest).toMatchObject({ format: 'sqlite', compression: 'zstd' });
    expect(readFileSync(manifest.file).readUInt32LE(0)).toBe(0xfd2fb528); // zstd frame magic

    sqliteExec(db, 'DELETE FROM lines; DROP TABLE "user profiles"; UPDATE orders SET note = NULL');
    const restored = await runCli(['restore', 'latest', '--yes'], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/row counts match the backup/);
    expect(sqliteContent(db)).toEqual(before);
    expect(sqliteQuery<{ integrity_check: string }>(db, 'PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    expect(existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`).length : 0).toBe(0);
  });

  it.each(['wal', 'delete'] as const)(
    'takes a consistent snapshot while another process writes without pause (%s journal)',
    async (journalMode) => {
      const cwd = tempDir();
      const db = createSqliteDb(cwd, { journalMode, orders: 20_000 });
      const writer = spawn(process.execPath, [WRITER, db], { stdio: ['ignore', 'pipe', 'inherit'] });
      let snapshotOrdersCount = 0;
      try {
        await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
        const backedUp = await runCli(['backup', '--json', '--db', db, '--compress', 'none'], { cwd });
        expect(backedUp.code, backedUp.stderr).toBe(0);
        const manifest = parseJson<ManifestJson>(backedUp);

        // A single self-contained file: rollback-journal format (header bytes 18-19 = 1), not the source's WAL.
        expect([...readFileSync(manifest.file).subarray(18, 20)]).toEqual([1, 1]);
        const snapshot = new Database(manifest.file, { readonly: true });
        const orders = snapshot.prepare('SELECT count(*) FROM orders').pluck().get() as number;
        const lines = snapshot.prepare('SELECT count(*) FROM lines').pluck().get() as number;
        expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
        snapshot.close();
        expect(lines).toBe(orders * 3);
        snapshotOrdersCount = orders;
        expect(orders).toBeGreaterThan(20_000); // the writer was running before the snapshot
        expect(manifest.tables).toMatchObject({ orders, lines });
        // The writer goes on past the snapshot: it reports writing more orders than the snapshot holds.
        await new Promise<void>((resolve) =>
          writer.stdout.on('data', (d: Buffer) => {
            if (d.toString().trim().split('\n').some((n) => 20_000 + Number(n) > orders)) resolve();
          }),
        );
      } finally {
        writer.kill('SIGTERM');
        await new Promise((r) => writer.once('close', r));
      }
      // The writer kept going: the live database moved past the snapshot (read once it stopped, so the
      // test's own read cannot starve against it).
      expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM orders').n).toBeGreaterThan(snapshotOrdersCount);
    },
  );

  it('leaves the file unchanged when the restore cannot complete (database locked by a writer)', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { journalMode: 'delete', orders: 100 });
    expect((await runCli(['backup', '--db', db], { cwd })).code).toBe(0);
    sqliteExec(db, 'DELETE FROM lines WHERE id % 2 = 0');
    const current = sqliteContent(db);

    const holder = new Database(db);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const restored = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd, env: { DBGUARD_SQLITE_BUSY_TIMEOUT_MS: '500' } });
      expect(restored.code).toBe(1);
      expect(restored.stderr).toMatch(/locked|busy/i);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(sqliteContent(db)).toEqual(current);
  });

  it('backs up an empty database file (zero pages) and restores it', async () => {
    const cwd = tempDir();
    const db = path.join(cwd, 'empty.db');
    new Database(db).close();
    const backedUp = await runCli(['backup', '--json', '--db', db], { cwd });
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(parseJson<ManifestJson>(backedUp).tables).toEqual({});
    sqliteExec(db, 'CREATE TABLE since (id int); INSERT INTO since VALUES (1)');
    const restored = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
    expect(sqliteContent(db)).toEqual({}); // empty again, as backed up
    expect(sqliteQuery<{ n: number }>(db, 'SELECT count(*) AS n FROM sqlite_schema').n).toBe(0);
  });

  it('fails clearly and leaves nothing behind when the database stays locked for the whole busy timeout', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { journalMode: 'delete', orders: 10 });
    const holder = new Database(db);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const backedUp = await runCli(['backup', '--db', db], { cwd, env: { DBGUARD_SQLITE_BUSY_TIMEOUT_MS: '500' } });
      expect(backedUp.code).toBe(1);
      expect(backedUp.stderr).toMatch(/stayed locked for 0\.5 s: another process holds an exclusive lock on it/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(parseJson(await runCli(['list', '--json'], { cwd }))).toEqual([]);
    const store = path.join(cwd, 'backups');
    const leftovers = existsSync(store) ? readdirSync(store, { recursive: true }).map(String) : [];
    expect(leftovers.filter((f) => /\.(sqlite|partial|zst)/.test(f))).toEqual([]);
  });

  it('resolves Prisma file: URLs relative to prisma/schema.prisma and says so', async () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'prisma'));
    writeFileSync(path.join(cwd, 'prisma', 'schema.prisma'), 'datasource db {\n  provider = "sqlite"\n  url = env("DATABASE_URL")\n}\n');
    createSqliteDb(path.join(cwd, 'prisma'), { orders: 3 });
    const backedUp = await runCli(['backup', '--json'], { cwd, env: { DATABASE_URL: 'file:./dev.db' } });
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(backedUp.stderr).toContain(`resolved relative to prisma/schema.prisma, as Prisma does: ${path.join(cwd, 'prisma', 'dev.db')}`);
    expect(parseJson<ManifestJson>(backedUp).tables.orders).toBe(3);
  });

  it('reports a missing database file without writing anything', async () => {
    const cwd = tempDir();
    const result = await runCli(['backup', '--db', 'sqlite:./missing.db'], { cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/missing\.db does not exist/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('detects a backup whose rows no longer match its manifest', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 10 });
    const manifest = parseJson<ManifestJson & { sha256: string; size: number }>(await runCli(['backup', '--json', '--db', db], { cwd }));
    // Same bytes as written, but the manifest claims other counts: verification must compare, not trust.
    const manifestPath = path.join(path.dirname(manifest.file), `${manifest.id}.json`);
    const stored = JSON.parse(readFileSync(manifestPath, 'utf8'));
    stored.tables.orders = 11;
    writeFileSync(manifestPath, JSON.stringify(stored));
    const verified = await runCli(['verify', manifest.id, '--json'], { cwd });
    expect(verified.code).toBe(1);
    expect(parseJson<{ verification: { rowCounts: string; problems: string[] } }>(verified).verification).toMatchObject({
      rowCounts: 'mismatch',
      problems: ['row count orders: 10 rows, expected 11'],
    });
  });
});

describe('a SQLite restore interrupted while it writes', () => {
  /** Row counts and the bytes of the big table: what differs between the database before and the backup. */
  const fingerprint = (db: string) => ({
    ...sqliteContent(db),
    big: sqliteQuery<{ n: number; bytes: number }>(db, 'SELECT count(*) AS n, sum(length(b)) AS bytes FROM big'),
  });

  it.each(['SIGINT', 'SIGKILL'] as const)('by %s leaves the database as it was or as the backup, never in between', async (signal) => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 50, journalMode: 'wal' });
    // ~60 MB, so the copy into the live file takes a while.
    sqliteExec(db, 'CREATE TABLE big (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) INSERT INTO big SELECT randomblob(1000000) FROM n;');
    const { id } = parseJson<{ id: string }>(await runCli(['backup', '--json', '--compress', 'none', '--db', db], { cwd }));
    const backedUp = fingerprint(db);
    sqliteExec(db, 'DELETE FROM big WHERE rowid % 2 = 0; DELETE FROM lines;');
    const before = fingerprint(db);

    const child = spawn(process.execPath, [CLI, 'restore', id, '--yes', '--db', db], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('Restoring (all or nothing)')) resolve();
      });
      child.once('close', () => reject(new Error(`restore ended before it could be interrupted: ${stderr}`)));
    });
    child.kill(signal);
    const code = await closed;

    // Before the copy into the live file the restore stops; during it, it completes and says so: 130 either way.
    if (signal === 'SIGINT') expect(code, stderr).toBe(130);
    const after = fingerprint(db);
    expect([before, backedUp]).toContainEqual(after);
    expect(sqliteQuery<{ integrity_check: string }>(db, 'PRAGMA integrity_check').integrity_check).toBe('ok');
  });

  /** A WAL database, a backup of it, then rows deleted: the restore has something to replace. */
  async function restorable(): Promise<{ cwd: string; db: string; id: string; backedUp: Record<string, unknown[]>; before: Record<string, unknown[]> }> {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 50, journalMode: 'wal' });
    const { id } = parseJson<{ id: string }>(await runCli(['backup', '--json', '--compress', 'none', '--db', db], { cwd }));
    const backedUp = sqliteContent(db);
    sqliteExec(db, 'DELETE FROM lines;');
    return { cwd, db, id, backedUp, before: sqliteContent(db) };
  }

  const safetyBackupOf = (stderr: string) => /Safety backup of the current database: (\S+)/.exec(stderr)?.[1];

  it('by SIGINT during the copy into the live file completes, says that it did, and exits 130', async () => {
    requireStrace();
    const { cwd, db, id, backedUp } = await restorable();
    // SIGINT as SQLite writes the first page into the live database's WAL: inside the copy, which runs to its end.
    const run = await tracedCli(['restore', id, '--yes', '--db', db], { cwd, trace: 'pwrite64', inject: 'pwrite64:signal=SIGINT:when=1', paths: [`${db}-wal`] });
    expect(run.calls.length, run.stderr).toBeGreaterThan(0);
    expect(run.code, run.stderr).toBe(130);
    const safety = safetyBackupOf(run.stderr);
    expect(safety, run.stderr).toBeDefined();
    expect(run.stderr).toContain(
      `Interrupted by SIGINT too late to stop it: the restore was in a step that cannot be interrupted and completed: ${db} now holds the content of backup ${id}`,
    );
    expect(run.stderr).toContain(`(undo: dbguard restore ${safety})`);
    expect(sqliteContent(db)).toEqual(backedUp);
    expect(sqliteQuery<{ integrity_check: string }>(db, 'PRAGMA integrity_check').integrity_check).toBe('ok');
    const listed = parseJson<Array<{ id: string; type: string }>>(await runCli(['list', '--json'], { cwd }));
    expect(listed).toContainEqual(expect.objectContaining({ id: safety, type: 'pre-restore' }));
  });

  // Retried as a safety net: the signal strace injects is handled on the event loop in the same turn as the held
  // call's completion (the restore turns the loop once before its last check for that). A broken stop fails every try.
  it('by SIGINT after the safety backup, before the copy, stops with the database as it was, exit 130', { retry: 2 }, async () => {
    requireStrace();
    const { cwd, db, id, before } = await restorable();
    // The second access() of the database file is the restore checking it still exists, after the safety backup;
    // the signal is seen while that call is held for two seconds.
    const run = await tracedCli(['restore', id, '--yes', '--db', db], {
      cwd,
      trace: 'access',
      inject: 'access:signal=SIGINT:delay_exit=2000000:when=2',
      paths: [db],
    });
    expect(run.code, run.stderr).toBe(130);
    expect(safetyBackupOf(run.stderr), run.stderr).toBeDefined();
    expect(run.stderr).toContain('Interrupted by SIGINT; the restore was stopped');
    expect(run.stderr).not.toContain('too late');
    expect(sqliteContent(db)).toEqual(before);
  });
});
