import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, parseJson, runCli } from './harness/cli.js';
import { createMysqlDatabase, fillMysqlSample, fullDump, withMysql } from './harness/mysql-db.js';
import { createDatabase, fillSampleData, snapshotContent, withClient } from './harness/pg-db.js';
import { S3_SECRET, type S3Server, startS3 } from './harness/s3.js';
import { createSqliteDb, sqliteContent, sqliteExec } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

interface Manifest {
  id: string;
  type: string;
  fileName: string;
  file: string | null;
  where: string;
  size: number;
  sha256: string;
  tables: Record<string, number>;
  remote?: { url: string; key: string; size: number; lockedUntil: string | null };
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

function generateKey(dir: string): { file: string; recipient: string } {
  const file = path.join(dir, 'key.txt');
  const out = execFileSync(process.execPath, [CLI, 'key', 'generate', '--out', file, '--json'], { encoding: 'utf8' });
  return { file, recipient: (JSON.parse(out) as { recipient: string }).recipient };
}

/** Objects under a prefix, straight from the server's folder (not through dbguard). */
function bucketKeys(prefix: string): string[] {
  const root = path.join(s3.dir, s3.bucket, prefix);
  const keys: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${rel}${e.name}/`);
      else if (e.name.endsWith('._S3rver_object')) keys.push(`${rel}${e.name.replace(/\._S3rver_object$/, '')}`);
    }
  };
  walk(root, '');
  return keys.sort();
}

function objectFile(key: string): string {
  const dir = path.dirname(path.join(s3.dir, s3.bucket, key));
  return path.join(dir, `${path.basename(key)}._S3rver_object`);
}

let prefixes = 0;
const newPrefix = () => `t${Date.now().toString(36)}${prefixes++}`;

describe('remote storage (S3)', () => {
  it('PostgreSQL, zstd + age: the backup reaches the bucket and a new machine restores it from the bucket alone', async () => {
    const db = await createDatabase();
    await fillSampleData(db.name);
    const before = await snapshotContent(db.name);
    const prefix = newPrefix();
    const cwd = tempDir();
    const key = generateKey(cwd);
    const env = { ...s3.env(prefix), DATABASE_URL: db.url, DBGUARD_AGE_RECIPIENTS: key.recipient };

    const taken = await runCli(['backup', '--json', '--compress', 'zstd'], { cwd, env });
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<Manifest>(taken);
    expect(manifest.where).toBe('local+remote');
    expect(manifest.remote).toMatchObject({ key: `${prefix}/manual/${manifest.fileName}`, size: manifest.size, lockedUntil: null });
    expect(bucketKeys(prefix)).toEqual([`manual/${manifest.fileName}`, `manual/${manifest.id}.json`].sort());
    expect(sha256(objectFile(`${prefix}/manual/${manifest.fileName}`))).toBe(manifest.sha256);
    expect(taken.stderr).not.toContain('NodeVersionSupportWarning');

    const listed = parseJson<Manifest[]>(await runCli(['list', '--json'], { cwd, env }));
    expect(listed.map((b) => [b.id, b.where])).toEqual([[manifest.id, 'local+remote']]);

    // The data is lost, and so is this machine: a new folder with only the configuration, credentials and key.
    await withClient(db.name, (c) => c.query(`DROP TABLE billing.invoices; DELETE FROM posts; UPDATE users SET name = 'lost'`));
    const newMachine = tempDir();
    copyKey(key.file, newMachine);
    const newEnv = { ...s3.env(prefix), DATABASE_URL: db.url, DBGUARD_AGE_IDENTITY_FILE: 'key.txt' };
    const remoteList = await runCli(['list'], { cwd: newMachine, env: newEnv });
    expect(remoteList.code, remoteList.stderr).toBe(0);
    expect(remoteList.stdout).toMatch(new RegExp(`${manifest.id}.*remote`));

    const restored = await runCli(['restore', 'latest', '--yes', '--json'], { cwd: newMachine, env: newEnv });
    expect(restored.code, restored.stderr).toBe(0);
    expect(parseJson<{ backup: { id: string } }>(restored).backup.id).toBe(manifest.id);
    expect(await snapshotContent(db.name)).toEqual(before);
    // Nothing of the download is left behind; the only local backup is the restore's safety backup.
    expect(readdirSync(path.join(newMachine, 'backups', '.dbguard', 'staging'))).toEqual([]);
    expect(readdirSync(path.join(newMachine, 'backups'))).toEqual(['.dbguard', 'pre-restore']);
  });

  it('SQLite, --remote-only: the backup streams into the bucket, nothing is kept locally, and it restores', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd);
    // 12 MB that zstd cannot shrink: a stream of unknown size sent in several parts.
    sqliteExec(file, 'CREATE TABLE noise (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12) INSERT INTO noise SELECT randomblob(1000000) FROM n');
    const content = (f: string) => {
      const { noise, ...rest } = sqliteContent(f);
      const digest = createHash('sha256');
      for (const row of noise as Array<{ b: Buffer }>) digest.update(row.b);
      return { ...rest, noise: `${noise!.length} rows, sha256 ${digest.digest('hex')}` };
    };
    const before = content(file);
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: file };

    const taken = await runCli(['backup', '--remote-only', '--json'], { cwd, env });
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<Manifest>(taken);
    expect(manifest.where).toBe('remote');
    expect(manifest.fileName).toMatch(/\.sqlite\.zst$/);
    expect(manifest.size).toBeGreaterThan(8 * 1024 * 1024);
    expect(readdirSync(path.join(cwd, 'backups', 'manual'))).toEqual([]);
    expect(bucketKeys(prefix)).toEqual([`manual/${manifest.fileName}`, `manual/${manifest.id}.json`].sort());
    expect(s3.pendingUploads()).toEqual([]);

    sqliteExec(file, 'DELETE FROM lines; DROP TABLE "user profiles"; DELETE FROM noise WHERE rowid = 7;');
    const restored = await runCli(['restore', manifest.id, '--yes'], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(content(file)).toEqual(before);

    const verified = await runCli(['verify', manifest.id, '--json'], { cwd, env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(parseJson<{ location: string; verification: { ok: boolean; readable: string; rowCounts: string } }>(verified)).toMatchObject({
      location: 'remote',
      verification: { ok: true, readable: 'ok', rowCounts: 'match' },
    });
  });

  it('MySQL/MariaDB, --remote-only: the dump streams into the bucket, verifies with a restore test from there, and a new machine restores it', async () => {
    const db = await createMysqlDatabase();
    await fillMysqlSample(db.name, 50);
    const before = await fullDump(db.name);
    const prefix = newPrefix();
    const cwd = tempDir();
    const env = { ...s3.env(prefix), DATABASE_URL: db.url };

    const taken = await runCli(['backup', '--remote-only', '--json'], { cwd, env });
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<Manifest>(taken);
    expect(manifest.where).toBe('remote');
    expect(manifest.fileName).toMatch(/\.sql\.zst$/);
    expect(readdirSync(path.join(cwd, 'backups', 'manual'))).toEqual([]);
    expect(bucketKeys(prefix)).toEqual([`manual/${manifest.fileName}`, `manual/${manifest.id}.json`].sort());
    expect(sha256(objectFile(`${prefix}/manual/${manifest.fileName}`))).toBe(manifest.sha256);

    const verified = await runCli(['verify', manifest.id, '--restore-test', '--json'], { cwd, env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(parseJson<{ location: string; verification: { ok: boolean; rowCounts: string; restoreTest: boolean } }>(verified)).toMatchObject({
      location: 'remote',
      verification: { ok: true, rowCounts: 'match', restoreTest: true },
    });

    await withMysql(db.name, (c) => c.query(`DELETE FROM posts; UPDATE users SET name = 'lost'; DROP VIEW busy_users`));
    const newMachine = tempDir();
    const restored = await runCli(['restore', 'latest', '--yes', '--json'], { cwd: newMachine, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(parseJson<{ backup: { id: string } }>(restored).backup.id).toBe(manifest.id);
    expect(await fullDump(db.name)).toBe(before);
    expect(readdirSync(path.join(newMachine, 'backups', '.dbguard', 'staging'))).toEqual([]);
  });

  it('keepLocal: false in the config does what --remote-only does', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 10 });
    const prefix = newPrefix();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ remote: { url: `s3://${s3.bucket}/${prefix}`, keepLocal: false } }));
    const { DBGUARD_REMOTE: _unused, ...env } = s3.env();
    const taken = await runCli(['backup', '--json'], { cwd, env: { ...env, DATABASE_URL: file } });
    expect(taken.code, taken.stderr).toBe(0);
    expect(parseJson<Manifest>(taken).where).toBe('remote');
    expect(bucketKeys(prefix)).toHaveLength(2);
    // Nothing is local, so freshness is judged from the bucket.
    const status = await runCli(['status', '--json'], { cwd, env: { ...env, DATABASE_URL: file } });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(status.stdout))).toContain(parseJson<Manifest>(taken).id);
  });

  it('a corrupted remote copy is refused before anything is touched (exit 3), and verify --remote reports it', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 50 });
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: file };
    const manifest = parseJson<Manifest>(await runCli(['backup', '--remote-only', '--compress', 'none', '--json'], { cwd, env }));
    const object = objectFile(manifest.remote!.key);
    const bytes = readFileSync(object);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(object, bytes);
    sqliteExec(file, `UPDATE orders SET note = 'changed since the backup'`);
    const changed = sqliteContent(file);

    const restored = await runCli(['restore', manifest.id, '--yes'], { cwd, env });
    expect(restored.code, restored.stderr).toBe(3);
    expect(restored.stderr).toContain('remote copy of');
    expect(restored.stderr).toContain('corrupted');
    expect(sqliteContent(file)).toEqual(changed);
    expect(existsSync(path.join(cwd, 'backups', 'pre-restore'))).toBe(false);

    const checked = await runCli(['verify', manifest.id, '--remote', '--json'], { cwd, env });
    expect(checked.code, checked.stderr).toBe(1);
    expect(parseJson<{ verification: { checksum: string } }>(checked).verification.checksum).toBe('mismatch');
  });

  it('a network cut mid-upload keeps the local backup, leaves no parts in the bucket, and push resumes', async () => {
    const cwd = tempDir();
    const db = await createDatabase();
    // About 12 MB uncompressed: two 8 MiB parts.
    await withClient(db.name, (c) => c.query(`CREATE TABLE blobs (id int, data bytea); INSERT INTO blobs SELECT i, decode(repeat(md5(i::text), 125), 'hex') FROM generate_series(1, 6000) i`));
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: db.url };
    s3.proxy.cutUploadsAfter(9 * 1024 * 1024); // inside the second 8 MiB part
    try {
      const failed = await runCli(['backup', '--compress', 'none'], { cwd, env });
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).toMatch(/local backup ok, remote copy failed: .*; run dbguard push \S+ to retry/);
      expect(failed.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    } finally {
      s3.proxy.heal();
    }
    const listed = parseJson<Manifest[]>(await runCli(['list', '--json'], { cwd, env }));
    expect(listed).toHaveLength(1);
    expect(listed[0]!.where).toBe('local');
    const attempts = JSON.parse(readFileSync(path.join(cwd, 'backups', '.dbguard', 'attempts.json'), 'utf8')) as Record<string, { ok: boolean; error?: string }>;
    expect(Object.values(attempts)[0]).toMatchObject({ ok: false });
    expect(bucketKeys(prefix)).toEqual([]);

    const pushed = await runCli(['push', '--all'], { cwd, env });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain(`pushed   ${listed[0]!.id}`);
    expect(s3.pendingUploads()).toEqual([]); // the interrupted multipart upload was aborted
    expect(readdirSync(path.join(cwd, 'backups', '.dbguard', 'uploads'))).toEqual([]);
    const again = await runCli(['push', '--all'], { cwd, env });
    expect(again.stdout).toContain(`skipped  ${listed[0]!.id}`);
    expect(parseJson<Manifest[]>(await runCli(['list', '--json'], { cwd, env }))[0]!.where).toBe('local+remote');
    expect(sha256(objectFile(`${prefix}/manual/${listed[0]!.fileName}`))).toBe(listed[0]!.sha256);
  });

  it('transient 503s and a download cut part-way are retried; a slow server still completes', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 3000 });
    const before = sqliteContent(file);
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: file };
    s3.proxy.fail503(2);
    const taken = await runCli(['backup', '--compress', 'none', '--json'], { cwd, env });
    s3.proxy.heal();
    expect(taken.code, taken.stderr).toBe(0);
    const manifest = parseJson<Manifest>(taken);
    expect(manifest.where).toBe('local+remote');

    sqliteExec(file, 'DELETE FROM lines');
    s3.proxy.cutDownloadOnceAfter(Math.floor(manifest.size / 2));
    s3.proxy.slow(1);
    try {
      const restored = await runCli(['restore', manifest.id, '--from', 'remote', '--yes'], { cwd, env });
      expect(restored.code, restored.stderr).toBe(0);
    } finally {
      s3.proxy.heal();
    }
    expect(sqliteContent(file)).toEqual(before);
  });

  it('pull downloads a remote backup once (idempotent); show and verify find it wherever it is', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 20 });
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: file };
    const manifest = parseJson<Manifest>(await runCli(['backup', '--remote-only', '--json'], { cwd, env }));
    const shown = await runCli(['show', manifest.id, '--json'], { cwd, env });
    expect(parseJson<Manifest>(shown).where).toBe('remote');

    const pulled = await runCli(['pull', 'latest'], { cwd, env });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain('sha256 verified');
    const again = await runCli(['pull', manifest.id], { cwd, env });
    expect(again.stdout).toContain('already in');
    const listed = parseJson<Manifest[]>(await runCli(['list', '--json'], { cwd, env }));
    expect(listed.map((b) => b.where)).toEqual(['local+remote']);
    expect(parseJson<Manifest[]>(await runCli(['list', '--remote', '--json'], { cwd, env }))).toHaveLength(1);
    const verified = await runCli(['verify', manifest.id, '--json'], { cwd, env });
    expect(parseJson<{ location: string; recorded: boolean }>(verified)).toMatchObject({ location: 'local', recorded: true });
  });

  it('local and remote retention apply separately; Object Lock is set on every object and prune never deletes a locked one', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 5 });
    const prefix = newPrefix();
    const { DBGUARD_REMOTE: _unused, ...env } = s3.env();
    const config = (objectLock?: object) =>
      writeFileSync(
        path.join(cwd, 'dbguard.config.json'),
        JSON.stringify({
          retention: { automatic: { keepLast: 1 } },
          remote: { url: `s3://${s3.bucket}/${prefix}`, retention: { automatic: { keepLast: 3 } }, ...(objectLock ? { objectLock } : {}) },
        }),
      );
    config();
    for (let i = 0; i < 4; i++) {
      const taken = await runCli(['backup', '--type', 'automatic', '--label', `n${i}`], { cwd, env: { ...env, DATABASE_URL: file } });
      expect(taken.code, taken.stderr).toBe(0);
    }
    const listed = parseJson<Manifest[]>(await runCli(['list', '--json'], { cwd, env }));
    expect(listed.map((b) => b.where)).toEqual(['local+remote', 'remote', 'remote']);
    expect(bucketKeys(prefix)).toHaveLength(6);

    config({ mode: 'GOVERNANCE', days: 30 });
    s3.proxy.requests.length = 0;
    const locked = parseJson<Manifest>(await runCli(['backup', '--type', 'automatic', '--json', '--no-prune'], { cwd, env: { ...env, DATABASE_URL: file } }));
    expect(Date.parse(locked.remote!.lockedUntil!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const puts = s3.proxy.requests.filter((r) => /^PUT .*manual|^PUT |^POST .*uploads/.test(r) && r.includes(prefix));
    expect(puts.length).toBeGreaterThanOrEqual(2); // the data, then the manifest
    for (const request of puts) {
      expect(request.toLowerCase()).toContain('x-amz-object-lock-mode: governance');
      expect(request.toLowerCase()).toContain('x-amz-object-lock-retain-until-date:');
    }
    writeFileSync(
      path.join(cwd, 'dbguard.config.json'),
      JSON.stringify({ remote: { url: `s3://${s3.bucket}/${prefix}`, retention: { automatic: { keepLast: 1 } } } }),
    );
    const pruned = await runCli(['prune', '--remote', '--json'], { cwd, env });
    expect(pruned.code, pruned.stderr).toBe(0);
    const result = parseJson<{ remote: { decisions: Array<{ id: string; action: string; rule: string; reason: string }> } }>(pruned);
    // The locked backup is the newest, kept anyway; the older unlocked ones go.
    expect(result.remote.decisions.filter((d) => d.action === 'keep').map((d) => d.id)).toEqual([locked.id]);
    expect(bucketKeys(prefix)).toHaveLength(2);

    // An old locked backup: prune lists it as locked until its date, and keeps it.
    const older = parseJson<Manifest>(await runCli(['backup', '--type', 'automatic', '--json', '--no-prune'], { cwd, env: { ...env, DATABASE_URL: file } }));
    expect(older.where).toBe('local+remote');
    const lockedManifest = { ...JSON.parse(readFileSync(objectFile(`${prefix}/automatic/${locked.id}.json`), 'utf8')) };
    expect(lockedManifest.remote.lockedUntil).toBe(locked.remote!.lockedUntil);
    const dry = parseJson<{ remote: { decisions: Array<{ id: string; action: string; rule: string; reason: string }> } }>(await runCli(['prune', '--remote', '--dry-run', '--json'], { cwd, env }));
    expect(dry.remote.decisions.find((d) => d.id === locked.id)).toMatchObject({ action: 'keep', rule: 'locked' });
    expect(dry.remote.decisions.find((d) => d.id === locked.id)!.reason).toContain('locked until');
  });

  it('a server that refuses Object Lock gives one clear line', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 5 });
    const prefix = newPrefix();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ remote: { url: `s3://${s3.bucket}/${prefix}`, objectLock: { mode: 'COMPLIANCE', days: 1 } } }));
    const { DBGUARD_REMOTE: _unused, ...env } = s3.env();
    s3.proxy.rejectMatching(/x-amz-object-lock-mode/i, 400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
    try {
      const taken = await runCli(['backup'], { cwd, env: { ...env, DATABASE_URL: file } });
      expect(taken.code).toBe(2);
      expect(taken.stderr).toMatch(/local backup ok, remote copy failed: .*refused the Object Lock request/);
    } finally {
      s3.proxy.heal();
    }
    expect(bucketKeys(prefix)).toEqual([]);
  });

  it('wrong credentials, a missing bucket and an unreachable endpoint each give one clear line; the secret appears nowhere', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 5 });
    const run = (extra: Record<string, string>, args = ['backup', '--remote-only']) => runCli(args, { cwd, env: { ...s3.env(newPrefix()), DATABASE_URL: file, ...extra } });

    const wrongKey = await run({ AWS_ACCESS_KEY_ID: 'NOT-A-KEY' });
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain('credentials were refused');
    const noBucket = await run({ DBGUARD_REMOTE: 's3://no-such-bucket-here' });
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toContain('does not exist');
    s3.proxy.down();
    let unreachable;
    try {
      unreachable = await run({}, ['list', '--remote']);
    } finally {
      s3.proxy.heal();
    }
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    const badUrl = await run({ DBGUARD_REMOTE: 'https://bucket' });
    expect(badUrl.code).toBe(2);
    const credentialsInEndpoint = await run({ DBGUARD_S3_ENDPOINT: `http://key:${S3_SECRET}@127.0.0.1:1` });
    expect(credentialsInEndpoint.code).toBe(2);

    const config = await runCli(['config', '--json'], { cwd, env: { ...s3.env('x'), DATABASE_URL: file } });
    expect(parseJson<{ remote: { url: string; credentials: string } }>(config).remote).toMatchObject({ url: `s3://${s3.bucket}/x` });
    for (const result of [wrongKey, noBucket, unreachable, badUrl, credentialsInEndpoint, config]) {
      expect(result.stdout + result.stderr).not.toContain(S3_SECRET);
    }
    expect(readdirSync(path.join(cwd, 'backups', 'manual'))).toEqual([]); // nothing left behind by the failures
  });

  it('the AWS secret never reaches a child process argument, a manifest or the output', async () => {
    const cwd = tempDir();
    const db = await createDatabase();
    await fillSampleData(db.name, 200);
    const prefix = newPrefix();
    const env = { ...s3.env(prefix), DATABASE_URL: db.url };
    const seen: string[] = [];
    const child = spawn(process.execPath, [CLI, 'backup', '--json'], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            seen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    watching = false;
    await watcher;
    expect(code).toBe(0);
    expect(seen.some((c) => c.includes('pg_dump'))).toBe(true);
    expect(seen.join('\n')).not.toContain(S3_SECRET);
    const manifest = JSON.parse(stdout) as Manifest;
    expect(readFileSync(objectFile(`${prefix}/manual/${manifest.id}.json`), 'utf8')).not.toContain(S3_SECRET);
    expect(readFileSync(path.join(cwd, 'backups', 'manual', `${manifest.id}.json`), 'utf8')).not.toContain(S3_SECRET);
  });

  it('list, show, pull and prune accept --db: only that database\'s backups', async () => {
    const cwd = tempDir();
    const one = createSqliteDb(cwd, { name: 'one.db', orders: 3 });
    const two = createSqliteDb(cwd, { name: 'two.db', orders: 3 });
    const env = s3.env(newPrefix());
    const first = parseJson<Manifest>(await runCli(['backup', '--db', one, '--json'], { cwd, env }));
    const second = parseJson<Manifest>(await runCli(['backup', '--db', two, '--json'], { cwd, env }));
    const listed = parseJson<Manifest[]>(await runCli(['list', '--db', one, '--json'], { cwd, env }));
    expect(listed).toHaveLength(1);
    expect(listed[0]!.id).toMatch(/^one-/);
    // `latest` with --db is that database's newest, though another database's backup is newer.
    expect(parseJson<Manifest>(await runCli(['show', 'latest', '--db', two, '--json'], { cwd, env })).id).toBe(second.id);
    expect(parseJson<Manifest>(await runCli(['show', 'latest', '--db', one, '--json'], { cwd, env })).id).toBe(first.id);
    expect(parseJson<Manifest>(await runCli(['pull', 'latest', '--db', one, '--json'], { cwd, env })).id).toBe(first.id);
    expect(parseJson<Manifest>(await runCli(['pull', 'latest', '--json'], { cwd, env })).id).toBe(second.id);
    const pruned = parseJson<{ decisions: unknown[]; remote: { decisions: unknown[] } }>(await runCli(['prune', '--dry-run', '--db', one, '--json'], { cwd, env }));
    expect(pruned.decisions).toHaveLength(1);
    expect(pruned.remote.decisions).toHaveLength(1);
  });

  it('Ctrl-C during a remote-only upload exits 130 and leaves nothing in the bucket or the folder', async () => {
    const cwd = tempDir();
    const file = createSqliteDb(cwd, { orders: 20000 });
    const prefix = newPrefix();
    s3.proxy.slow(20);
    const earlier = new Set(s3.pendingUploads());
    try {
      const child = spawn(process.execPath, [CLI, 'backup', '--remote-only', '--compress', 'none'], { cwd, env: { ...process.env, ...s3.env(prefix), DATABASE_URL: file } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      // Interrupt once the upload is under way: a part has reached the server.
      while (!s3.pendingUploads().some((u) => !earlier.has(u)) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(130);
    } finally {
      s3.proxy.heal();
    }
    expect(s3.pendingUploads()).toEqual([]);
    expect(bucketKeys(prefix)).toEqual([]);
    expect(readdirSync(path.join(cwd, 'backups', 'manual'))).toEqual([]);
  });
});

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function copyKey(from: string, dir: string): void {
  writeFileSync(path.join(dir, 'key.txt'), readFileSync(from), { mode: 0o600 });
}
