import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config-file.js';
import { DEFAULT_NOTIFY_EVENTS, NOTIFY_EVENTS } from '../../src/config/notify-config.js';
import {
  DEFAULT_MAX_AGE_MS,
  configuredBackupOptions,
  databaseNames,
  encryptionKeys,
  interpolateEnv,
  resolveDatabases,
  resolveNamedDatabase,
  withDotenv,
} from '../../src/config/databases.js';
import { describeRemote, parseRemoteUrl, resolveRemote } from '../../src/config/remote.js';
import { cronOf, nextRun, parseDuration, scheduleInterval } from '../../src/config/schedule.js';
import { UsageError } from '../../src/errors.js';
import { tempDir } from '../harness/tmp.js';

const HOUR = 3_600_000;

/** The error `fn` throws (it must throw one). */
function thrown(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected an error');
}

describe('config files', () => {
  it('reads the first dbguard.config.* in order, else package.json "dbguard", else nothing', () => {
    const cwd = tempDir();
    expect(loadConfig(cwd)).toEqual({ config: {}, source: null });
    writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'app' }));
    expect(loadConfig(cwd)).toEqual({ config: {}, source: null });
    writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'app', dbguard: { backupDir: 'from-package' } }));
    expect(loadConfig(cwd)).toEqual({ config: { backupDir: 'from-package' }, source: path.join(cwd, 'package.json') });
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ backupDir: 'from-json' }));
    expect(loadConfig(cwd)).toEqual({ config: { backupDir: 'from-json' }, source: path.join(cwd, 'dbguard.config.json') });
    writeFileSync(path.join(cwd, 'dbguard.config.mjs'), "export default { backupDir: 'from-mjs' };\n");
    expect(loadConfig(cwd).config).toEqual({ backupDir: 'from-mjs' });
    writeFileSync(path.join(cwd, 'dbguard.config.ts'), "const dir: string = 'from-ts';\nexport default { backupDir: dir, sizeWarningMB: 5 };\n");
    expect(loadConfig(cwd)).toEqual({ config: { backupDir: 'from-ts', sizeWarningMB: 5 }, source: path.join(cwd, 'dbguard.config.ts') });
  });

  it('a CommonJS config without a default export is the module itself', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.cjs'), "module.exports = { backupDir: 'cjs' };\n");
    expect(loadConfig(cwd).config).toEqual({ backupDir: 'cjs' });
  });

  it('refuses unreadable files and invalid settings, naming the place and the allowed keys', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), '{ nope');
    expect(thrown(() => loadConfig(cwd)).message).toContain('dbguard.config.json is not valid JSON');
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ backupDir: 'b', colour: 'red' }));
    const unknownTop = thrown(() => loadConfig(cwd));
    expect(unknownTop.message).toMatch(/^Invalid configuration in dbguard\.config\.json: \(root\): .* \(colour\)$/);
    expect(unknownTop.hint).toMatch(/^Allowed keys: backupDir, requiredTables, compression, .*, remote\.$/);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { app: { url: 'x', remote: { url: 's3://b', bucket: 'x' } } } }));
    const nested = thrown(() => loadConfig(cwd));
    expect(nested.message).toContain('databases.app.remote: ');
    expect(nested.hint).toBe('Allowed keys in databases.app.remote: url, endpoint, region, forcePathStyle, retention, objectLock, keepLocal.');
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ export: { redact: ['users.email'], mask: [] } }));
    expect(thrown(() => loadConfig(cwd)).hint).toBe('Allowed keys in export: redact, include, exclude.');
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ sizeWarningMB: -1, compression: 'zstd:40' }));
    const wrongValues = thrown(() => loadConfig(cwd));
    expect(wrongValues.message).toContain('sizeWarningMB: ');
    expect(wrongValues.message).toContain('compression: expected none, gzip, gzip:<1-9>, zstd or zstd:<1-19>');
    expect(wrongValues.hint).toBeUndefined();
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ compression: 'gzip:9', databases: { 'bad name': { url: 'x' } } }));
    expect(thrown(() => loadConfig(cwd)).message).toMatch(/^Invalid configuration in dbguard\.config\.json: databases\.bad name: /);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ compression: 'gzip:9' }));
    expect(loadConfig(cwd).config).toEqual({ compression: 'gzip:9' });
  });

  it('reads notification channels of every type, and refuses unknown events and misplaced keys', () => {
    const cwd = tempDir();
    const notify = [
      { type: 'slack', url: '${SLACK_URL}', on: ['failure', 'success'] },
      { type: 'discord', url: 'https://discord.example/hook', databases: ['app', 'billing'] },
      { type: 'webhook', url: 'https://example.com/hook', secret: '${HOOK_SECRET}', on: ['pitr-lag'] },
      { type: 'email', url: 'smtp://u:p@mail:587', from: 'db@example.com', to: ['a@example.com', 'b@example.com'], on: ['stale', 'verify-failed', 'recovery'] },
      { type: 'email', url: 'smtps://mail:465', from: 'db@example.com', to: 'ops@example.com' },
      { type: 'ping', url: 'https://hc.example/abc', databases: ['app'] },
    ];
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ notify }));
    expect(loadConfig(cwd).config).toEqual({ notify });
    const refused = (channel: object) => {
      writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ notify: [channel] }));
      return thrown(() => loadConfig(cwd)).message;
    };
    expect(refused({ type: 'slack', url: 'u', on: ['sometimes'] })).toContain('notify.0.on.0: ');
    expect(refused({ type: 'slack', url: 'u', on: [] })).toContain('notify.0.on: ');
    expect(refused({ type: 'ping', url: 'u', on: ['failure'] })).toContain('(on)');
    expect(refused({ type: 'webhook', url: '' })).toContain('notify.0.url: ');
    expect(refused({ type: 'email', url: 'smtp://mail', from: 'a@example.com', to: [] })).toContain('notify.0.to');
    expect(refused({ type: 'teams', url: 'u' })).toContain('notify.0.type: ');
    expect(NOTIFY_EVENTS).toEqual(['failure', 'recovery', 'stale', 'verify-failed', 'success', 'pitr-lag']);
    expect(DEFAULT_NOTIFY_EVENTS).toEqual(NOTIFY_EVENTS.filter((e) => e !== 'success'));
  });

  it('reads every setting of a named database', () => {
    const cwd = tempDir();
    const app = {
      url: '${DATABASE_URL}',
      schedule: '0 * * * *',
      verify: '0 4 * * *',
      maxAge: '26h',
      type: 'automatic',
      timeZone: 'Europe/Berlin',
      jitter: 30000,
      compression: 'zstd:3',
      encryption: { recipients: ['age1x'] },
      retention: { automatic: { keepLast: 3 } },
      remote: { url: 's3://bkt', keepLocal: false, objectLock: { mode: 'COMPLIANCE', days: 30 } },
      requiredTables: ['users'],
      pitr: { enabled: true, base: '0 3 * * *', maxLag: '5m', maxSlotWalMB: 512 },
    };
    const config = { backupDir: 'b', requiredTables: ['orders'], remote: { url: 's3://top', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', objectLock: { mode: 'GOVERNANCE', days: 1 } }, prune: { afterBackup: false, timeZone: 'UTC' }, export: { redact: ['users.email'], include: ['users'], exclude: ['logs'] }, sizeWarningMB: 10, databases: { app, other: { url: 'o.db', pitr: true } } };
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify(config));
    expect(loadConfig(cwd).config).toEqual(config);
    writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ prune: 5 }));
    const wrongType = thrown(() => loadConfig(cwd));
    expect(wrongType.message).toContain('prune: ');
    expect(wrongType.hint).toBeUndefined();
    for (const [key, value] of [['maxAge', -1], ['type', 'nightly'], ['jitter', ''], ['pitr', { maxSlotWalMB: 0 }], ['remote', { objectLock: { mode: 'GOVERNANCE', days: 0 } }], ['encryption', { recipients: [''] }]] as const) {
      writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify({ databases: { app: { url: 'x', [key]: value } } }));
      expect(thrown(() => loadConfig(cwd)).message, key).toContain(`databases.app.${key}`);
    }
  });

  it('says which JavaScript config cannot be loaded, and why', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'dbguard.config.js'), 'export default {;\n');
    expect(thrown(() => loadConfig(cwd)).message).toContain(`Cannot load ${path.join(cwd, 'dbguard.config.js')}`);
  });
});

