import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { type PgServer, TEST_PASSWORD, TEST_USER, findPgBinDir, pgUrl, startPostgres } from './harness/postgres.js';
import { httpReceiver } from './harness/receivers.js';
import { eventually, startServe } from './harness/serve.js';
import { tempDir } from './harness/tmp.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string): Promise<T[]> {
  const client = new pg.Client({ host: server.host, port: server.port, user: TEST_USER, password: TEST_PASSWORD, database });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Every row of every user table, ordered: the full content to compare. */
async function content(database: string): Promise<Record<string, unknown[]>> {
  const tables = await sql<{ t: string }>(database, `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
  const result: Record<string, unknown[]> = {};
  for (const { t } of tables) result[t] = JSON.parse(JSON.stringify(await sql(database, `SELECT * FROM ${t} ORDER BY 1`)));
  return result;
}

/** serve's /metrics for one database: metric name -> value. */
async function scrape(url: string, database = 'lag'): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return new Map([...text.matchAll(new RegExp(`^(dbguard_pitr_\\w+)\\{database="${database}"\\} (\\S+)$`, 'gm'))].map((m) => [m[1]!, Number(m[2])]));
}

/** Moves the server's WAL `n` segments on (a write, then a switch to the next segment, each time). */
async function holdBackSegments(database: string, n: number): Promise<void> {
  await sql(database, 'CREATE TABLE IF NOT EXISTS switched (i int)');
  for (let i = 0; i < n; i++) await sql(database, 'INSERT INTO switched VALUES (1); SELECT pg_switch_wal()');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A moment strictly between what was committed before and what is committed after. */
async function moment(): Promise<Date> {
  await sleep(300);
  const at = new Date();
  await sleep(300);
  return at;
}

/** `<pid> <command line>` of every process (from /proc: no procps needed). */
function processes(): string[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((pid) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
      } catch {
        return ''; // exited meanwhile
      }
    })
    .filter((line) => line.includes(' '));
}

/** The pg_receivewal processes of `slot` for the project in `cwd` (not the shells around them, nor other tests'). */
function receivers(slot: string, cwd: string): string[] {
  return processes().filter((line) => /^\d+ \S*pg_receivewal /.test(line) && line.includes(`--slot=${slot} `) && line.includes(`--directory=${cwd}/`));
}

/** The processes `parent` started whose command line contains `name`. */
function childrenOf(parent: number, name: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .flatMap((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === parent && readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(name) ? [Number(n)] : [];
      } catch {
        return []; // exited meanwhile
      }
    });
}

function pitrRunDirs(pid: number): string[] {
  return readdirSync(os.tmpdir()).filter((name) => name.startsWith(`${pid}-pitr-`));
}

describe('point-in-time recovery', () => {
  it('refuses a held-back WAL limit under two segments: a healthy slot holds back up to one', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { shop: { url: pgUrl(server, 'postgres'), pitr: { maxSlotWalMB: 16 } } } }));
    for (const command of [['pitr', 'status', '--database', 'shop'], ['serve', '--listen', '127.0.0.1:0']]) {
      const refused = await runCli(command, { cwd });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain('databases.shop.pitr.maxSlotWalMB: at least 32 (it is 16).');
      expect(refused.stderr).toContain('one whole 16 MB segment at a time');
    }
  });

  it('streams the WAL with serve and restores the exact content of recorded moments, across a kill -9 of serve; a hole is refused by name; Ctrl-C cleans up', async () => {
    await sql('postgres', 'CREATE DATABASE shop');
    await sql('postgres', 'CREATE DATABASE bench');
    await sql('shop', `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int); INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 200) i`);
    const cwd = tempDir();
    const url = pgUrl(server, 'shop');
    const env = { SHOP_URL: url };
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { shop: { url: '${SHOP_URL}', pitr: { maxLag: '2s' } } } }));

    const enabled = await runCli(['pitr', 'enable', '--database', 'shop'], { cwd, env });
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(enabled.stdout).toContain('Replication slot dbguard_shop created');
    expect(enabled.stdout).toMatch(/First base backup: \S+/);

    let serve = startServe(cwd, env);
    try {
      await serve.waitFor(serve.event('pitr.streaming', 'shop'), 'pitr.streaming');
      // pgbench writes while the WAL streams: several finished segments, then the one in progress.
      const bin = findPgBinDir();
      const pgEnv = { ...process.env, PGPASSWORD: TEST_PASSWORD, PGHOST: server.host, PGPORT: String(server.port), PGUSER: TEST_USER };
      execFileSync(path.join(bin, 'pgbench'), ['-i', '-s', '2', '-q', 'bench'], { env: pgEnv, stdio: 'ignore' });
      const bench = spawn(path.join(bin, 'pgbench'), ['-T', '4', '-c', '2', 'bench'], { env: pgEnv, stdio: 'ignore' });
      const benchDone = new Promise((resolve) => bench.once('close', resolve));

      await sql('shop', `UPDATE items SET qty = qty * 10 WHERE id <= 50; INSERT INTO items VALUES (1000, 'new', 1)`);
      const atT1 = await content('shop');
      const t1 = await moment();
      await sql('shop', 'DELETE FROM items WHERE id % 2 = 0');
      await sql('shop', `UPDATE items SET name = 'renamed'`);
      const atT2 = await content('shop');
      const t2 = await moment();
      await sql('shop', 'DROP TABLE items');
      const destroyed = new Date();
      await benchDone;

      const status = await eventually(async () => {
        const s = parseJson<{ window: { oldest: string; newest: string | null; holes: unknown[] }; server: { active: boolean } }>(
          await runCli(['pitr', 'status', '--database', 'shop', '--json'], { cwd, env }),
        );
        return s.window.newest && s.window.newest > destroyed.toISOString() ? s : undefined;
      }, 'the window to reach the last change', 30_000);
      expect(status.window.holes).toEqual([]);
      expect(status.server.active).toBe(true);
      const shipped = serve.events.filter((e) => e.event === 'pitr.segment');
      expect(shipped.length).toBeGreaterThan(1); // finished segments, not only the partial one

      // The replication password is in no process's arguments, no log line, no stored file.
      const receiver = processes().filter((line) => line.includes('pg_receivewal') && line.includes(cwd)); // and the shell around it
      expect(receiver.length).toBeGreaterThan(0);
      expect(receiver.join('\n')).not.toContain(TEST_PASSWORD);
      expect(serve.output().stdout).not.toContain(TEST_PASSWORD);

      for (const [at, expected, name] of [[t1, atT1, 'shop_t1'], [t2, atT2, 'shop_t2']] as const) {
        const restored = await runCli(['restore', '--at', at.toISOString(), '--to', pgUrl(server, name), '--database', 'shop', '--yes'], { cwd, env });
        expect(restored.stderr + restored.stdout).not.toContain(TEST_PASSWORD);
        expect(restored.code, restored.stderr).toBe(0);
        expect(restored.stdout).toContain(`as it was at ${at.toISOString()}`);
        expect(await content(name)).toEqual(expected);
      }

      // kill -9: the receiver it started stops with it (its watcher sees serve's pipe close); the next serve resumes
      // without a gap.
      expect(receivers('dbguard_shop', cwd)).toHaveLength(1);
      serve.child.kill('SIGKILL');
      await serve.exited;
      await eventually(() => (receivers('dbguard_shop', cwd).length === 0 ? true : undefined), 'the receiver to stop with the killed serve', 15_000);
      await sql('shop', `CREATE TABLE again (id int PRIMARY KEY, note text); INSERT INTO again SELECT i, md5(i::text) FROM generate_series(1, 300) i`);
      await sql('bench', 'SELECT pg_switch_wal()');
      await sql('shop', `INSERT INTO again VALUES (301, 'while serve was down')`);
      serve = startServe(cwd, env);
      await serve.waitFor(serve.event('pitr.streaming', 'shop'), 'pitr.streaming after the restart');
      await eventually(() => (receivers('dbguard_shop', cwd).length > 0 ? true : undefined), 'the receiver after the restart'); // the shell execs it
      expect(receivers('dbguard_shop', cwd)).toHaveLength(1);
      await sql('shop', `UPDATE again SET note = 'after restart' WHERE id <= 10`);
      const atT3 = await content('shop');
      const t3 = await moment();
      await sql('shop', `TRUNCATE again; INSERT INTO again VALUES (1, 'one'), (2, 'two')`);
      const truncated = new Date();
      await eventually(async () => {
        const s = parseJson<{ window: { newest: string | null; holes: unknown[] } }>(await runCli(['pitr', 'status', '--database', 'shop', '--json'], { cwd, env }));
        expect(s.window.holes).toEqual([]);
        return s.window.newest && s.window.newest > truncated.toISOString() ? s : undefined;
      }, 'the window to continue after the restart', 30_000);
      const restored3 = await runCli(['restore', '--at', t3.toISOString(), '--to', pgUrl(server, 'shop_t3'), '--database', 'shop', '--yes'], { cwd, env });
      expect(restored3.code, restored3.stderr).toBe(0);
      expect(await content('shop_t3')).toEqual(atT3);

      // verify --pitr: the newest restorable point, recovered, has the live database's row counts.
      const verified = await runCli(['verify', '--pitr', '--database', 'shop', '--json'], { cwd, env });
      expect(verified.code, verified.stderr).toBe(0);
      expect(parseJson<{ ok: boolean; recovered: Record<string, number> }>(verified)).toMatchObject({ ok: true, recovered: { 'public.again': 2 } });

      // Ctrl-C while the temporary server recovers: it is stopped and every staged file removed.
      const restoring: ChildProcess = spawn(process.execPath, [CLI, 'restore', '--at', t1.toISOString(), '--to', pgUrl(server, 'shop_cancelled'), '--database', 'shop', '--yes'], {
        cwd,
        env: { ...process.env, ...env, DATABASE_URL: undefined },
        stdio: 'ignore',
      });
      const restoringExit = new Promise<number | null>((resolve) => restoring.once('close', resolve));
      await eventually(() => (processes().some((line) => /postgres .*unix_socket_directories=\S*dbguard-pg-/.test(line)) ? true : undefined), 'the temporary server', 60_000);
      restoring.kill('SIGINT');
      expect(await restoringExit).toBe(130);
      expect(processes().filter((line) => /unix_socket_directories=\S*dbguard-pg-/.test(line))).toEqual([]);
      expect(pitrRunDirs(restoring.pid!)).toEqual([]);
      expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`dbguard-pg-${restoring.pid}-`))).toEqual([]);
      expect((await sql('postgres', `SELECT 1 FROM pg_database WHERE datname = 'shop_cancelled'`)).length).toBe(0);

      // Stored manifests and WAL descriptions hold no secret.
      const backups = path.join(cwd, 'backups');
      for (const file of readdirSync(backups, { recursive: true }).map(String).filter((f) => f.endsWith('.json'))) {
        expect(readFileSync(path.join(backups, file), 'utf8')).not.toContain(TEST_PASSWORD);
      }

      // A corrupted segment is refused by name before anything is touched.
      await serve.stop();
      const walDir = path.join(backups, 'wal', 'shop');
      const segments = readdirSync(walDir).filter((n) => /^[0-9A-F]{24}\.json$/.test(n)).sort();
      const dataFiles = segments.map((name) => (JSON.parse(readFileSync(path.join(walDir, name), 'utf8')) as { fileName: string }).fileName);
      const originals = dataFiles.map((file) => readFileSync(path.join(walDir, file)));
      for (const [i, file] of dataFiles.entries()) {
        const flipped = Buffer.from(originals[i]!);
        flipped[flipped.length >> 1] ^= 0xff;
        writeFileSync(path.join(walDir, file), flipped);
      }
      const corrupted = await runCli(['restore', '--at', t1.toISOString(), '--to', pgUrl(server, 'shop_corrupt'), '--database', 'shop', '--yes'], { cwd, env });
      expect(corrupted.code).toBe(3);
      expect(corrupted.stderr).toMatch(/WAL segment [0-9A-F]{24} is corrupted: its checksum does not match/);
      for (const [i, file] of dataFiles.entries()) writeFileSync(path.join(walDir, file), originals[i]!);

      // A segment missing from the archive: a moment after it is refused, naming the hole; nothing is created.
      const victim = segments[Math.floor(segments.length / 2)]!.slice(0, 24);
      rmSync(path.join(walDir, `${victim}.json`));
      const refused = await runCli(['restore', '--at', t3.toISOString(), '--to', pgUrl(server, 'shop_hole'), '--database', 'shop', '--yes'], { cwd, env });
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`WAL segments ${victim}`);
      expect(refused.stderr).toContain('missing from the archive');
      expect((await sql('postgres', `SELECT 1 FROM pg_database WHERE datname = 'shop_hole'`)).length).toBe(0);
      const holed = parseJson<{ window: { holes: Array<{ from: string }> } }>(await runCli(['pitr', 'status', '--database', 'shop', '--json'], { cwd, env }));
      expect(holed.window.holes.map((h) => h.from)).toEqual([victim]);
    } finally {
      await serve.stop('SIGKILL');
      // the receiver a SIGKILLed serve leaves behind
      for (const line of processes().filter((l) => l.includes('pg_receivewal') && l.includes(cwd))) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGTERM');
    }
    expect(existsSync(path.join(cwd, 'backups', 'base'))).toBe(true);
  }, 300_000);

  it('alerts when the newest restorable point falls behind maxLag or the slot holds back too much WAL, and tells when it caught up', async () => {
    await sql('postgres', 'CREATE DATABASE lagging');
    const hook = await httpReceiver();
    const cwd = tempDir();
    const env = { LAG_URL: pgUrl(server, 'lagging') };
    writeFileSync(
      path.join(cwd, 'dbguard.config.json'),
      JSON.stringify({ databases: { lag: { url: '${LAG_URL}', pitr: { maxLag: '2s', maxSlotWalMB: 32 } } }, notify: [{ type: 'webhook', url: hook.url }] }),
    );
    const serve = startServe(cwd, env);
    try {
      // serve creates the slot and takes the first base backup itself when `pitr enable` was never run.
      const [baseDone] = await serve.waitFor(serve.event('pitr.base.done', 'lag'), 'the first base backup', { timeoutMs: 120_000 });
      // The retention after it reports the window (none yet: no WAL after the base backup so far).
      expect(baseDone!.windows).toEqual([{ database: 'lag', before: { oldest: null, newest: null }, after: { oldest: null, newest: null }, walDeleted: expect.any(Number), walFreedBytes: expect.any(Number) }]);
      await serve.waitFor(serve.event('pitr.streaming', 'lag'), 'pitr.streaming');
      await eventually(async () => {
        const s = parseJson<{ window: { newest: string | null } }>(await runCli(['pitr', 'status', '--database', 'lag', '--json'], { cwd, env }));
        return s.window.newest ?? undefined;
      }, 'a restorable window');
      const receiver = await eventually(() => receivers('dbguard_lag', cwd)[0], 'the receiver');
      const pid = Number(receiver.trim().split(/\s+/)[0]);
      process.kill(pid, 'SIGSTOP'); // the receiver hangs: nothing more is received
      try {
        await sql('lagging', `CREATE TABLE t AS SELECT i, md5(i::text) AS v FROM generate_series(1, 30000) i`);
        await holdBackSegments('lagging', 4);
        const [lag] = await serve.waitFor(serve.event('pitr.lag', 'lag'), 'pitr.lag', { timeoutMs: 30_000 });
        expect(lag!.maxLagMs).toBe(2000);
        await serve.waitFor(serve.event('pitr.slot-retained', 'lag'), 'pitr.slot-retained', { timeoutMs: 30_000 });
        // Each alert comes once per episode, and an episode can end and start again while the stopped receiver's last
        // partial segment is still shipped (so the first two alerts can be of one kind): wait for both kinds. The lag
        // is "older than maxLag" or, before serve's own state has a restorable point, "longer ago than maxLag".
        const isLag = (a: { error: string }) => / than maxLag \(2s\)/.test(a.error);
        const isSlot = (a: { error: string }) => /holds back [\d.]+ MB of WAL on the server \(limit 32 MB\)/.test(a.error);
        const alerts = await eventually(() => {
          const all = hook.requests.map((r) => JSON.parse(r.body) as { event: string; error: string });
          return all.some(isLag) && all.some(isSlot) ? all : undefined;
        }, 'a lag alert and a slot alert', 30_000);
        expect(new Set(alerts.map((a) => a.event))).toEqual(new Set(['pitr-lag']));

        // serve's /metrics: the lag, the WAL held back and the limits.
        const serveUrl = await serve.url();
        const metrics = await eventually(async () => {
          const m = await scrape(serveUrl);
          return m.get('dbguard_pitr_slot_retained_bytes')! > 32 * 1048576 ? m : undefined;
        }, 'the held-back WAL in /metrics', 30_000);
        expect(metrics.get('dbguard_pitr_lag_seconds')).toBeGreaterThanOrEqual(0);
        expect(metrics.get('dbguard_pitr_max_lag_seconds')).toBe(2);
        expect(metrics.get('dbguard_pitr_slot_retained_bytes')).toBeGreaterThan(32 * 1048576);
        expect(metrics.get('dbguard_pitr_slot_retained_limit_bytes')).toBe(32 * 1048576);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await serve.waitFor(serve.event('pitr.caught-up', 'lag'), 'pitr.caught-up', { timeoutMs: 30_000 });
      const { window } = parseJson<{ window: { oldest: string; newest: string } }>(await runCli(['pitr', 'status', '--database', 'lag', '--json'], { cwd, env }));
      const metrics = await scrape(await serve.url());
      expect(metrics.get('dbguard_pitr_streaming')).toBe(1);
      expect(metrics.get('dbguard_pitr_oldest_restorable_timestamp_seconds')).toBe(Date.parse(window.oldest) / 1000);
      expect(metrics.get('dbguard_pitr_newest_restorable_timestamp_seconds')).toBeGreaterThanOrEqual(Date.parse(window.newest) / 1000);
      expect(metrics.get('dbguard_pitr_window_holes')).toBe(0);
      // Once per episode: each alert is followed by its all-clear before the next.
      const episodes = serve.events.filter((e) => e.database === 'lag' && (e.event === 'pitr.lag' || e.event === 'pitr.caught-up')).map((e) => e.event);
      expect(episodes.length).toBeGreaterThanOrEqual(2);
      expect(episodes).toEqual(episodes.map((_, i) => (i % 2 === 0 ? 'pitr.lag' : 'pitr.caught-up')));
      await serve.stop();
      await eventually(() => (processes().some((line) => line.includes('--slot=dbguard_lag') && line.includes(cwd)) ? undefined : true), 'the receiver and its watcher gone', 10_000);

      // Nothing reads the slot now: dbguard status says so, and that the window falls behind (exit 1).
      await sql('lagging', 'INSERT INTO t VALUES (0, NULL)');
      await holdBackSegments('lagging', 4);
      await sleep(2500);
      const stalled = await runCli(['status', '--database', 'lag', '--json'], { cwd, env });
      expect(stalled.code).toBe(1);
      const [state] = parseJson<Array<{ problems: string[]; pitr: { lagMs: number; server: { active: boolean; retainedBytes: number }; problems: string[] } }>>(stalled);
      expect(state!.pitr.lagMs).toBeGreaterThan(2000);
      expect(state!.pitr.server).toMatchObject({ active: false });
      expect(state!.pitr.problems).toEqual([
        expect.stringMatching(/^the newest restorable point is \d+s old \(maxLag 2s\)$/),
        'nothing reads the replication slot dbguard_lag (is dbguard serve running?)',
        expect.stringMatching(/^the slot dbguard_lag holds back [\d.]+ MB of WAL on the server \(limit 32 MB\)$/),
      ]);
      expect(state!.problems).toContain(`point-in-time recovery: ${state!.pitr.problems[1]}`);
      const text = await runCli(['status', '--database', 'lag'], { cwd, env });
      expect(text.stdout).toMatch(/restorable window {3}\S+ \S+ to \S+ \S+/);
      expect(text.stdout).toContain('replication slot    dbguard_lag: NOT being read');
    } finally {
      await serve.stop('SIGKILL');
      await hook.close();
    }
  }, 300_000);
  it('a first base backup that runs is no lag; one that reads nothing or fails is reported, and a failed one is tried again', async () => {
    await sql('postgres', 'CREATE DATABASE firstbase');
    await sql('firstbase', 'CREATE TABLE t (i int)');
    const hook = await httpReceiver();
    const cwd = tempDir();
    const env = { FIRST_URL: pgUrl(server, 'firstbase') };
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { first: { url: '${FIRST_URL}', pitr: { maxLag: '2s' } } }, notify: [{ type: 'webhook', url: hook.url }] }));
    const serve = startServe(cwd, env);
    const stopped: number[] = [];
    const pause = (pid: number) => (process.kill(pid, 'SIGSTOP'), stopped.push(pid));
    const resume = (pid: number) => (process.kill(pid, 'SIGCONT'), stopped.splice(stopped.indexOf(pid), 1));
    const alerts = () => hook.requests.map((r) => (JSON.parse(r.body) as { error: string }).error);
    try {
      const [start] = await serve.waitFor(serve.event('pitr.base.start', 'first'), 'the first base backup');
      expect(start!.first).toBe(true);
      const basebackup = await eventually(() => childrenOf(serve.child.pid!, 'pg_basebackup')[0], 'pg_basebackup');
      pause(basebackup);
      // The WAL is shipped meanwhile; then the receiver hangs too, so the shipped WAL falls far behind maxLag.
      const serveUrl = await serve.url();
      await eventually(async () => ((await scrape(serveUrl, 'first')).get('dbguard_pitr_newest_restorable_timestamp_seconds')! > 0 ? true : undefined), 'WAL shipped during the base backup');
      const receiver = await eventually(() => childrenOf(serve.child.pid!, 'pg_receivewal')[0], 'pg_receivewal');
      pause(receiver);
      await sql('firstbase', 'INSERT INTO t SELECT generate_series(1, 1000)');
      const [stalled] = await serve.waitFor(serve.event('pitr.base.stalled', 'first'), 'pitr.base.stalled', { timeoutMs: 30_000 });
      expect(stalled!.first).toBe(true);
      await eventually(() => (alerts().some((a) => /^the first base backup has read nothing for \d+s \([\d.]+ MB so far\): there is no restorable window until it finishes$/.test(a)) ? true : undefined), 'the stalled alert');
      await sleep(3000); // past maxLag again: still no lag, there is no window to lag behind
      expect((await scrape(serveUrl, 'first')).get('dbguard_pitr_lag_seconds')).toBeGreaterThan(2);
      expect(serve.events.filter((e) => e.event === 'pitr.lag')).toEqual([]);

      // The stuck backup dies: reported, with when it is tried again; the next try makes the window.
      resume(receiver);
      await eventually(async () => ((await scrape(serveUrl, 'first')).get('dbguard_pitr_lag_seconds')! < 1 ? true : undefined), 'the WAL to catch up');
      process.kill(basebackup, 'SIGKILL');
      resume(basebackup);
      const [failed] = await serve.waitFor(serve.event('pitr.base.failed', 'first'), 'pitr.base.failed');
      expect(failed).toMatchObject({ first: true, retryInMs: 10_000 });
      await eventually(() => (alerts().some((a) => a.startsWith('the first base backup failed: ') && a.endsWith('there is no restorable window until a base backup succeeds: serve tries again in 10s (or run dbguard pitr enable --database first)')) ? true : undefined), 'the failure alert');
      await serve.waitFor(serve.event('pitr.base.done', 'first'), 'the retried base backup', { timeoutMs: 60_000 });
      const firstWindow = serve.events.findIndex((e) => e.event === 'pitr.base.done');
      await eventually(async () => {
        const s = parseJson<{ window: { newest: string | null } }>(await runCli(['pitr', 'status', '--database', 'first', '--json'], { cwd, env }));
        return s.window.newest ?? undefined;
      }, 'a restorable window');
      expect(serve.events.slice(0, firstWindow).filter((e) => e.event === 'pitr.lag')).toEqual([]);
    } finally {
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
      await serve.stop('SIGKILL');
      await hook.close();
    }
  }, 180_000);
});
