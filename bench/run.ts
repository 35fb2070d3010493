/**
 * npm run bench [-- --scale <n>] [--runs <n>] [--only <case,case|prefix|=case>]
 * Generates the data, runs each case `runs` times, writes bench/results/latest.{json,md}. Set DBGUARD_BENCH_CLI to
 * benchmark another build of the CLI than dist/cli/main.js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASES, type CaseResult, type Context } from './cases.js';
import { findPgBinDir } from '../test/harness/postgres.js';
import { BENCH_DB, type Mysql, type Pg, createMysqlData, createPgData, createSqliteData, startMysql, startPg } from './data.js';
import { killGroup, runDbguard, running } from './measure.js';
import { type Results, renderMarkdown } from './report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = path.join(ROOT, 'bench', 'results');

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '20' }, runs: { type: 'string', default: '3' }, only: { type: 'string' } },
});
const scale = Number(values.scale);
const runs = Number(values.runs);
if (!(scale >= 1 && runs >= 1)) throw new Error('--scale and --runs take a positive number');
const only = values.only?.split(',').map((s) => s.trim());
// `pg-backup` also selects pg-backup-zstd, pg-backup-age...; `=pg-backup` that case alone.
const cases = CASES.filter((c) => !only || only.some((o) => (o.startsWith('=') ? c.name === o.slice(1) : c.name === o || c.name.startsWith(`${o}-`))));
if (cases.length === 0) throw new Error(`No case matches --only ${values.only}; cases: ${CASES.map((c) => c.name).join(', ')}`);

const cli = path.resolve(process.env.DBGUARD_BENCH_CLI ?? path.join(ROOT, 'dist', 'cli', 'main.js'));
if (!existsSync(cli)) throw new Error(`${cli} does not exist: run \`npm run build\` (or set DBGUARD_BENCH_CLI).`);

const loadAverage = os.loadavg()[0]!;
const work = mkdtempSync(path.join(os.tmpdir(), 'dbguard-bench-'));
let pg: Pg | undefined;
let my: Mysql | undefined;
async function cleanup(): Promise<void> {
  for (const child of running) killGroup(child);
  try {
    pg?.server.stop();
    await my?.server.stop();
  } finally {
    pg = undefined;
    my = undefined;
    rmSync(work, { recursive: true, force: true });
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the database servers and deleting ${work}\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

const version = (command: string, args: string[]) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'not found';
  }
};

function machine(): Record<string, string> {
  let pgBin: string | undefined;
  try {
    pgBin = findPgBinDir();
  } catch {}
  const disk = statfsSync(os.tmpdir());
  return {
    CPU: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length} cores`,
    RAM: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    'disk free': `${((disk.bavail * disk.bsize) / 2 ** 30).toFixed(0)} GiB in ${os.tmpdir()} (data and backups; all fit in the page cache)`,
    OS: `${os.type()} ${os.release()}`,
    Node: process.version,
    PostgreSQL: pgBin ? `${version(path.join(pgBin, 'pg_dump'), ['--version'])} (server: the same major, fsync=off as in the tests)` : 'not measured',
    MariaDB: `${version('mariadb-dump', ['--version'])} (server: Debian's mariadbd, as in the tests)`,
    'sqlite3 CLI': version('sqlite3', ['--version']).split(' ')[0]!,
    zstd: version('zstd', ['--version']).replace(/^\W+|\W+$/g, ''),
    age: version('age', ['--version']),
    'GNU time': existsSync('/usr/bin/time') ? 'yes (peak RSS of raw commands)' : 'missing: raw commands have no RSS',
  };
}

/** Which dbguard was measured: the CLI file, when it was built, and the repository's HEAD at run time. */
function describeBuild(): string {
  const head = version('git', ['-C', ROOT, 'log', '-1', '--format=%h']);
  return `${path.relative(ROOT, cli).startsWith('..') ? cli : path.relative(ROOT, cli)} built ${statSync(cli).mtime.toISOString()} (repository HEAD ${head} at run time)`;
}

async function main(): Promise<void> {
  const needs = new Set(cases.map((c) => c.needs));
  const keyFile = path.join(work, 'age-key.txt');
  const key = await runDbguard(cli, ['key', 'generate', '--out', keyFile, '--json'], { cwd: work, rssFile: path.join(work, 'rss') });
  const ctx: Context = { cli, scale, runs, work, age: { recipient: (JSON.parse(key.stdout) as { recipient: string }).recipient, identityFile: keyFile } };
  const data: { postgresMB?: number; sqliteMB?: number; mysqlMB?: number } = {};

  if (needs.has('pg')) {
    process.stderr.write(`Starting PostgreSQL and generating pgbench scale ${scale} + wide rows...\n`);
    pg = await startPg();
    const bytes = await createPgData(pg, scale);
    ctx.pg = { ...pg, bytes };
    data.postgresMB = bytes / 2 ** 20;
    process.stderr.write(`  database ${BENCH_DB}: ${data.postgresMB.toFixed(0)} MB\n`);
  }
  if (needs.has('mysql')) {
    process.stderr.write(`Starting MariaDB and generating scale ${scale} rows...\n`);
    my = await startMysql();
    const bytes = await createMysqlData(my, scale);
    ctx.mysql = { ...my, bytes };
    data.mysqlMB = bytes / 2 ** 20;
    process.stderr.write(`  database ${BENCH_DB}: ${data.mysqlMB.toFixed(0)} MB\n`);
  }
  if (needs.has('sqlite')) {
    process.stderr.write('Generating the SQLite database...\n');
    const file = path.join(work, 'bench.db');
    const bytes = createSqliteData(file, scale);
    ctx.sqlite = { file, bytes };
    data.sqliteMB = bytes / 2 ** 20;
    process.stderr.write(`  ${file}: ${data.sqliteMB.toFixed(0)} MB\n`);
  }

  const build = describeBuild();
  const measured: CaseResult[] = [];
  for (const c of cases) {
    process.stderr.write(`${c.name}\n`);
    const result = await c.run(ctx);
    measured.push({ ...result, run: { runs, finishedAt: new Date().toISOString(), loadAverage, build } });
  }

  if (process.env.BENCH_NODE_ARGS) {
    // Profiled or otherwise instrumented runs are not comparable: print them, keep the saved results.
    process.stdout.write(renderMarkdown({ machine: machine(), scales: { [scale]: { scale, data, cases: measured } } }));
    return;
  }
  const jsonFile = path.join(RESULTS, 'latest.json');
  const previous: Results | undefined = existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Results) : undefined;
  const before = previous?.scales[scale];
  const keep = (before?.cases ?? []).filter((c) => !measured.some((m) => m.name === c.name));
  const results: Results = {
    machine: machine(),
    scales: {
      ...previous?.scales,
      [scale]: {
        scale,
        data: { ...before?.data, ...data },
        cases: [...keep, ...measured].sort((a, b) => CASES.findIndex((c) => c.name === a.name) - CASES.findIndex((c) => c.name === b.name)),
      },
    },
  };
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(path.join(RESULTS, 'latest.md'), markdown);
  process.stdout.write(markdown);
}

try {
  await main();
} finally {
  await cleanup();
}
