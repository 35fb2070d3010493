import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { type PgServer, TEST_PASSWORD, TEST_USER, findPgBinDir, pgUrl, startPostgres } from './harness/postgres.js';
import { type S3Server, startS3 } from './harness/s3.js';
import { eventually, startServe } from './harness/serve.js';
import { tempDir } from './harness/tmp.js';

let server: PgServer;
let s3: S3Server;
beforeAll(async () => {
  [server, s3] = await Promise.all([startPostgres(), startS3()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), s3?.stop()]);
});

async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string): Promise<T[]> {
  const client = new pg.Client({ host: server.host, port: server.port, user: TEST_USER, password: TEST_PASSWORD, database });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function content(database: string): Promise<Record<string, unknown[]>> {
  const tables = await sql<{ t: string }>(database, `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
  const result: Record<string, unknown[]> = {};
  for (const { t } of tables) result[t] = JSON.parse(JSON.stringify(await sql(database, `SELECT * FROM ${t} ORDER BY 1`)));
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function moment(): Promise<Date> {
  await sleep(300);
  const at = new Date();
  await sleep(300);
  return at;
}

/** Keys under `<bucket>/<prefix>/` as s3rver stores them on disk. */
function bucketKeys(prefix: string): string[] {
  const root = path.join(s3.dir, s3.bucket, prefix);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('._S3rver_object'))
    .map((name) => name.replace(/\._S3rver_object$/, ''));
}

type Status = { window: { oldest: string | null; newest: string | null; holes: unknown[] }; walWhere: string; problems: string[] };

describe('point-in-time recovery into the bucket', () => {
  it('keepLocal: false ships base backups and WAL only to the bucket; a bucket that was down is caught up without a gap; a new machine restores moments from the bucket alone', async () => {
    await sql('postgres', 'CREATE DATABASE shop');
    await sql('shop', `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int); INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 200) i`);
    const prefix = 'pitr-remote';
    const env = { ...s3.env(prefix), SHOP_URL: pgUrl(server, 'shop') };
    const config = JSON.stringify({ remote: { keepLocal: false }, databases: { shop: { url: '${SHOP_URL}', pitr: { maxLag: '2s' } } } });
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), config);

    const enabled = await runCli(['pitr', 'enable', '--database', 'shop'], { cwd, env });
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(bucketKeys(prefix).filter((k) => k.startsWith('base/') && k.endsWith('.json'))).toHaveLength(1);

    const serve = startServe(cwd, env);
    let moments: Array<[Date, Record<string, unknown[]>, string]> = [];
    let status: Status | undefined;
    try {
      await serve.waitFor(serve.event('pitr.streaming', 'shop'), 'pitr.streaming');
      await sql('shop', `CREATE TABLE filler AS SELECT i, md5(i::text) AS v FROM generate_series(1, 50000) i`);
      await sql('shop', 'SELECT pg_switch_wal()');
      await sql('shop', `UPDATE items SET qty = qty * 10 WHERE id <= 50; DROP TABLE filler`);
      const atT1 = await content('shop');
      const t1 = await moment();
      await serve.waitFor((e) => e.event === 'pitr.segment' && e.where === 'remote', 'a segment in the bucket');

      // The bucket goes down: the WAL waits on this machine, and is shipped once it answers again.
      s3.proxy.down();
      await sql('shop', 'DELETE FROM items WHERE id % 2 = 0');
      await sql('shop', 'SELECT pg_switch_wal()');
      await sql('shop', `INSERT INTO items VALUES (1000, 'while the bucket was down', 1)`);
      const atT2 = await content('shop');
      const t2 = await moment();
      await serve.waitFor(serve.event('pitr.remote-failed', 'shop'), 'pitr.remote-failed', { timeoutMs: 60_000 });
      s3.proxy.heal();
      // A destructive command the guard lets through, approved: restore --at before:guard undoes it.
      const guarded = await runCli(['run', '--approve', 'clean up', '--', path.join(findPgBinDir(), 'psql'), '--no-psqlrc', '-c', 'DROP TABLE items'], {
        cwd,
        env: { ...env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: TEST_USER, PGPASSWORD: TEST_PASSWORD, PGDATABASE: 'shop', DATABASE_URL: pgUrl(server, 'shop') },
      });
      expect(guarded.code, guarded.stderr).toBe(0);
      expect((await sql('shop', `SELECT 1 FROM pg_tables WHERE tablename = 'items'`)).length).toBe(0);
      const destroyed = new Date();
      await serve.waitFor(serve.event('pitr.remote-recovered', 'shop'), 'pitr.remote-recovered', { timeoutMs: 60_000 });
      status = await eventually(async () => {
        const s = parseJson<Status>(await runCli(['pitr', 'status', '--database', 'shop', '--json'], { cwd, env }));
        return s.window.newest && s.window.newest > destroyed.toISOString() ? s : undefined;
      }, 'the window in the bucket to reach the last change', 60_000);
      expect(status.window.holes).toEqual([]);
      expect(status.problems).toEqual([]);
      expect(status.walWhere).toBe(`s3://${s3.bucket}/${prefix}/wal/shop/`);

      // Nothing of the archive on this machine: the spool holds only the segment being written.
      const localWal = path.join(cwd, 'backups', 'wal', 'shop');
      expect((existsSync(localWal) ? readdirSync(localWal) : []).filter((n) => !n.endsWith('.tmp'))).toEqual([]); // .tmp: a shipment on its way to the bucket
      expect(existsSync(path.join(cwd, 'backups', 'base')) ? readdirSync(path.join(cwd, 'backups', 'base')) : []).toEqual([]);
      moments = [[t1, atT1, 'shop_r1'], [t2, atT2, 'shop_r2']];
      const walKeys = bucketKeys(prefix).filter((k) => k.startsWith('wal/shop/'));
      expect(walKeys.filter((k) => /^wal\/shop\/[0-9A-F]{24}\.json$/.test(k)).length).toBeGreaterThan(2);
      expect(walKeys.every((k) => k.endsWith('.json') || k.endsWith('.wal.zst'))).toBe(true);
    } finally {
      await serve.stop();
    }

    // prune reports the window before and after, per side; nothing the window needs goes.
    const pruned = parseJson<{ windows: unknown[]; remote: { deleted: string[]; windows: Array<{ database: string; before: { newest: string }; after: { newest: string }; walDeleted: number }> } }>(
      await runCli(['prune', '--json'], { cwd, env }),
    );
    expect(pruned.windows).toEqual([]); // nothing in the local folder
    expect(pruned.remote.deleted).toEqual([]);
    const [window] = pruned.remote.windows;
    expect(pruned.remote.windows).toHaveLength(1);
    expect(window).toMatchObject({ database: 'shop', before: { oldest: status!.window.oldest } }); // WAL from before the base backup may go
    expect(window!.after).toEqual(window!.before);
    expect(window!.before.newest >= status!.window.newest!).toBe(true);
    const text = await runCli(['prune', '--dry-run'], { cwd, env });
    expect(text.stdout).toMatch(/Restorable window of shop: \S+ \S+ to \S+ \S+ \(unchanged\)/);

    // A new machine: the configuration and the bucket, nothing else.
    const newMachine = tempDir();
    writeFileSync(path.join(newMachine, 'dbguard.config.json'), config);
    for (const [at, expected, name] of moments) {
      const restored = await runCli(['restore', '--at', at.toISOString(), '--to', pgUrl(server, name), '--database', 'shop', '--yes'], { cwd: newMachine, env });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await content(name)).toEqual(expected);
    }
    expect(readdirSync(path.join(newMachine, 'backups', '.dbguard', 'staging'))).toEqual([]);

    // Just before the command the guard let through (its audit log is on the first machine): T2's content.
    const undone = await runCli(['restore', '--at', 'before:guard', '--to', pgUrl(server, 'shop_guard'), '--database', 'shop', '--yes'], { cwd, env });
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.stderr).toContain('Before the command approved at');
    expect(await content('shop_guard')).toEqual(moments[1]![1]);
    const unknown = await runCli(['restore', '--at', 'before:guard:nope', '--to', pgUrl(server, 'shop_nope'), '--database', 'shop', '--yes'], { cwd, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no approved command whose backup is nope');
    expect(unknown.stderr).toMatch(/DROP TABLE items' {2}\(before:guard:shop-\S+\)/);
  }, 300_000);
});
