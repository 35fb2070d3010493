/** The benchmark cases: each runs dbguard and the raw tool(s) it is compared with, interleaved, `runs` times. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BENCH_DB, type Mysql, type Pg } from './data.js';
import { type Sample, median, runDbguard, runRaw, running, sh } from './measure.js';

export interface Context {
  cli: string;
  scale: number;
  runs: number;
  /** Scratch folder, deleted at the end. */
  work: string;
  pg?: Pg & { bytes: number };
  sqlite?: { file: string; bytes: number };
  mysql?: Mysql & { bytes: number };
  age: { recipient: string; identityFile: string };
}

export interface Measurement {
  label: string;
  tool: 'dbguard' | 'raw';
  seconds: number[];
  median: number;
  /** Highest peak RSS over the runs. */
  rssMB: number | null;
  outputMB: number | null;
  timedOut: number;
  /** Writer transactions/s before and during the backup (medians over the runs), and their ratio. */
  writer?: { idleTps: number; duringTps: number; kept: number };
}

export interface Ratio {
  name: string;
  /** Of the medians. */
  value: number;
  /** Of the fastest runs: less sensitive to other work on the machine. */
  best: number;
  /** `max`: value must be <= target; `min`: >= target. */
  target?: { kind: 'max' | 'min'; value: number };
}

export interface CaseResult {
  name: string;
  title: string;
  inputMB: number;
  measurements: Measurement[];
  ratios: Ratio[];
  notes: string[];
  /** How this case was run (results of several invocations are merged). */
  run?: RunInfo;
}

export interface RunInfo {
  runs: number;
  finishedAt: string;
  /** 1-minute load average when the invocation started: other work on the machine makes times noisy. */
  loadAverage: number;
  /** Which dbguard build was measured. */
  build: string;
}

interface Variant {
  label: string;
  tool: 'dbguard' | 'raw';
  run(): Promise<Sample & { outputBytes?: number }>;
}

export interface Case {
  name: string;
  needs: 'pg' | 'sqlite' | 'mysql' | 'none';
  run(ctx: Context): Promise<CaseResult>;
}

const MB = 1024 * 1024;
const WRITER = fileURLToPath(new URL('./sqlite-writer.mjs', import.meta.url));
const RSS_FILE = (ctx: Context) => path.join(ctx.work, 'rss');

function dbguard(ctx: Context, args: string[], env: NodeJS.ProcessEnv = {}, extra: { cwd?: string; input?: string } = {}): Promise<Sample> {
  // The caller's DATABASE_URL and DBGUARD_* settings (keys, compression) must not change what is measured.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('DBGUARD_')));
  if (ctx.pg) base.DBGUARD_PG_BINDIR = ctx.pg.bin;
  return runDbguard(ctx.cli, args, { env: { ...base, ...env }, cwd: extra.cwd ?? ctx.work, rssFile: RSS_FILE(ctx), input: extra.input });
}

function raw(ctx: Context, command: string, timeoutMs?: number): Promise<Sample> {
  const env = { ...process.env, ...ctx.pg?.env, ...ctx.mysql?.env };
  return runRaw(`set -eo pipefail; ${command}`, { env, cwd: ctx.work, rssFile: RSS_FILE(ctx), timeoutMs });
}

/** A dbguard backup into a throwaway folder: the sample plus the backup's size. */
async function dbguardBackup(ctx: Context, db: string, extra: string[], env: NodeJS.ProcessEnv = {}) {
  const dir = path.join(ctx.work, 'runs');
  const sample = await dbguard(ctx, ['backup', '--db', db, '--dir', dir, '--json', ...extra], env);
  const { size } = JSON.parse(sample.stdout) as { size: number };
  rmSync(dir, { recursive: true, force: true });
  return { ...sample, outputBytes: size };
}

/** A raw command writing `out` (a file, or pg_dump's directory): the sample plus what it wrote. */
async function rawToFile(ctx: Context, command: (out: string) => string, timeoutMs?: number) {
  const out = path.join(ctx.work, 'raw-out');
  rmSync(out, { recursive: true, force: true });
  const sample = await raw(ctx, command(sh(out)), timeoutMs);
  const outputBytes = sample.timedOut ? undefined : sizeOf(out);
  rmSync(out, { recursive: true, force: true });
  return { ...sample, outputBytes };
}

function sizeOf(file: string): number {
  const stat = statSync(file);
  return stat.isDirectory() ? readdirSync(file).reduce((sum, name) => sum + statSync(path.join(file, name)).size, 0) : stat.size;
}

/** Parallel jobs for the --jobs cases: every core, at least 2. */
const JOBS = Math.max(2, os.availableParallelism());

type Run = Sample & { outputBytes?: number; writer?: { idle: number; during: number } };

/** Runs every variant `runs` times, interleaved (so slow phases of the machine hit all alike); `around` wraps each run. */
async function measure(ctx: Context, variants: Variant[], around: (v: Variant) => Promise<Run> = (v) => v.run()): Promise<Measurement[]> {
  const samples = new Map<Variant, Run[]>(variants.map((v) => [v, []]));
  for (let i = 0; i < ctx.runs; i++) {
    for (const variant of variants) {
      const sample = await around(variant);
      samples.get(variant)!.push(sample);
      process.stderr.write(`  ${variant.label}: ${sample.seconds.toFixed(2)} s\n`);
    }
  }
  return variants.map((variant) => {
    const list = samples.get(variant)!;
    const rss = list.map((s) => s.rssMB).filter((v): v is number => v !== null);
    const output = list.map((s) => s.outputBytes).filter((v): v is number => v !== undefined);
    const writer = list.map((s) => s.writer).filter((w) => w !== undefined);
    return {
      label: variant.label,
      tool: variant.tool,
      seconds: list.map((s) => s.seconds),
      median: median(list.map((s) => s.seconds)),
      rssMB: rss.length ? Math.max(...rss) : null,
      outputMB: output.length ? median(output) / MB : null,
      timedOut: list.filter((s) => s.timedOut).length,
      writer: writer.length
        ? { idleTps: median(writer.map((w) => w.idle)), duringTps: median(writer.map((w) => w.during)), kept: median(writer.map((w) => w.during / w.idle)) }
        : undefined,
    };
  });
}

