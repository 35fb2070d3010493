import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl, restore, verifyBackup } from '../dist/index.js';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, fillSampleData, snapshotContent, withClient } from './harness/pg-db.js';
import { createSqliteDb, sqliteContent, sqliteExec } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

const yes = async () => true;

function generateKey(dir: string): { file: string; recipient: string } {
  const file = path.join(dir, 'key.txt');
  const out = execFileSync(process.execPath, [path.resolve('dist/cli/main.js'), 'key', 'generate', '--out', file, '--json'], { encoding: 'utf8' });
  return { file, recipient: (JSON.parse(out) as { recipient: string }).recipient };
}

const compressions = [undefined, { algorithm: 'none' }, { algorithm: 'gzip', level: 1 }, { algorithm: 'zstd', level: 3 }] as const;
const encryptions = ['plain', 'recipient', 'passphrase'] as const;
const cases = compressions.flatMap((compression) => encryptions.map((encryption) => [compression?.algorithm ?? 'default', encryption, compression] as const));

describe('compression x encryption round trips', () => {
  it.each(cases)('SQLite: %s compression, %s', async (_name, encryption, compression) => {
    const dir = tempDir();
    const key = generateKey(dir);
    const db = createSqliteDb(dir, { orders: 300 });
    const before = sqliteContent(db);
    const target = parseDatabaseUrl(db, dir);
    const keys = encryption === 'recipient' ? { recipients: [key.recipient] } : encryption === 'passphrase' ? { recipients: [], passphrase: 'correct horse' } : undefined;
    const decryption = encryption === 'recipient' ? { identities: [readFileSync(key.file, 'utf8').split('\n')[2]!] } : encryption === 'passphrase' ? { identities: [], passphrase: 'correct horse' } : undefined;

    const { manifest, file } = await backup({ target, dir: path.join(dir, 'backups'), compression, encryption: keys });
    const expectedCompression = compression?.algorithm ?? 'zstd';
    expect(manifest.compression).toBe(expectedCompression);
    expect(file.endsWith(`.sqlite${{ none: '', gzip: '.gz', zstd: '.zst' }[expectedCompression]}${keys ? '.age' : ''}`)).toBe(true);
    expect(manifest.encryption).toEqual(keys ? { algorithm: 'age', recipients: keys.recipients, passphrase: encryption === 'passphrase' } : null);
    expect(readFileSync(file, 'utf8')).not.toContain('correct horse');

    const [verified] = await verifyBackup({ dir: path.join(dir, 'backups'), ref: manifest.id, decrypt: true, decryption });
    expect(verified!.verification).toMatchObject({ ok: true, readable: 'ok', rowCounts: 'match' });

    sqliteExec(db, 'DELETE FROM lines; DELETE FROM orders');
    await restore({ ref: manifest.id, dir: path.join(dir, 'backups'), target, confirm: yes, decryption });
    expect(sqliteContent(db)).toEqual(before);
  });

  it.each(cases)('PostgreSQL: %s compression, %s', async (_name, encryption, compression) => {
    const dir = tempDir();
    const key = generateKey(dir);
    const db = await createDatabase('codec');
    await fillSampleData(db.name, 100);
    const before = await snapshotContent(db.name);
    const target = parseDatabaseUrl(db.url, dir);
    const keys = encryption === 'recipient' ? { recipients: [key.recipient] } : encryption === 'passphrase' ? { recipients: [], passphrase: 'pg horse' } : undefined;
    const decryption = encryption === 'recipient' ? { identities: [readFileSync(key.file, 'utf8').split('\n')[2]!] } : encryption === 'passphrase' ? { identities: [], passphrase: 'pg horse' } : undefined;

    const { manifest, file } = await backup({ target, dir: path.join(dir, 'backups'), compression, encryption: keys });
    // gzip and none are pg_dump's own compression; zstd (the default) goes around an archive pg_dump did not compress.
    const zstd = compression === undefined || compression.algorithm === 'zstd';
    expect(manifest.compression).toBe(zstd ? 'zstd' : 'none');
    expect(path.basename(file)).toMatch(new RegExp(`\\.dump${zstd ? '\\.zst' : ''}${keys ? '\\.age' : ''}$`));

    await withClient(db.name, (c) => c.query('TRUNCATE posts, billing.invoices'));
    await restore({ ref: manifest.id, dir: path.join(dir, 'backups'), target, confirm: yes, decryption });
    expect(await snapshotContent(db.name)).toEqual(before);
  });
});