describe('named databases', () => {
  const env = { APP_URL: 'postgresql://app:secret@db:5432/app', OTHER: 'file:./other.db' };

  it('without databases, the one database is "default", from --db, DATABASE_URL or .env', () => {
    const cwd = tempDir();
    expect(databaseNames({})).toEqual(['default']);
    const db = resolveNamedDatabase({ config: { requiredTables: ['users'] }, env: { DATABASE_URL: 'file:./dev.db' }, cwd });
    expect(db).toMatchObject({
      name: 'default',
      source: 'env',
      target: { engine: 'sqlite', path: path.join(cwd, 'dev.db') },
      requiredTables: ['users'],
      schedule: undefined,
      verify: undefined,
      type: 'automatic',
      maxAgeMs: DEFAULT_MAX_AGE_MS,
      jitterMs: 0,
      pitr: undefined,
    });
    expect(DEFAULT_MAX_AGE_MS).toBe(26 * HOUR);
    expect(resolveNamedDatabase({ config: {}, env: { DATABASE_URL: 'file:./dev.db' }, cwd, db: 'a.db' })).toMatchObject({ source: 'flag', target: { path: path.join(cwd, 'a.db') } });
    expect(resolveDatabases({ config: {}, env: { DATABASE_URL: 'x.db' }, cwd }).map((d) => d.name)).toEqual(['default']);
  });

  it('picks the only named database, the one asked for, or --db; refuses ambiguity and unknown names', () => {
    const cwd = tempDir();
    const one = { databases: { app: { url: '${APP_URL}' } } };
    expect(resolveNamedDatabase({ config: one, env, cwd })).toMatchObject({ name: 'app', source: 'config', target: { engine: 'postgres', display: 'postgresql://db:5432/app' } });
    expect(resolveNamedDatabase({ config: one, env, cwd, db: 'y.db' })).toMatchObject({ name: 'default', source: 'flag' });
    const two = { databases: { app: { url: '${APP_URL}' }, other: { url: '${OTHER}' } } };
    expect(databaseNames(two)).toEqual(['app', 'other']);
    expect(resolveNamedDatabase({ config: two, env, cwd, name: 'other' })).toMatchObject({ name: 'other', target: { path: path.join(cwd, 'other.db') } });
    expect(resolveDatabases({ config: two, env, cwd }).map((d) => d.name)).toEqual(['app', 'other']);
    const ambiguous = thrown(() => resolveNamedDatabase({ config: two, env, cwd }));
    expect(ambiguous.message).toContain('(app, other)');
    const unknown = thrown(() => resolveNamedDatabase({ config: two, env, cwd, name: 'nope' }));
    expect(unknown.message).toContain('"nope"');
    expect(unknown.hint).toBe('Configured databases: app, other.');
    expect(thrown(() => resolveNamedDatabase({ config: {}, env, cwd, name: 'nope' })).hint).toContain('Name databases under "databases"');
    expect(() => resolveNamedDatabase({ config: two, env, cwd, name: 'app', db: 'x.db' })).toThrow(UsageError);
    expect(resolveNamedDatabase({ config: {}, env: { DATABASE_URL: 'x.db' }, cwd, name: 'default' }).name).toBe('default');
  });

  it('reads schedules, freshness, jitter and type; a schedule sets the freshness to two of its intervals', () => {
    const cwd = tempDir();
    const config = {
      databases: {
        hourly: { url: 'h.db', schedule: '0 * * * *', timeZone: 'Europe/Berlin', type: 'manual' as const, jitter: '30s' },
        fixed: { url: 'f.db', schedule: '0 * * * *', verify: '30 4 * * *', maxAge: '3h', jitter: 1500 },
      },
    };
    const [hourly, fixed] = resolveDatabases({ config, env: {}, cwd });
    expect(hourly).toMatchObject({ schedule: { cron: '0 * * * *', timeZone: 'Europe/Berlin' }, verify: undefined, type: 'manual', maxAgeMs: 2 * HOUR, jitterMs: 30_000 });
    expect(fixed).toMatchObject({ schedule: { cron: '0 * * * *', timeZone: undefined }, verify: { cron: '30 4 * * *' }, type: 'automatic', maxAgeMs: 3 * HOUR, jitterMs: 1500 });
    const bad = thrown(() => resolveDatabases({ config: { databases: { x: { url: 'x.db', verify: 'every day' } } }, env: {}, cwd }));
    expect(bad.message).toMatch(/^databases\.x\.verify: invalid schedule "every day"/);
    expect(thrown(() => resolveDatabases({ config: { databases: { x: { url: 'x.db', schedule: '0 * * * *', timeZone: 'Mars/Olympus' } } }, env: {}, cwd })).message).toMatch(
      /^databases\.x\.schedule: invalid schedule "0 \* \* \* \*" in time zone Mars\/Olympus/,
    );
    expect(thrown(() => resolveDatabases({ config: { databases: { x: { url: 'redis://x' } } }, env: {}, cwd })).message).toMatch(/^databases\.x\.url: Unsupported/);
  });

  it('merges a database\'s backup settings over the top-level ones', () => {
    const cwd = tempDir();
    const config = {
      compression: 'gzip',
      encryption: { recipients: ['age1top'] },
      retention: { manual: { keepLast: 3 }, automatic: { keepLast: 9 } },
      remote: { url: 's3://top', region: 'eu-west-1' },
      sizeWarningMB: 2,
      databases: {
        plain: { url: 'p.db' },
        own: { url: 'o.db', compression: 'none', encryption: { recipients: ['age1own'] }, retention: { manual: { keepLast: 1 } }, remote: { url: 's3://own/sub' }, requiredTables: ['t'] },
      },
    };
    const [plain, own] = resolveDatabases({ config, env: {}, cwd });
    expect(plain!.backup).toMatchObject({ compression: { algorithm: 'gzip' }, encryption: { recipients: ['age1top'] }, retention: { policies: config.retention }, sizeWarningBytes: 2 * 1024 * 1024 });
    expect(plain!.backup.remote).toMatchObject({ bucket: 'top', prefix: '', region: 'eu-west-1' });
    expect(own!.backup).toMatchObject({ compression: { algorithm: 'none' }, encryption: { recipients: ['age1own'] }, retention: { policies: { manual: { keepLast: 1 }, automatic: { keepLast: 9 } } } });
    expect(own!.backup.remote).toMatchObject({ bucket: 'own', prefix: 'sub', region: 'eu-west-1' });
    expect(own!.requiredTables).toEqual(['t']);
  });

  it('point-in-time recovery: defaults, settings, off, and only for PostgreSQL', () => {
    const cwd = tempDir();
    const pg = (pitr: unknown) => resolveNamedDatabase({ config: { databases: { app: { url: '${APP_URL}', timeZone: 'UTC', pitr } } } as never, env, cwd }).pitr;
    expect(pg(true)).toEqual({ base: { cron: '0 3 * * *', timeZone: 'UTC' }, maxLagMs: 5 * 60_000, maxSlotWalBytes: 1024 * 1024 * 1024 });
    expect(pg({ base: '0 */6 * * *', maxLag: '2m', maxSlotWalMB: 64 })).toEqual({ base: { cron: '0 */6 * * *', timeZone: 'UTC' }, maxLagMs: 120_000, maxSlotWalBytes: 64 * 1024 * 1024 });
    expect(pg({ maxSlotWalMB: 32 })!.maxSlotWalBytes).toBe(32 * 1024 * 1024);
    expect(thrown(() => pg({ maxSlotWalMB: 31 })).message).toBe('databases.app.pitr.maxSlotWalMB: at least 32 (it is 31).');
    expect(pg({ maxLag: '1s' })!.maxLagMs).toBe(1000);
    expect(pg(false)).toBeUndefined();
    expect(pg({ enabled: false })).toBeUndefined();
    expect(pg(undefined)).toBeUndefined();
    expect(thrown(() => pg({ maxLag: '999ms' })).message).toBe('databases.app.pitr.maxLag: at least 1s.');
    expect(thrown(() => pg({ base: 'never' })).message).toMatch(/^databases\.app\.pitr\.base: invalid schedule/);
    const sqlite = thrown(() => resolveNamedDatabase({ config: { databases: { s: { url: 's.db', pitr: true } } }, env, cwd }));
    expect(sqlite.message).toBe('databases.s.pitr: point-in-time recovery is for PostgreSQL databases.');
    expect(sqlite.hint).toBe('Remove "pitr" from this SQLite database.');
  });
});

