import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl } from '../dist/index.js';
import { parseJson, runCli } from './harness/cli.js';
import { createSqliteDb, sqliteContent } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const DAY = 24 * 3600 * 1000;

/** Automatic backups taken 1..n days ago (by a fixed clock), no pruning while creating them. */
async function history(cwd: string, days: number[]) {
  const db = createSqliteDb(cwd, { orders: 3 });
  const target = parseDatabaseUrl(db, cwd);
  const ids: string[] = [];
  for (const d of days) {
    const at = new Date(Date.now() - d * DAY);
    ids.push((await backup({ target, dir: path.join(cwd, 'backups'), type: 'automatic', now: () => at, retention: false })).manifest.id);
  }
  return { db, ids };
}

interface PruneJson {
  dryRun: boolean;
  deleted: string[];
  decisions: Array<{ id: string; action: string; rule: string; reason: string }>;
}

describe('prune', () => {
  it('keeps two SQLite databases of the same file name apart: retention, latest, and older backups that lack the file', async () => {
    const cwd = tempDir();
    const dir = path.join(cwd, 'backups');
    const [a, b] = ['a', 'b'].map((folder, i) => {
      mkdirSync(path.join(cwd, folder));
      return createSqliteDb(path.join(cwd, folder), { orders: 3 + i });
    }) as [string, string];
    const at = (days: number) => () => new Date(Date.now() - days * DAY);
    const taken = async (db: string, days: number) => (await backup({ target: parseDatabaseUrl(db, cwd), dir, type: 'automatic', now: at(days), retention: false })).manifest;
    const [bOld, bNewest, aNewest] = [await taken(b, 10), await taken(b, 9), await taken(a, 1)];
    expect(bNewest.database).toEqual({ name: 'dev.db', host: null, schema: null, file: b });

    // b's newest backup is expired, but it is b's last good one: a's newer backup does not stand in for it.
    const pruned = parseJson<PruneJson>(await runCli(['prune', '--json'], { cwd }));
    expect(pruned.deleted).toEqual([bOld.id]);

    const bContent = sqliteContent(b);
    writeFileSync(b, ''); // b lost its data: its own newest backup brings it back, not a's
    const restored = await runCli(['restore', 'latest', '--db', b, '--yes', '--json'], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
    expect(parseJson<{ backup: { id: string } }>(restored).backup.id).toBe(bNewest.id);
    expect(sqliteContent(b)).toEqual(bContent);

    // A backup that recorded no file (made before dbguard recorded it), or a file this machine does not have (another
    // machine, a project that moved), is still found by the file name; one of another database here is not.
    const manifestFile = path.join(dir, 'automatic', `${aNewest.id}.json`);
    const latestOfB = async () => parseJson<{ id: string }>(await runCli(['show', 'latest', '--db', b, '--json'], { cwd })).id;
    const rewrite = (file: string | undefined) => {
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { database: { file?: string } };
      manifest.database.file = file;
      writeFileSync(manifestFile, JSON.stringify(manifest));
    };
    expect(await latestOfB()).toBe(bNewest.id);
    rewrite(undefined);
    expect(await latestOfB()).toBe(aNewest.id);
    rewrite(path.join(cwd, 'moved-away', 'dev.db'));
    expect(await latestOfB()).toBe(aNewest.id);
  });

  it('--dry-run explains every decision and deletes nothing; prune then deletes exactly those', async () => {
    const cwd = tempDir();
    const { ids } = await history(cwd, [10, 9, 8, 3, 1]);
    const dry = await runCli(['prune', '--dry-run', '--json'], { cwd });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = parseJson<PruneJson>(dry);
    expect(plan.deleted).toEqual([]);
    const byId = Object.fromEntries(plan.decisions.map((d) => [d.id, d]));
    expect(ids.map((id) => byId[id]!.action)).toEqual(['delete', 'delete', 'delete', 'keep', 'keep']);
    expect(byId[ids[0]!]!.rule).toBe('expired');
    expect(byId[ids[4]!]!.rule).toBe('newest-successful');
    expect(readdirSync(path.join(cwd, 'backups', 'automatic')).filter((f) => f.endsWith('.json'))).toHaveLength(5);

    const human = await runCli(['prune', '--dry-run'], { cwd });
    expect(human.stdout).toMatch(/would delete .*expired/);
    expect(human.stdout).toMatch(/Dry run: 3 backup\(s\) .* would be deleted; nothing was/);

    const real = parseJson<PruneJson>(await runCli(['prune', '--json'], { cwd }));
    expect(real.deleted.sort()).toEqual(ids.slice(0, 3).sort());
    const left = parseJson<Array<{ id: string }>>(await runCli(['list', '--json'], { cwd }));
    expect(left.map((m) => m.id)).toEqual([ids[4], ids[3]]);
  });

  it('deletes nothing while the latest backup attempt of the database failed', async () => {
    const cwd = tempDir();
    const { db, ids } = await history(cwd, [20, 15, 1]);
    writeFileSync(db, 'this is no longer a database');
    const failed = await runCli(['backup', '--type', 'automatic', '--db', db], { cwd });
    expect(failed.code).toBe(1);
    const plan = parseJson<PruneJson>(await runCli(['prune', '--json'], { cwd }));
    expect(plan.deleted).toEqual([]);
    expect(plan.decisions.filter((d) => d.id !== ids[2]).map((d) => d.rule)).toEqual(['last-backup-failed', 'last-backup-failed']);
  });

  it('runs after each backup (unless --no-prune) and warns past the size limit', async () => {
    const cwd = tempDir();
    const { db, ids } = await history(cwd, [30, 20]);
    const kept = await runCli(['backup', '--type', 'automatic', '--db', db, '--no-prune', '--json'], { cwd });
    expect(kept.code).toBe(0);
    const keptId = parseJson<{ id: string }>(kept).id;
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toHaveLength(3);

    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ sizeWarningMB: 0.001, retention: { automatic: { keepLast: 2 } } }));
    const pruned = await runCli(['backup', '--type', 'automatic', '--db', db], { cwd });
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toMatch(/Retention policy: deleted 2 old backup\(s\)/);
    expect(pruned.stderr).toMatch(/warning: The backups in .* take .*, more than the 1.05 kB warning size/);
    const left = parseJson<Array<{ id: string }>>(await runCli(['list', '--json'], { cwd })).map((m) => m.id);
    // keepLast 2: the backup just taken and the one before it survive, the two old ones are gone.
    expect(left).toHaveLength(2);
    expect(left[1]).toBe(keptId);
    expect(ids.some((id) => left.includes(id))).toBe(false);
  });

  it('"prune": { "afterBackup": false } keeps every backup after a backup; prune still applies the policy', async () => {
    const cwd = tempDir();
    const { db, ids } = await history(cwd, [30, 20]);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ prune: { afterBackup: false }, retention: { automatic: { keepLast: 1 } } }));
    const taken = await runCli(['backup', '--type', 'automatic', '--db', db, '--json'], { cwd });
    expect(taken.code, taken.stderr).toBe(0);
    const newest = parseJson<{ id: string }>(taken).id;
    expect(parseJson<Array<{ id: string }>>(await runCli(['list', '--json'], { cwd })).map((m) => m.id).sort()).toEqual([...ids, newest].sort());
    expect(parseJson<PruneJson>(await runCli(['prune', '--json'], { cwd })).deleted.sort()).toEqual([...ids].sort());
  });

  it('rejects a bad retention policy with the path of the bad key', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ retention: { automatic: { keepDaily: -1 } } }));
    const result = await runCli(['prune'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/retention\.automatic\.keepDaily/);
  });

  it('a policy that cannot be applied warns after the backup instead of failing it', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 2 });
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ prune: { timeZone: 'Mars/Olympus_Mons' } }));
    const result = await runCli(['backup', '--db', db], { cwd });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/warning: The retention policy was not applied: .*Mars\/Olympus_Mons/);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toHaveLength(1);
  });
});
