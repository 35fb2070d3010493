/*
 * Every write is atomic and durable: observed with strace on real CLI runs (the system calls dbguard makes), and
 * checked by killing a backup at each of its steps.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { listBackups, verifyBackup } from '../dist/index.js';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, fillSampleData } from './harness/pg-db.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { requireStrace, tracedCli, type Syscall } from './harness/strace.js';
import { tempDir } from './harness/tmp.js';

const WRITES = 'write,pwrite64,writev,pwritev,pwritev2';
const TRACE = `fsync,fdatasync,rename,renameat,renameat2,${WRITES}`;

beforeAll(requireStrace);

/** Index of the first call matching, after `from`; -1 when there is none. */
function find(calls: Syscall[], call: RegExp, paths: (string | RegExp)[], from = 0): number {
  for (let i = from; i < calls.length; i++) {
    const c = calls[i]!;
    if (call.test(c.call) && paths.every((p, k) => (typeof p === 'string' ? c.paths[k] === p : p.test(c.paths[k] ?? '')))) return i;
  }
  return -1;
}

function lastIndex(calls: Syscall[], call: RegExp, file: string): number {
  let last = -1;
  calls.forEach((c, i) => {
    if (call.test(c.call) && c.paths[0] === file) last = i;
  });
  return last;
}

const SYNC = /^f(data)?sync$/;
const RENAME = /^rename(at2?)?$/;
const WRITE = new RegExp(`^(${WRITES.replaceAll(',', '|')})$`);

/**
 * The data file is written under a temporary name, fsynced after its last write, renamed, its folder fsynced; then
 * the manifest the same way. Returns the order of those steps (each -1 when missing), for one message on failure.
 */
function commitSteps(calls: Syscall[], dataFile: string, manifestFile: string) {
  const dir = path.dirname(dataFile);
  const partial = `${dataFile}.partial`;
  const dataRename = find(calls, RENAME, [partial, dataFile]);
  const manifestRename = find(calls, RENAME, [new RegExp(`^${dir}/\\.${path.basename(manifestFile).replaceAll('.', '\\.')}\\..*\\.tmp$`), manifestFile]);
  const manifestTmp = manifestRename >= 0 ? calls[manifestRename]!.paths[0]! : '(none)';
  return {
    lastDataWrite: lastIndex(calls, WRITE, partial),
    dataSync: find(calls, SYNC, [partial]),
    dataRename,
    dirSyncAfterData: find(calls, SYNC, [dir], dataRename + 1),
    lastManifestWrite: lastIndex(calls, WRITE, manifestTmp),
    manifestSync: find(calls, SYNC, [manifestTmp]),
    manifestRename,
    dirSyncAfterManifest: find(calls, SYNC, [dir], manifestRename + 1),
  };
}

function expectDurableOrder(steps: ReturnType<typeof commitSteps>) {
  const order = Object.entries(steps);
  for (const [name, at] of order) expect([name, at >= 0]).toEqual([name, true]);
  const sorted = [...order].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  expect(sorted).toEqual(order.map(([name]) => name));
}

describe('fsync and atomic rename, seen in the system calls of a real run', () => {
  it('SQLite backup: the data is fsynced after its last write, renamed into place, its folder fsynced, then the manifest the same way', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 200 });
    const run = await tracedCli(['backup', '--db', db, '--json'], { cwd, trace: TRACE });
    expect(run.code, run.stderr).toBe(0);
    const { file, id } = parseJson<{ file: string; id: string }>(run);
    expectDurableOrder(commitSteps(run.calls, file, path.join(path.dirname(file), `${id}.json`)));
    // Nothing writes to the final names directly.
    expect(run.calls.filter((c) => WRITE.test(c.call) && [file, path.join(path.dirname(file), `${id}.json`)].includes(c.paths[0]!))).toEqual([]);
  });

  it('PostgreSQL backup (streamed from pg_dump), and verify rewriting the manifest', async () => {
    const { url, name } = await createDatabase('sync');
    await fillSampleData(name, 50);
    const cwd = tempDir();
    const run = await tracedCli(['backup', '--json'], { cwd, env: { DATABASE_URL: url }, trace: TRACE });
    expect(run.code, run.stderr).toBe(0);
    const { file, id } = parseJson<{ file: string; id: string }>(run);
    const manifestFile = path.join(path.dirname(file), `${id}.json`);
    expectDurableOrder(commitSteps(run.calls, file, manifestFile));

    const verify = await tracedCli(['verify', id], { cwd, env: { DATABASE_URL: url }, trace: TRACE });
    expect(verify.code, verify.stderr).toBe(0);
    const rename = find(verify.calls, RENAME, [/\.tmp$/, manifestFile]);
    expect(rename).toBeGreaterThan(find(verify.calls, SYNC, [verify.calls[rename]?.paths[0] ?? '(none)']));
    expect(find(verify.calls, SYNC, [path.dirname(file)], rename + 1)).toBeGreaterThan(rename);
    expect(verify.calls.filter((c) => WRITE.test(c.call) && c.paths[0] === manifestFile)).toEqual([]);
  });
});

function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
}

describe('a backup killed at any step', () => {
  /*
   * SIGKILL delivered as dbguard enters each fsync and rename of a backup (strace counts them on libuv's one
   * thread): before the data is synced, before and after its rename, before and after the manifest's, and while
   * the attempt is recorded. Each point's outcome is written down, so both branches (nothing listed, a complete
   * backup listed and verified) are known to run. The runs share one folder: each cleans up after the previous.
   */
  const points: Array<[string, 'nothing' | 'complete']> = [
    ['fsync:when=1', 'nothing'], // the data file, before its fsync
    ['rename:when=1', 'nothing'], // before the data's rename
    ['fsync:when=2', 'nothing'], // data renamed, folder not yet synced, no manifest
    ['fsync:when=3', 'nothing'], // the manifest's temporary file
    ['rename:when=2', 'nothing'], // before the manifest's rename
    ['fsync:when=4', 'complete'], // manifest renamed, folder not yet synced
    ['rename:when=3', 'complete'], // the attempt record
  ];

  it('nothing half-written ever lists, everything that lists verifies, and the next backup removes the leftovers', async () => {
    const db = await createDatabase('kill');
    await fillSampleData(db.name, 50);
    const cwd = tempDir();
    const dir = path.join(cwd, 'backups');
    const env = { DATABASE_URL: db.url };
    const complete: string[] = [];
    for (const [at, expected] of points) {
      const [call, when] = at.split(':');
      const killed = await tracedCli(['backup'], { cwd, env, trace: 'fsync,rename', inject: `${call}:signal=SIGKILL:${when}` });
      expect([at, killed.code, killed.signal]).toEqual([at, null, 'SIGKILL']);
      const { backups } = await listBackups({ dir });
      const added = backups.map((b) => b.manifest.id).filter((id) => !complete.includes(id));
      expect([at, added.length]).toEqual([at, expected === 'complete' ? 1 : 0]);
      for (const id of added) {
        const [verified] = await verifyBackup({ dir, ref: id });
        expect([at, verified!.verification.ok]).toEqual([at, true]);
        complete.push(id);
      }
    }
    const next = await runCli(['backup', '--json'], { cwd, env });
    expect(next.code, next.stderr).toBe(0);
    complete.push(parseJson<{ id: string }>(next).id);
    expect(filesUnder(path.join(dir, 'manual')).sort()).toEqual(complete.flatMap((id) => [`${id}.dump.zst`, `${id}.json`]).sort());
    expect(filesUnder(path.join(dir, '.dbguard')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