describe('${NAME} references and .env', () => {
  it('replaces references in strings, arrays and objects, and names a missing variable and where it is used', () => {
    expect(interpolateEnv({ url: 'postgresql://${U}:${P}@h/db', list: ['${U}', 'plain'], n: 3, off: false, none: null }, { U: 'me', P: 's3cret' }, 'databases.app')).toEqual({
      url: 'postgresql://me:s3cret@h/db',
      list: ['me', 'plain'],
      n: 3,
      off: false,
      none: null,
    });
    expect(interpolateEnv('$U and ${ U } stay', { U: 'x' }, 'w')).toBe('$U and ${ U } stay');
    const missing = thrown(() => interpolateEnv({ list: ['ok', '${GONE}'] }, { GONE: '' }, 'databases.app'));
    expect(missing.message).toBe('databases.app.list[1] uses ${GONE}, but GONE is not set.');
    expect(missing.hint).toBe('Set the GONE environment variable (or add GONE=... to ./.env).');
  });

  it('completes the environment with ./.env, the environment winning', () => {
    const cwd = tempDir();
    const env = { A: 'from-env' };
    expect(withDotenv(env, cwd)).toBe(env);
    writeFileSync(path.join(cwd, '.env'), 'A=from-file\nB=only-file\n');
    expect(withDotenv(env, cwd)).toEqual({ A: 'from-env', B: 'only-file' });
    const db = resolveNamedDatabase({ config: { databases: { app: { url: 'file:./${B}.db' } } }, env, cwd });
    expect(db.target).toMatchObject({ path: path.join(cwd, 'only-file.db') });
  });
});