const ratio = (ms: Measurement[], a: string, b: string, target?: Ratio['target']): Ratio => {
  const [x, y] = [ms.find((m) => m.label === a)!, ms.find((m) => m.label === b)!];
  return { name: `${a} / ${b}`, value: x.median / y.median, best: Math.min(...x.seconds) / Math.min(...y.seconds), target };
};
const MAX_105 = { kind: 'max', value: 1.05 } as const;
/** dbguard against the raw tool: at most 1.15x at scale 20 (fixed costs weigh more), 1.02x at scale 100. */
const pgTarget = (ctx: Context) => ({ kind: 'max', value: ctx.scale >= 100 ? 1.02 : 1.15 }) as const;

/** dbguard backup vs a raw command at the same settings. */
function pgBackupCase(name: string, title: string, dbguardLabel: string, extra: string[], rawLabel: string, rawCommand: (ctx: Context, out: string) => string, withAge = false): Case {
  return {
    name,
    needs: 'pg',
    async run(ctx) {
      const pgc = ctx.pg!;
      const env = withAge ? { DBGUARD_AGE_RECIPIENTS: ctx.age.recipient } : {};
      // dbguard runs at nice +10 by default and the raw tools do not: on a busy machine --no-nice shows the pipeline's own cost.
      const unniced = `${dbguardLabel} --no-nice`;
      const ms = await measure(ctx, [
        { label: rawLabel, tool: 'raw', run: () => rawToFile(ctx, (out) => rawCommand(ctx, out)) },
        { label: dbguardLabel, tool: 'dbguard', run: () => dbguardBackup(ctx, pgc.url(BENCH_DB), extra, env) },
        { label: unniced, tool: 'dbguard', run: () => dbguardBackup(ctx, pgc.url(BENCH_DB), [...extra, '--no-nice'], env) },
      ]);
      const ratios = [ratio(ms, dbguardLabel, rawLabel, pgTarget(ctx)), ratio(ms, unniced, rawLabel)];
      return { name, title, inputMB: pgc.bytes / MB, measurements: ms, ratios, notes: [] };
    },
  };
}

const tool = (ctx: Context, name: string) => sh(path.join(ctx.pg!.bin, name));

/** One dbguard backup made once (untimed) for the restore and verify cases. */
const fixtures = new Map<string, { id: string; file: string }>();
/** `plain` and `age`: the default (zstd around the archive); `gzip`: pg_dump's own compression, a file pg_restore reads. */
async function fixture(ctx: Context, kind: 'plain' | 'age' | 'gzip'): Promise<{ id: string; file: string; dir: string }> {
  const dir = path.join(ctx.work, 'fixtures');
  if (!fixtures.has(kind)) {
    const env = kind === 'age' ? { DBGUARD_AGE_RECIPIENTS: ctx.age.recipient } : {};
    const compress = kind === 'gzip' ? ['--compress', 'gzip'] : [];
    const { stdout } = await dbguard(ctx, ['backup', '--db', ctx.pg!.url(BENCH_DB), '--dir', dir, '--label', kind, ...compress, '--json'], env);
    fixtures.set(kind, JSON.parse(stdout) as { id: string; file: string });
  }
  return { ...fixtures.get(kind)!, dir };
}