describe('standard tools open our files', () => {
  it('age and zstd decode a SQLite backup that sqlite3 then reads', async () => {
    const cwd = tempDir();
    const key = generateKey(cwd);
    const db = createSqliteDb(cwd, { orders: 50 });
    const taken = await runCli(['backup', '--json', '--db', db, '--compress', 'zstd:19'], { cwd, env: { DBGUARD_AGE_RECIPIENTS: key.recipient } });
    expect(taken.code, taken.stderr).toBe(0);
    const { file } = parseJson<{ file: string }>(taken);
    const plain = path.join(cwd, 'plain.sqlite');
    execFileSync('sh', ['-c', `age -d -i "${key.file}" "${file}" | zstd -d -q -o "${plain}"`]);
    expect(execFileSync('sqlite3', [plain, 'SELECT count(*) FROM orders; PRAGMA integrity_check;'], { encoding: 'utf8' })).toBe('50\nok\n');
  });

  it('age and zstd decode a PostgreSQL backup that pg_restore then reads', async () => {
    const cwd = tempDir();
    const key = generateKey(cwd);
    const db = await createDatabase('interop');
    await fillSampleData(db.name, 20);
    const taken = await runCli(['backup', '--json', '--compress', 'zstd'], { cwd, env: { DATABASE_URL: db.url, DBGUARD_AGE_RECIPIENTS: key.recipient } });
    expect(taken.code, taken.stderr).toBe(0);
    const { file } = parseJson<{ file: string }>(taken);
    const listing = execFileSync('sh', ['-c', `age -d -i "${key.file}" "${file}" | zstd -d | pg_restore --list`], { encoding: 'utf8' });
    expect(listing).toMatch(/TABLE DATA public users/);
    expect(listing).toMatch(/TABLE DATA billing invoices/);
  });

  it('gzip backups open with gunzip', async () => {
    const cwd = tempDir();
    const db = createSqliteDb(cwd, { orders: 5 });
    const { file } = parseJson<{ file: string }>(await runCli(['backup', '--json', '--db', db, '--compress', 'gzip:9'], { cwd }));
    const header = spawnSync('sh', ['-c', `gunzip -c "${file}" | head -c 15`], { encoding: 'utf8' });
    expect(header.stdout).toBe('SQLite format 3');
  });
});

describe('encrypted backups without the right key', () => {
  it('refuse the restore before touching the database, naming the recipients', async () => {
    const cwd = tempDir();
    const right = generateKey(path.join(cwd));
    const wrongDir = tempDir();
    const wrong = generateKey(wrongDir);
    const db = createSqliteDb(cwd, { orders: 20 });
    expect((await runCli(['backup', '--db', db], { cwd, env: { DBGUARD_AGE_RECIPIENTS: right.recipient } })).code).toBe(0);
    sqliteExec(db, 'DELETE FROM lines');
    const damaged = sqliteContent(db);

    const missing = await runCli(['restore', 'latest', '--yes', '--db', db], { cwd });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`no key was given (it was encrypted to ${right.recipient})`);
    const wrongKey = await runCli(['restore', 'latest', '--yes', '--db', db, '--identity', wrong.file], { cwd });
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toContain(`Cannot decrypt this backup with the key given (it was encrypted to ${right.recipient})`);
    expect(sqliteContent(db)).toEqual(damaged);
    expect(parseJson<unknown[]>(await runCli(['list', '--json', '--type', 'pre-restore'], { cwd }))).toEqual([]);

    // verify needs no key for the checksum, and says the content was not checked
    const verified = await runCli(['verify', 'latest'], { cwd });
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^CHECKSUM OK \S+: only the checksum was verified; the backup is encrypted, so its content was not read\.$/m);
    expect(verified.stdout).toMatch(/To check its content too: dbguard verify \S+ --decrypt --identity <file>/);
    expect(verified.stdout).not.toMatch(/^OK/m);
    const withKey = await runCli(['verify', 'latest', '--decrypt', '--identity', right.file, '--json'], { cwd });
    expect(parseJson<{ verification: { rowCounts: string } }>(withKey).verification.rowCounts).toBe('match');
  });

  it('key generate writes a 0600 identity, refuses to overwrite it, and warns to keep a copy', async () => {
    const cwd = tempDir();
    const first = await runCli(['key', 'generate', '--out', 'k.txt'], { cwd });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Public key \(recipient\): age1[a-z0-9]{58}/);
    expect(first.stdout).toMatch(/without this file the backups encrypted to it cannot be restored/);
    const { statSync } = await import('node:fs');
    expect(statSync(path.join(cwd, 'k.txt')).mode & 0o777).toBe(0o600);
    expect(execFileSync('age-keygen', ['-y', path.join(cwd, 'k.txt')], { encoding: 'utf8' }).trim()).toBe(first.stdout.match(/age1[a-z0-9]{58}/)![0]);
    const again = await runCli(['key', 'generate', '--out', 'k.txt'], { cwd });
    expect(again.code).toBe(2);
    writeFileSync(path.join(cwd, 'bad.txt'), 'not a key\n');
    const db = createSqliteDb(cwd, { orders: 1 });
    const badIdentity = await runCli(['restore', 'latest', '--yes', '--db', db, '--identity', 'bad.txt'], { cwd });
    expect(badIdentity.code).toBe(2);
  });
});