describe('backup options from the configuration', () => {
  it('encrypts to recipients from the environment first, then the config, else with a passphrase', () => {
    const config = { encryption: { recipients: ['age1config'] } };
    expect(encryptionKeys(config, { DBGUARD_AGE_RECIPIENTS: 'age1a, age1b\nage1c', DBGUARD_PASSPHRASE: 'pw' })).toEqual({ recipients: ['age1a', 'age1b', 'age1c'] });
    expect(encryptionKeys(config, { DBGUARD_AGE_RECIPIENTS: ' ', DBGUARD_PASSPHRASE: 'pw' })).toEqual({ recipients: ['age1config'] });
    expect(encryptionKeys({}, { DBGUARD_PASSPHRASE: 'pw' })).toEqual({ recipients: [], passphrase: 'pw' });
    expect(encryptionKeys({}, { DBGUARD_PASSPHRASE: '' })).toBeUndefined();
    expect(encryptionKeys({ encryption: { recipients: [] } }, {})).toBeUndefined();
  });

  it('prune.afterBackup false turns retention off; otherwise its policies and time zone apply', () => {
    expect(configuredBackupOptions({ prune: { afterBackup: false } }, {}).retention).toBe(false);
    expect(configuredBackupOptions({ prune: { afterBackup: true, timeZone: 'Europe/Paris' } }, {}).retention).toEqual({ policies: undefined, timeZone: 'Europe/Paris' });
    expect(configuredBackupOptions({}, {})).toEqual({ compression: undefined, encryption: undefined, retention: { policies: undefined, timeZone: undefined }, sizeWarningBytes: undefined, remote: undefined });
  });
});