let restoreCount = 0;
/** Runs `fn` with the name of a database that does not exist yet (the restore creates it) and drops it after. */
async function withFreshDatabaseName<T>(pgc: Pg, fn: (db: string) => Promise<T>): Promise<T> {
  const db = `restored_${++restoreCount}`;
  try {
    return await fn(db);
  } finally {
    await pgc.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

function pgRestoreCase(name: string, kind: 'plain' | 'age'): Case {
  return {
    name,
    needs: 'pg',
    async run(ctx) {
      const pgc = ctx.pg!;
      const { id, file, dir } = await fixture(ctx, kind);
      const identityEnv = kind === 'age' ? { DBGUARD_AGE_IDENTITY_FILE: ctx.age.identityFile } : {};
      const fresh = <T>(fn: (db: string) => Promise<T>) => withFreshDatabaseName(pgc, fn);
      const source = `${kind === 'age' ? `age -d -i ${sh(ctx.age.identityFile)} ${sh(file)} | zstd -dc` : `zstd -dc ${sh(file)}`} | `;
      const rawLabel = `createdb + ${kind === 'age' ? 'age -d | ' : ''}zstd -d | pg_restore --single-transaction`;
      const ms = await measure(ctx, [
        {
          label: rawLabel,
          tool: 'raw',
          run: () => fresh((db) => raw(ctx, `${tool(ctx, 'createdb')} ${db} && ${source}${tool(ctx, 'pg_restore')} --single-transaction -d ${db}`)),
        },
        {
          label: 'dbguard restore --yes --to <new db>',
          tool: 'dbguard',
          run: () => fresh((db) => dbguard(ctx, ['restore', id, '--yes', '--to', pgc.url(db), '--dir', dir, '--json'], identityEnv)),
        },
      ]);
      const title = kind === 'age' ? 'PostgreSQL restore of an age-encrypted backup (decrypted in the pipeline)' : 'PostgreSQL restore into a new database';
      const ratios = [ratio(ms, 'dbguard restore --yes --to <new db>', rawLabel, pgTarget(ctx))];
      return { name, title, inputMB: pgc.bytes / MB, measurements: ms, ratios, notes: [] };
    },
  };
}

/**
 * A --jobs case: the serial and the parallel runs of the raw tool and of dbguard, interleaved. The target is dbguard
 * against the raw tool with the same jobs; the two serial ratios are the gain of parallelism, raw and ours.
 */
async function jobsResult(
  ctx: Context,
  name: string,
  title: string,
  runs: { serialRaw: Variant; parallelRaw: Variant; serial: Variant; parallel: Variant },
): Promise<CaseResult> {
  const { serialRaw, parallelRaw, serial, parallel } = runs;
  const ms = await measure(ctx, [serialRaw, parallelRaw, serial, parallel]);
  return {
    name,
    title,
    inputMB: ctx.pg!.bytes / MB,
    measurements: ms,
    ratios: [ratio(ms, parallel.label, parallelRaw.label, MAX_105), ratio(ms, parallel.label, serial.label), ratio(ms, parallelRaw.label, serialRaw.label)],
    notes: [`${os.availableParallelism()} cores; the ratios against the serial runs are the gain of --jobs.`],
  };
}

/** Parallel backup: pg_dump's directory format with jobs. */
const pgBackupJobsCase: Case = {
  name: 'pg-backup-jobs',
  needs: 'pg',
  run(ctx) {
    const url = ctx.pg!.url(BENCH_DB);
    return jobsResult(ctx, 'pg-backup-jobs', `PostgreSQL backup with ${JOBS} parallel jobs (directory format, stored as one tar), pg_dump's gzip`, {
      serialRaw: { label: 'pg_dump -Fc -f file', tool: 'raw', run: () => rawToFile(ctx, (out) => `${tool(ctx, 'pg_dump')} -Fc -f ${out} ${BENCH_DB}`) },
      parallelRaw: { label: `pg_dump -Fd -j ${JOBS} -f dir`, tool: 'raw', run: () => rawToFile(ctx, (out) => `${tool(ctx, 'pg_dump')} -Fd -j ${JOBS} -f ${out} ${BENCH_DB}`) },
      serial: { label: 'dbguard backup --compress gzip', tool: 'dbguard', run: () => dbguardBackup(ctx, url, ['--compress', 'gzip']) },
      parallel: { label: `dbguard backup --compress gzip --jobs ${JOBS}`, tool: 'dbguard', run: () => dbguardBackup(ctx, url, ['--compress', 'gzip', '--jobs', String(JOBS)]) },
    });
  },
};

/** Parallel restore into a new database, from the serial fixture (pg_restore -j reads a custom-format file). */
const pgRestoreJobsCase: Case = {
  name: 'pg-restore-jobs',
  needs: 'pg',
  async run(ctx) {
    const pgc = ctx.pg!;
    const { id, file, dir } = await fixture(ctx, 'gzip');
    const fresh = <T>(fn: (db: string) => Promise<T>) => withFreshDatabaseName(pgc, fn);
    const restoreWith = (db: string, extra: string) => raw(ctx, `${tool(ctx, 'createdb')} ${db} && ${tool(ctx, 'pg_restore')} ${extra} -d ${db} ${sh(file)}`);
    const dbguardRestore = (db: string, extra: string[]) => dbguard(ctx, ['restore', id, '--yes', ...extra, '--to', pgc.url(db), '--dir', dir, '--json']);
    return jobsResult(ctx, 'pg-restore-jobs', `PostgreSQL restore into a new database with ${JOBS} parallel jobs`, {
      serialRaw: { label: 'createdb + pg_restore --single-transaction', tool: 'raw', run: () => fresh((db) => restoreWith(db, '--single-transaction')) },
      parallelRaw: { label: `createdb + pg_restore -j ${JOBS}`, tool: 'raw', run: () => fresh((db) => restoreWith(db, `-j ${JOBS}`)) },
      serial: { label: 'dbguard restore --to <new db>', tool: 'dbguard', run: () => fresh((db) => dbguardRestore(db, [])) },
      parallel: { label: `dbguard restore --jobs ${JOBS} --to <new db>`, tool: 'dbguard', run: () => fresh((db) => dbguardRestore(db, ['--jobs', String(JOBS)])) },
    });
  },
};

const verifyCase: Case = {
  name: 'pg-verify',
  needs: 'pg',
  async run(ctx) {
    const pgc = ctx.pg!;
    const { id, file, dir } = await fixture(ctx, 'gzip');
    const rawLabel = 'createdb + pg_restore + dropdb (same work)';
    const ms = await measure(ctx, [
      {
        label: rawLabel,
        tool: 'raw',
        run: () => raw(ctx, `${tool(ctx, 'createdb')} scratch && ${tool(ctx, 'pg_restore')} --single-transaction -d scratch ${sh(file)} && ${tool(ctx, 'dropdb')} scratch`),
      },
      { label: 'dbguard verify --restore-test', tool: 'dbguard', run: () => dbguard(ctx, ['verify', id, '--restore-test', '--db', pgc.url(BENCH_DB), '--dir', dir, '--json']) },
    ]);
    return {
      name: 'pg-verify',
      title: 'dbguard verify --restore-test (checksum, pg_restore --list, restore into a scratch database, row counts, drop)',
      inputMB: pgc.bytes / MB,
      measurements: ms,
      ratios: [ratio(ms, 'dbguard verify --restore-test', rawLabel)],
      notes: [],
    };
  },
};

/** Folds the WAL back into the database file, so every run starts from the same file. */
function checkpoint(file: string): void {
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function sqliteVariants(ctx: Context, timeoutMs?: number): Variant[] {
  const file = ctx.sqlite!.file;
  return [
    { label: 'cp + sync', tool: 'raw', run: () => rawToFile(ctx, (out) => `cp ${sh(file)} ${out} && sync ${out}`) },
    { label: 'sqlite3 .backup + sync', tool: 'raw', run: () => rawToFile(ctx, (out) => `sqlite3 ${sh(file)} ".backup ${out}" && sync ${out}`, timeoutMs) },
    {
      label: 'sqlite3 .backup, zstd -3 -T0, sync',
      tool: 'raw',
      run: () => {
        const snapshot = sh(path.join(ctx.work, 'raw-snapshot.db'));
        return rawToFile(ctx, (out) => `sqlite3 ${sh(file)} ".backup ${snapshot}" && zstd -3 -T0 -q --rm ${snapshot} -o ${out} && sync ${out}`, timeoutMs);
      },
    },
    { label: 'dbguard --compress none', tool: 'dbguard', run: () => dbguardBackup(ctx, file, ['--compress', 'none']) },
    { label: 'dbguard (zstd)', tool: 'dbguard', run: () => dbguardBackup(ctx, file, []) },
  ];
}

/** The checksum pass is the floor of an uncompressed backup (1.8x); compressed, the same two passes as by hand. */
function sqliteRatios(ms: Measurement[]): Ratio[] {
  const pairs: Array<[string, string, Ratio['target']?]> = [
    ['dbguard --compress none', 'sqlite3 .backup + sync', { kind: 'max', value: 1.8 }],
    ['dbguard (zstd)', 'sqlite3 .backup, zstd -3 -T0, sync', { kind: 'max', value: 1.2 }],
    ['dbguard --compress none', 'cp + sync'],
    ['dbguard (zstd)', 'cp + sync'],
  ];
  const has = (label: string) => ms.some((m) => m.label === label);
  return pairs.filter(([a, b]) => has(a) && has(b)).map(([a, b, target]) => ratio(ms, a, b, target));
}

const sqliteIdleCase: Case = {
  name: 'sqlite-backup',
  needs: 'sqlite',
  async run(ctx) {
    const ms = await measure(ctx, sqliteVariants(ctx), (variant) => {
      checkpoint(ctx.sqlite!.file);
      return variant.run();
    });
    return { name: 'sqlite-backup', title: 'SQLite backup, idle database', inputMB: ctx.sqlite!.bytes / MB, measurements: ms, ratios: sqliteRatios(ms), notes: [] };
  },
};

/** Starts the writer; `rate(from, to)` is its transactions/s between two epoch-ms instants. */
async function startWriter(file: string): Promise<{ child: ChildProcess; rate(from: number, to: number): number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  running.add(child);
  const ticks: Array<[number, number]> = [];
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the SQLite writer exited (${code}) before writing`)));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop()!;
      for (const line of lines) ticks.push(line.split(' ').map(Number) as [number, number]);
      resolve();
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    rate(from, to) {
      const inside = ticks.filter(([t]) => t >= from && t <= to);
      if (inside.length < 2) return NaN;
      const [t0, n0] = inside[0]!;
      const [t1, n1] = inside[inside.length - 1]!;
      return ((n1 - n0) / (t1 - t0)) * 1000;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        running.delete(child);
      }),
  };
}

const IDLE_WINDOW_MS = 2000;
const sqliteWriterCase: Case = {
  name: 'sqlite-backup-writer',
  needs: 'sqlite',
  async run(ctx) {
    const file = ctx.sqlite!.file;
    // sqlite3 .backup restarts whenever another connection writes: it may never finish.
    const timeoutMs = 30_000 * Math.max(1, ctx.scale / 20);
    // .backup restarts under the writer and times out: once is enough (not again before zstd).
    const variants = sqliteVariants(ctx, timeoutMs).filter((v) => !v.label.includes('zstd -3 -T0'));
    const ms = await measure(ctx, variants, async (variant) => {
      checkpoint(file);
      const writer = await startWriter(file);
      try {
        const idleFrom = Date.now();
        await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
        const from = Date.now();
        const sample = await variant.run();
        const to = Date.now();
        return { ...sample, writer: { idle: writer.rate(idleFrom, from), during: writer.rate(from, to) } };
      } finally {
        await writer.stop();
      }
    });
    const ratios = sqliteRatios(ms);
    for (const m of ms) if (m.writer) ratios.push({ name: `writer throughput kept during ${m.label}`, value: m.writer.kept, best: NaN, target: m.tool === 'dbguard' ? { kind: 'min', value: 0.8 } : undefined });
    const notes = ms.filter((m) => m.timedOut > 0).map((m) => `${m.label} did not finish within ${timeoutMs / 1000} s in ${m.timedOut} of ${m.seconds.length} runs (killed; the timeout is counted as its time).`);
    return { name: 'sqlite-backup-writer', title: 'SQLite backup while another process writes without pause', inputMB: ctx.sqlite!.bytes / MB, measurements: ms, ratios, notes };
  },
};

const startupCase: Case = {
  name: 'startup',
  needs: 'none',
  async run(ctx) {
    const ms = await measure({ ...ctx, runs: Math.max(ctx.runs, 5) }, [
      { label: 'node -e 0', tool: 'raw', run: () => raw(ctx, `${sh(process.execPath)} -e 0`) },
      { label: 'dbguard --version', tool: 'dbguard', run: () => dbguard(ctx, ['--version']) },
      // Loads the backup command's modules (engines, pipeline, config) and does nothing else.
      { label: 'dbguard backup --help', tool: 'dbguard', run: () => dbguard(ctx, ['backup', '--help']) },
    ]);
    const ratios = [ratio(ms, 'dbguard --version', 'node -e 0'), ratio(ms, 'dbguard backup --help', 'node -e 0')];
    return { name: 'startup', title: 'CLI start-up (a fixed cost in every command)', inputMB: 0, measurements: ms, ratios, notes: [] };
  },
};

/**
 * Personal-data export of one user owning ~1 M rows (600 k posts, 400 k anonymous comments on them, through a second
 * foreign-key step) among other users' rows, against the raw tool writing the same rows as JSON lines.
 */
const EXPORT_POSTS = 600_000;
const EXPORT_COMMENTS = 400_000;
const EXPORT_OTHERS = 100_000;
const EXPORT_SCHEMA = `
  CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, password_hash text);
  CREATE TABLE posts (id integer PRIMARY KEY, user_id integer NOT NULL REFERENCES users(id), title text, body text, created_at text);
  CREATE TABLE comments (id integer PRIMARY KEY, post_id integer NOT NULL REFERENCES posts(id), user_id integer REFERENCES users(id), body text);
  CREATE INDEX posts_user ON posts(user_id);
  CREATE INDEX comments_post ON comments(post_id);
  CREATE INDEX comments_user ON comments(user_id);`;
const exportData = (series: (n: number) => string) => `
  INSERT INTO users SELECT i, 'user' || i || '@example.com', 'hash' || i FROM ${series(1000)};
  INSERT INTO posts SELECT i, CASE WHEN i <= ${EXPORT_POSTS} THEN 1 ELSE 2 + i % 999 END, 'Post ' || i,
    'body of post ' || i || ' with some words to make a realistic row, about one hundred bytes long.', '2024-01-01T00:00:00Z'
    FROM ${series(EXPORT_POSTS + EXPORT_OTHERS)};
  INSERT INTO comments SELECT i, 1 + i % ${EXPORT_POSTS}, CASE WHEN i <= ${EXPORT_COMMENTS} THEN NULL ELSE 2 + i % 999 END, 'comment ' || i
    FROM ${series(EXPORT_COMMENTS + EXPORT_OTHERS)};`;

function exportCase(engine: 'pg' | 'sqlite'): Case {
  const name = `export-${engine === 'pg' ? 'pg' : 'sqlite'}`;
  return {
    name,
    needs: engine,
    async run(ctx) {
      let db: string;
      let rawCommand: (out: string) => string;
      if (engine === 'pg') {
        const pgc = ctx.pg!;
        await pgc.query('DROP DATABASE IF EXISTS export_bench');
        await pgc.query('CREATE DATABASE export_bench');
        await pgc.query(EXPORT_SCHEMA + exportData((n) => `generate_series(1, ${n}) i`), 'export_bench');
        await pgc.query('VACUUM ANALYZE', 'export_bench');
        db = pgc.url('export_bench');
        rawCommand = (out) =>
          `${tool(ctx, 'psql')} -qAt -d export_bench -c "COPY (SELECT row_to_json(p) FROM posts p WHERE user_id = 1) TO STDOUT" > ${out} && ` +
          `${tool(ctx, 'psql')} -qAt -d export_bench -c "COPY (SELECT row_to_json(c) FROM comments c WHERE c.user_id IS NULL AND c.post_id IN (SELECT id FROM posts WHERE user_id = 1)) TO STDOUT" >> ${out}`;
      } else {
        db = path.join(ctx.work, 'export.db');
        rmSync(db, { force: true });
        const sqlite = new Database(db);
        sqlite.exec(EXPORT_SCHEMA + exportData((n) => `(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s)`) + ' ANALYZE;');
        sqlite.close();
        rawCommand = (out) =>
          `sqlite3 -json ${sh(db)} "SELECT * FROM posts WHERE user_id = 1; SELECT * FROM comments WHERE user_id IS NULL AND post_id IN (SELECT id FROM posts WHERE user_id = 1);" > ${out}`;
      }
      const dir = path.join(ctx.work, 'exports');
      const run = async (extra: string[]) => {
        const sample = await dbguard(ctx, ['export', '--subject', 'users=1', '--db', db, '--dir', dir, '--json', ...extra]);
        const manifest = JSON.parse(sample.stdout) as { size: number; tables: Record<string, number> };
        const rows = Object.values(manifest.tables).reduce((a, b) => a + b, 0);
        if (rows !== 1 + EXPORT_POSTS + EXPORT_COMMENTS) throw new Error(`the export holds ${rows} rows`);
        rmSync(dir, { recursive: true, force: true });
        return { ...sample, outputBytes: manifest.size };
      };
      const rawLabel = engine === 'pg' ? 'psql COPY row_to_json' : 'sqlite3 -json';
      const ms = await measure(ctx, [
        { label: rawLabel, tool: 'raw', run: () => rawToFile(ctx, rawCommand) },
        { label: 'dbguard export (zstd)', tool: 'dbguard', run: () => run([]) },
        { label: 'dbguard export --format ndjson --compress none', tool: 'dbguard', run: () => run(['--format', 'ndjson', '--compress', 'none']) },
      ]);
      if (engine === 'pg') await ctx.pg!.query('DROP DATABASE IF EXISTS export_bench');
      else rmSync(db, { force: true });
      const peak = Math.max(...ms.filter((m) => m.tool === 'dbguard').map((m) => m.rssMB ?? 0));
      return {
        name,
        title: `Personal-data export of one subject owning ${(1 + EXPORT_POSTS + EXPORT_COMMENTS).toLocaleString('en')} rows (${engine === 'pg' ? 'PostgreSQL' : 'SQLite'})`,
        inputMB: 0,
        measurements: ms,
        ratios: [ratio(ms, 'dbguard export (zstd)', rawLabel), ratio(ms, 'dbguard export --format ndjson --compress none', rawLabel)],
        notes: [`Peak RSS of dbguard: ${peak.toFixed(0)} MB (target: at most 150 MB, flat in the number of rows).`],
      };
    },
  };
}
/** A backup with its copy to a bucket (s3rver on loopback), and one streamed straight to it, against a local one. */
const pgRemoteCase: Case = {
  name: 'pg-backup-remote',
  needs: 'pg',
  async run(ctx) {
    const { startS3 } = await import('../test/harness/s3.js');
    const s3 = await startS3();
    try {
      const env = { ...s3.env('bench'), DBGUARD_S3_ENDPOINT: s3.directEndpoint };
      const db = ctx.pg!.url(BENCH_DB);
      const local = 'dbguard backup --compress zstd (local only)';
      const copy = 'dbguard backup --compress zstd + remote copy';
      const only = 'dbguard backup --compress zstd --remote-only';
      const ms = await measure(ctx, [
        { label: local, tool: 'dbguard', run: () => dbguardBackup(ctx, db, ['--compress', 'zstd', '--no-remote']) },
        { label: copy, tool: 'dbguard', run: () => dbguardBackup(ctx, db, ['--compress', 'zstd', '--no-prune'], env) },
        { label: only, tool: 'dbguard', run: () => dbguardBackup(ctx, db, ['--compress', 'zstd', '--remote-only', '--no-prune'], env) },
      ]);
      const notes = ['s3rver (a Node.js S3 server) on the same 2-core machine: its own CPU use competes with the backup.'];
      return { name: 'pg-backup-remote', title: 'PostgreSQL backup copied to S3 (s3rver on loopback)', inputMB: ctx.pg!.bytes / MB, measurements: ms, ratios: [ratio(ms, copy, local), ratio(ms, only, local)], notes };
    } finally {
      await s3.stop();
    }
  },
};

/** CPU seconds (user + system) and peak RSS of a running process, from /proc. */
function procUsage(pid: number): { cpuSeconds: number; peakMB: number; rssMB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from the 3rd field (state) on
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuSeconds: ticks / CLOCK_TICKS, peakMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const IDLE_SECONDS = 60;

/** `dbguard serve` with three scheduled databases (backed up already, so nothing is due) left alone for a minute. */
const serveIdleCase: Case = {
  name: 'serve-idle',
  needs: 'none',
  async run(ctx) {
    const dir = path.join(ctx.work, 'serve-idle');
    mkdirSync(dir, { recursive: true });
    const databases: Record<string, unknown> = {};
    for (const name of ['app', 'audit', 'queue']) {
      const db = new Database(path.join(dir, `${name}.db`));
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES (\'x\'), (\'y\')');
      db.close();
      databases[name] = { url: `file:./${name}.db`, schedule: '0 3 1 1 *', verify: '0 4 1 1 *', maxAge: '400d' };
    }
    writeFileSync(path.join(dir, 'dbguard.config.json'), JSON.stringify({ databases }));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('DBGUARD_')));
    for (const name of Object.keys(databases)) execFileSync(process.execPath, [ctx.cli, 'backup', '--database', name], { cwd: dir, env, stdio: 'ignore' });
    const samples: Array<{ cpuSeconds: number; peakMB: number; rssMB: number; startCpu: number; firstMinute: number }> = [];
    for (let i = 0; i < ctx.runs; i++) {
      const child = spawn(process.execPath, [ctx.cli, 'serve', '--listen', '127.0.0.1:0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
      running.add(child);
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (out.includes('"serve.ready"')) resolve();
        });
        child.once('close', () => reject(new Error(`serve exited before it was ready:\n${out}`)));
      });
      const ready = procUsage(child.pid!);
      // The first minute after start-up includes one-time settling (reported as a note); the second is the steady state.
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const start = procUsage(child.pid!);
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const end = procUsage(child.pid!);
      if (/"backup\.start"|"verify\.start"/.test(out)) throw new Error(`serve ran a job while it should have been idle:\n${out}`);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      running.delete(child);
      samples.push({ cpuSeconds: end.cpuSeconds - start.cpuSeconds, peakMB: end.peakMB, rssMB: end.rssMB, startCpu: ready.cpuSeconds, firstMinute: start.cpuSeconds - ready.cpuSeconds });
      process.stderr.write(`  serve idle ${IDLE_SECONDS} s: ${samples.at(-1)!.cpuSeconds.toFixed(2)} CPU s, RSS ${end.rssMB.toFixed(0)} MB (peak ${end.peakMB.toFixed(0)})\n`);
    }
    const cpu = samples.map((s) => s.cpuSeconds);
    const peak = Math.max(...samples.map((s) => s.peakMB));
    const measurements: Measurement[] = [
      { label: `dbguard serve, ${IDLE_SECONDS} s idle (CPU seconds)`, tool: 'dbguard', seconds: cpu, median: median(cpu), rssMB: peak, outputMB: null, timedOut: 0 },
    ];
    const ratios: Ratio[] = [
      { name: `CPU seconds used in ${IDLE_SECONDS} s idle`, value: median(cpu), best: Math.min(...cpu), target: { kind: 'max', value: 0.1 } },
      { name: 'peak RSS (MB)', value: peak, best: Math.min(...samples.map((s) => s.peakMB)), target: { kind: 'max', value: 120 } },
    ];
    const notes = [
      `Three SQLite databases scheduled (backup and verify), each backed up beforehand so no run is due. The times column is CPU seconds (user + system, from /proc) over the second ${IDLE_SECONDS} s after start-up; the first ${IDLE_SECONDS} s took ${median(samples.map((s) => s.firstMinute)).toFixed(2)} CPU s (one-time settling after start-up, not profiled further), start-up itself ${median(samples.map((s) => s.startCpu)).toFixed(2)} CPU s. RSS from VmHWM (peak).`,
    ];
    return { name: 'serve-idle', title: `dbguard serve idle for ${IDLE_SECONDS} s with three scheduled databases`, inputMB: 0, measurements, ratios, notes };
  },
};

/** The agent hook runs before every shell command an AI agent types: its whole process is the cost. */
const guardHookCase: Case = {
  name: 'guard-hook',
  needs: 'none',
  async run(ctx) {
    const project = path.join(ctx.work, 'hook-project');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', scripts: { build: 'tsc -b', 'db:reset': 'prisma migrate reset --force', 'db:fresh': 'npm run db:reset && npm run seed' } }));
    const event = (command: string) => JSON.stringify({ session_id: 's', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command }, cwd: project });
    const hook = (label: string, command: string): Variant => ({ label, tool: 'dbguard', run: () => dbguard(ctx, ['guard', 'hook', 'claude'], {}, { cwd: project, input: event(command) }) });
    const ms = await measure({ ...ctx, runs: Math.max(ctx.runs, 20) }, [
      { label: 'node -e 0', tool: 'raw', run: () => raw(ctx, `${sh(process.execPath)} -e 0`) },
      hook('hook claude: ls -la', 'ls -la'),
      hook('hook claude: psql -c "DELETE ... WHERE"', `psql -d app -c "DELETE FROM users WHERE id = 3"`),
      hook('hook claude: sqlite3 "DELETE ... WHERE"', `sqlite3 prisma/dev.db "DELETE FROM User WHERE id = 3"`),
      hook('hook claude: npm run db:fresh', 'npm run db:fresh'),
      { label: 'guard check -- git status', tool: 'dbguard', run: () => dbguard(ctx, ['guard', 'check', '--', 'git status'], {}, { cwd: project }) },
    ]);
    // The issue's budgets are 100 ms (no SQL) and 150 ms (SQL, package.json scripts) where `node -e 0` takes 50 ms:
    // as ratios to node's own start-up they hold on a busy machine too.
    const budgets: Record<string, number> = { 'hook claude: ls -la': 100, 'guard check -- git status': 100, 'hook claude: psql -c "DELETE ... WHERE"': 150, 'hook claude: sqlite3 "DELETE ... WHERE"': 150, 'hook claude: npm run db:fresh': 150 };
    const ratios = ms.filter((m) => m.tool === 'dbguard').map((m) => ratio(ms, m.label, 'node -e 0', { kind: 'max', value: budgets[m.label]! / 50 }));
    const node = ms.find((m) => m.label === 'node -e 0')!.median;
    const notes = [`Budgets as ratios to \`node -e 0\` (50 ms on an idle machine): ${Object.entries(budgets).map(([label, b]) => `${label} ≤ ${b} ms`).join(', ')}. Here \`node -e 0\` took ${(node * 1000).toFixed(0)} ms.`];
    return { name: 'guard-hook', title: 'Guard hook and check: one process per shell command an agent runs', inputMB: 0, measurements: ms, ratios, notes };
  },
};


const PITR_LOAD_SECONDS = 30;
const PITR_MAX_LAG_S = 10;

/** Newest moment the WAL archive of `dir` recovers to (what `pitr status` reads), as epoch ms. */
function archiveNewest(walDir: string): number | null {
  let newest: number | null = null;
  for (const name of readdirSync(walDir).filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
    try {
      const at = (JSON.parse(readFileSync(path.join(walDir, name), 'utf8')) as { coverage: { at: string } | null }).coverage?.at;
      if (at && (newest === null || Date.parse(at) > newest)) newest = Date.parse(at);
    } catch {
      // replaced while read
    }
  }
  return newest;
}

/**
 * Point-in-time recovery: serve ships the WAL while pgbench writes at full speed (is the lag kept under maxLag?), then
 * `restore --at` of the end of the load into a new database against a plain restore of a backup of the same data.
 */
const pitrCase: Case = {
  name: 'pg-pitr',
  needs: 'pg',
  async run(ctx) {
    const pgc = ctx.pg!;
    const project = path.join(ctx.work, 'pitr-project');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'dbguard.config.json'), JSON.stringify({ databases: { bench: { url: '${BENCH_URL}', pitr: { maxLag: `${PITR_MAX_LAG_S}s` } } } }));
    const env = { BENCH_URL: pgc.url(BENCH_DB) };
    const enable = await dbguard(ctx, ['pitr', 'enable', '--database', 'bench', '--json'], env, { cwd: project });
    const walDir = path.join(project, 'backups', 'wal', 'bench');
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('DBGUARD_')));
    const child = spawn(process.execPath, [ctx.cli, 'serve', '--listen', '127.0.0.1:0'], { cwd: project, env: { ...base, DBGUARD_PG_BINDIR: pgc.bin, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    running.add(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const lsn = async () => BigInt((await pgc.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS b")).rows[0].b as string);
    const heldBack = async () =>
      Number((await pgc.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = 'dbguard_bench'")).rows[0]?.b ?? 0);
    const stopServe = async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('close', r)));
      running.delete(child);
    };
    try {
      for (let i = 0; i < 600 && !out.includes('"pitr.streaming"'); i++) await new Promise((r) => setTimeout(r, 100));
      const walBefore = await lsn();
      const pgbench = spawn(path.join(pgc.bin, 'pgbench'), ['-T', String(PITR_LOAD_SECONDS), '-c', '2', '-j', '2', BENCH_DB], { env: pgc.env, stdio: 'ignore' });
      const lags: number[] = [];
      const held: number[] = [];
      const loadDone = new Promise((resolve) => pgbench.once('close', resolve));
      let loading = true;
      void loadDone.then(() => (loading = false));
      while (loading) {
        await new Promise((r) => setTimeout(r, 1000));
        const newest = existsSync(walDir) ? archiveNewest(walDir) : null;
        if (newest !== null) lags.push((Date.now() - newest) / 1000);
        held.push(await heldBack());
      }
      const walBytes = Number((await lsn()) - walBefore);
      await new Promise((r) => setTimeout(r, 300));
      const at = new Date();
      await new Promise((r) => setTimeout(r, 300));
      await pgc.query('SELECT 1', BENCH_DB); // nothing after `at`: recovery replays to the end of the WAL
      for (let i = 0; i < 300 && (archiveNewest(walDir) ?? 0) < at.getTime(); i++) await new Promise((r) => setTimeout(r, 200));
      const serveUsage = procUsage(child.pid!);
      // serve stops before the restores: they write the whole database again, and its WAL is no part of this load.
      await stopServe();
      await pgc.query("SELECT pg_drop_replication_slot('dbguard_bench')");
      const segments = (out.match(/"pitr\.segment"/g) ?? []).length;
      const stored = readdirSync(walDir).filter((n) => n.includes('.wal')).reduce((sum, n) => sum + statSync(path.join(walDir, n)).size, 0);
      const fixtureBackup = await dbguard(ctx, ['backup', '--database', 'bench', '--json'], env, { cwd: project });
      const { id } = JSON.parse(fixtureBackup.stdout) as { id: string };
      const fresh = <T>(fn: (db: string) => Promise<T>) => withFreshDatabaseName(pgc, fn);
      const ms = await measure({ ...ctx, runs: Math.min(ctx.runs, 2) }, [
        { label: 'dbguard restore <backup> --to <new db>', tool: 'dbguard', run: () => fresh((db) => dbguard(ctx, ['restore', id, '--yes', '--to', pgc.url(db), '--json'], env, { cwd: project })) },
        {
          label: 'dbguard restore --at <end of load> --to <new db>',
          tool: 'dbguard',
          run: () => fresh((db) => dbguard(ctx, ['restore', '--database', 'bench', '--at', at.toISOString(), '--yes', '--to', pgc.url(db), '--json'], env, { cwd: project })),
        },
      ]);
      const maxLag = Math.max(...lags);
      const ratios: Ratio[] = [
        { name: `max lag while pgbench writes (s; maxLag ${PITR_MAX_LAG_S})`, value: maxLag, best: median(lags), target: { kind: 'max', value: PITR_MAX_LAG_S } },
        ratio(ms, 'dbguard restore --at <end of load> --to <new db>', 'dbguard restore <backup> --to <new db>'),
        { name: 'serve peak RSS while shipping (MB)', value: serveUsage.peakMB, best: serveUsage.peakMB, target: { kind: 'max', value: 150 } },
        { name: 'WAL stored / WAL written', value: stored / Math.max(1, walBytes), best: stored / Math.max(1, walBytes) },
        { name: 'WAL the slot held back on the server while pgbench writes (MB, max; median as best)', value: Math.max(...held) / MB, best: median(held) / MB },
      ];
      const notes = [
        `pgbench -c 2 -j 2 for ${PITR_LOAD_SECONDS} s at full speed while serve shipped the WAL: ${(walBytes / MB).toFixed(0)} MB of WAL written, ${segments} segments shipped, stored ${(stored / MB).toFixed(1)} MB (zstd 3). Lag sampled every second from the archive: median ${median(lags).toFixed(1)} s, max ${maxLag.toFixed(1)} s (the ratio's "best" column is the median).`,
        `pitr enable (checks, slot, first base backup of the whole server, zstd): ${enable.seconds.toFixed(1)} s. restore --at = unpack the base backup + replay the WAL in a temporary server + pg_dump + the usual restore; both restores run after serve stopped. serve's peak RSS is VmHWM over its whole life (start-up, ${segments} segments and the segment in progress shipped every ${Math.max(0.5, PITR_MAX_LAG_S / 4)} s); it used ${serveUsage.cpuSeconds.toFixed(1)} CPU s in all (user + system).`,
      ];
      return { name: 'pg-pitr', title: 'Point-in-time recovery: WAL shipping under pgbench, and restore --at', inputMB: pgc.bytes / MB, measurements: ms, ratios, notes };
    } finally {
      await stopServe();
      await pgc.query("SELECT pg_drop_replication_slot('dbguard_bench')").catch(() => {});
    }
  },
};

/** The dump tool's options dbguard uses, so both sides dump the same. */
const MYSQL_DUMP_OPTIONS = '--single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4 --no-tablespaces';

const mysqlBackupCase: Case = {
  name: 'mysql-backup',
  needs: 'mysql',
  async run(ctx) {
    const my = ctx.mysql!;
    const rawLabel = 'mariadb-dump | zstd -3';
    const ms = await measure(ctx, [
      { label: rawLabel, tool: 'raw', run: () => rawToFile(ctx, (out) => `mariadb-dump ${my.args} ${MYSQL_DUMP_OPTIONS} ${BENCH_DB} | zstd -3 -T1 -q -o ${out} && sync ${out}`) },
      { label: 'dbguard backup', tool: 'dbguard', run: () => dbguardBackup(ctx, my.url(BENCH_DB), []) },
      { label: 'dbguard backup --no-nice', tool: 'dbguard', run: () => dbguardBackup(ctx, my.url(BENCH_DB), ['--no-nice']) },
    ]);
    const ratios = [ratio(ms, 'dbguard backup', rawLabel, MAX_105), ratio(ms, 'dbguard backup --no-nice', rawLabel)];
    const notes = ['dbguard runs at nice +10 by default (so the application keeps the CPU): on a busy machine that alone makes it slower than the raw pipe; `--no-nice` shows the cost of the pipeline itself (row counting, zstd, sha256).'];
    return { name: 'mysql-backup', title: 'MariaDB backup, zstd level 3', inputMB: my.bytes / MB, measurements: ms, ratios, notes };
  },
};

let mysqlRestoreCount = 0;
const mysqlRestoreCase: Case = {
  name: 'mysql-restore',
  needs: 'mysql',
  async run(ctx) {
    const my = ctx.mysql!;
    const dir = path.join(ctx.work, 'mysql-fixtures');
    const { id, file } = JSON.parse((await dbguard(ctx, ['backup', '--db', my.url(BENCH_DB), '--dir', dir, '--json'])).stdout) as { id: string; file: string };
    const fresh = async <T>(fn: (db: string) => Promise<T>): Promise<T> => {
      const db = `restored_${++mysqlRestoreCount}`;
      try {
        return await fn(db);
      } finally {
        await my.query(`DROP DATABASE IF EXISTS ${db}`);
      }
    };
    const rawLabel = 'CREATE DATABASE + zstd -d | mariadb';
    const ms = await measure(ctx, [
      { label: rawLabel, tool: 'raw', run: () => fresh((db) => raw(ctx, `mariadb ${my.args} -e 'CREATE DATABASE ${db}' && zstd -dc ${sh(file)} | mariadb ${my.args} ${db}`)) },
      { label: 'dbguard restore --yes --to <new db>', tool: 'dbguard', run: () => fresh((db) => dbguard(ctx, ['restore', id, '--yes', '--to', my.url(db), '--dir', dir, '--json'])) },
    ]);
    const notes = [
      'dbguard loads into a scratch database, checks its row counts and swaps the tables in with one RENAME TABLE: the same load as the raw pipe, plus the checks.',
    ];
    return { name: 'mysql-restore', title: 'MariaDB restore into a new database', inputMB: my.bytes / MB, measurements: ms, ratios: [ratio(ms, 'dbguard restore --yes --to <new db>', rawLabel, MAX_105)], notes };
  },
};

export const CASES: Case[] = [
  startupCase,
  serveIdleCase,
  guardHookCase,
  pgBackupCase('pg-backup', "PostgreSQL backup, each tool's default (dbguard: zstd 3 around pg_dump -Z0; pg_dump: gzip 6 inside the archive)", 'dbguard backup', [], 'pg_dump -Fc -f file', (ctx, out) => `${tool(ctx, 'pg_dump')} -Fc -f ${out} ${BENCH_DB}`),
  pgBackupCase('pg-backup-zstd', "PostgreSQL backup, zstd level 3 (dbguard's default) against the same pipe by hand", 'dbguard backup --compress zstd', ['--compress', 'zstd'], 'pg_dump -Fc -Z0 | zstd -3', (ctx, out) => `${tool(ctx, 'pg_dump')} -Fc -Z0 ${BENCH_DB} | zstd -3 -T1 -q -o ${out} && sync ${out}`),
  pgBackupCase('pg-backup-age', 'PostgreSQL backup encrypted with age (default compression: zstd)', 'dbguard backup (age)', [], 'pg_dump -Fc -Z0 | zstd -3 | age -r', (ctx, out) => `${tool(ctx, 'pg_dump')} -Fc -Z0 ${BENCH_DB} | zstd -3 -T1 -q | age -r ${ctx.age.recipient} -o ${out} && sync ${out}`, true),
  pgRestoreCase('pg-restore', 'plain'),
  pgRestoreCase('pg-restore-age', 'age'),
  pgBackupJobsCase,
  pgRestoreJobsCase,
  verifyCase,
  sqliteIdleCase,
  sqliteWriterCase,
  exportCase('pg'),
  exportCase('sqlite'),
  pgRemoteCase,
  pitrCase,
  mysqlBackupCase,
  mysqlRestoreCase,
];