describe('remote settings', () => {
  it('parses s3:// URLs into bucket and prefix', () => {
    expect(parseRemoteUrl('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseRemoteUrl(' s3://my.bucket/a//b/ ')).toEqual({ bucket: 'my.bucket', prefix: 'a/b' });
    for (const bad of ['https://bucket', 's3://', 's3://b/x?y', 'xs3://bucket', 's3://bucket#frag']) expect(() => parseRemoteUrl(bad), bad).toThrow(/^Invalid remote/);
    for (const bad of ['s3://ab', 's3://Upper', 's3://-start', 's3://end-', `s3://${'a'.repeat(64)}`]) expect(() => parseRemoteUrl(bad), bad).toThrow(/^Invalid bucket name/);
    expect(parseRemoteUrl(`s3://${'a'.repeat(63)}`).bucket).toHaveLength(63);
    expect(parseRemoteUrl('s3://abc').bucket).toBe('abc');
  });

  it('takes the environment over the config file, and keeps local copies unless told not to', () => {
    expect(resolveRemote(undefined, {})).toBeUndefined();
    expect(resolveRemote({}, {})).toBeUndefined();
    expect(thrown(() => resolveRemote({ region: 'x' }, {})).message).toBe('remote is configured without a url.');
    expect(resolveRemote({ url: 's3://conf/p', endpoint: 'http://127.0.0.1:9000', region: 'r1', forcePathStyle: true, keepLocal: false, objectLock: { mode: 'GOVERNANCE', days: 3 } }, {})).toEqual({
      bucket: 'conf',
      prefix: 'p',
      endpoint: 'http://127.0.0.1:9000',
      region: 'r1',
      forcePathStyle: true,
      objectLock: { mode: 'GOVERNANCE', days: 3 },
      retention: undefined,
      keepLocal: false,
    });
    const env = { DBGUARD_REMOTE: 's3://envb', DBGUARD_S3_ENDPOINT: 'https://s3.example.com', DBGUARD_S3_REGION: 'r2', DBGUARD_S3_FORCE_PATH_STYLE: 'false' };
    expect(resolveRemote({ url: 's3://conf', endpoint: 'http://x', region: 'r1', forcePathStyle: true }, env)).toMatchObject({
      bucket: 'envb',
      endpoint: 'https://s3.example.com',
      region: 'r2',
      forcePathStyle: false,
      keepLocal: true,
    });
    expect(resolveRemote(undefined, { DBGUARD_REMOTE: 's3://bbb', DBGUARD_S3_FORCE_PATH_STYLE: '1' })!.forcePathStyle).toBe(true);
    expect(resolveRemote(undefined, { DBGUARD_REMOTE: 's3://bbb', DBGUARD_S3_FORCE_PATH_STYLE: 'true' })!.forcePathStyle).toBe(true);
    expect(resolveRemote({ url: 's3://bbb', forcePathStyle: true }, { DBGUARD_S3_FORCE_PATH_STYLE: '' })!.forcePathStyle).toBe(true);
    expect(resolveRemote({ url: 's3://bbb', forcePathStyle: true }, { DBGUARD_S3_FORCE_PATH_STYLE: '0' })!.forcePathStyle).toBe(false);
    expect(resolveRemote(undefined, { DBGUARD_REMOTE: 's3://bbb', DBGUARD_S3_FORCE_PATH_STYLE: '' })!.forcePathStyle).toBeUndefined();
    expect(thrown(() => resolveRemote(undefined, { DBGUARD_REMOTE: 's3://bbb', DBGUARD_S3_FORCE_PATH_STYLE: 'yes' })).message).toContain('"yes"');
  });

  it('refuses an endpoint that is not plain http(s), without echoing it', () => {
    for (const endpoint of ['ftp://host', 'http://user:secret@host', 'http://user@host', 'https://host/@x', 'not a url']) {
      const error = thrown(() => resolveRemote({ url: 's3://bucket', endpoint }, {}));
      expect(error.message, endpoint).toBe('Invalid S3 endpoint: expected http(s)://host[:port], without credentials in it.');
    }
    expect(resolveRemote({ url: 's3://bucket', endpoint: 'http://host:9000' }, {})!.endpoint).toBe('http://host:9000');
  });

  it('describes a remote without credentials', () => {
    expect(describeRemote({ bucket: 'b', prefix: '' })).toBe('s3://b');
    expect(describeRemote({ bucket: 'b', prefix: 'p/q', endpoint: 'http://h:9000' })).toBe('s3://b/p/q at http://h:9000');
  });
});

describe('schedules and durations', () => {
  it('computes the next run and the interval in the schedule\'s time zone', () => {
    const after = new Date('2026-03-01T10:20:00Z');
    expect(nextRun({ cron: '0 * * * *' }, after)!.toISOString()).toBe('2026-03-01T11:00:00.000Z');
    expect(nextRun({ cron: '0 12 * * *', timeZone: 'Asia/Tokyo' }, after)!.toISOString()).toBe('2026-03-02T03:00:00.000Z');
    expect(nextRun({ cron: '30 0 0 * * *' }, after)).toEqual(new Date(new Date(after).setHours(24, 0, 30, 0)));
    expect(scheduleInterval({ cron: '*/15 * * * *' }, after)).toBe(15 * 60_000);
    expect(scheduleInterval({ cron: '0 0 29 2 *' }, new Date('2026-01-01T00:00:00Z'))).toBeGreaterThan(365 * 24 * HOUR);
    expect(nextRun({ cron: '0 0 1 1 *' }, new Date('2026-06-01T00:00:00Z'))).not.toBeNull();
    expect(thrown(() => cronOf({ cron: '0 * * *' }, 'where')).message).toMatch(/^where: invalid schedule "0 \* \* \*": /);
    expect(thrown(() => cronOf({ cron: '0 * * *' }, 'where')).message).not.toContain('time zone');
    // February 30th never comes: no next run, no interval.
    expect(nextRun({ cron: '0 0 30 2 *' }, after)).toBeNull();
    expect(scheduleInterval({ cron: '0 0 30 2 *' }, after)).toBeNull();
    // croner would read a seventh field as the year; a schedule has 5 or 6.
    expect(() => cronOf({ cron: '0 0 0 * * * 2026' }, 'where')).toThrow(/^where: invalid schedule/);
    expect(cronOf({ cron: '0 0 0 * * *' }, 'where').nextRun(after)?.toISOString()).toBe(new Date(new Date(after).setHours(24, 0, 0, 0)).toISOString());
  });

  it('reads durations with units, or a number of milliseconds', () => {
    expect([parseDuration('250ms', 'w'), parseDuration('90s', 'w'), parseDuration('30m', 'w'), parseDuration(' 26h ', 'w'), parseDuration('1.5d', 'w'), parseDuration('1.25h', 'w'), parseDuration('2 w', 'w'), parseDuration(42, 'w')]).toEqual([
      250, 90_000, 1_800_000, 26 * HOUR, 36 * HOUR, 75 * 60_000, 14 * 24 * HOUR, 42,
    ]);
    for (const bad of ['', '10', 'h', '5y', '-1h', '1h ago', 'x1h']) expect(() => parseDuration(bad, 'maxAge'), bad).toThrow(/^maxAge: ".*" is not a duration\.$/);
  });
});

describe('a project folder that holds prisma/schema.prisma', () => {
  it('resolves a named database\'s file: URL as Prisma does', () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'prisma'));
    writeFileSync(path.join(cwd, 'prisma', 'schema.prisma'), '');
    const db = resolveNamedDatabase({ config: { databases: { app: { url: 'file:./dev.db' } } }, env: {}, cwd });
    expect(db.target).toMatchObject({ path: path.join(cwd, 'prisma', 'dev.db') });
  });
});
