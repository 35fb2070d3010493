import { describe, expect, it } from 'vitest';
import type { BackupManifest, Verification } from '../../src/storage/manifest.js';
import {
  DEFAULT_RETENTION_POLICIES,
  decideRetention,
  isoWeekOf,
  resolveRetentionPolicies,
  retentionDatabaseKey,
  retentionPoliciesSchema,
  retentionPolicySchema,
  toRetentionCandidate,
  type RetentionCandidate,
  type RetentionContext,
  type RetentionDecision,
  type RetentionPolicies,
} from '../../src/core/retention.js';
import { DbguardError, UsageError } from '../../src/errors.js';

const DB = 'postgres://localhost:5432/app';
const OTHER_DB = 'sqlite:///shop.db';
const DAY = 86_400_000;

function backup(id: string, createdAt: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { id, type: 'automatic', createdAt, database: DB, ok: true, ...extra };
}

function decide(
  backups: RetentionCandidate[],
  policies: RetentionPolicies,
  now: string,
  context: Partial<RetentionContext> = {},
): RetentionDecision[] {
  return decideRetention(backups, policies, new Date(now), { inUse: new Set(), ...context });
}

/** `id -> "action rule"`, the shape most assertions compare against exactly. */
function outcome(decisions: RetentionDecision[]): Record<string, string> {
  return Object.fromEntries(decisions.map((d) => [d.id, `${d.action} ${d.rule}`]));
}

function keptIds(decisions: RetentionDecision[]): string[] {
  return decisions.filter((d) => d.action === 'keep').map((d) => d.id).sort();
}

function ago(now: string, ms: number): string {
  return new Date(Date.parse(now) - ms).toISOString();
}

/** One backup a day at `time` (UTC), ids are the ISO timestamps. */
function daily(from: string, to: string, time: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  for (let t = Date.parse(`${from}T${time}Z`); t <= Date.parse(`${to}T${time}Z`); t += DAY) {
    const iso = new Date(t).toISOString();
    out.push(backup(iso, iso, extra));
  }
  return out;
}

describe('policy defaults and schema', () => {
  it('has the defaults of the issue: automatic 7 days, migration 30, pre-restore 30, the 2 newest base backups, manual and export never pruned', () => {
    expect(DEFAULT_RETENTION_POLICIES).toEqual({
      manual: {},
      automatic: { maxAgeDays: 7 },
      migration: { maxAgeDays: 30 },
      'pre-restore': { maxAgeDays: 30 },
      export: {},
      base: { keepLast: 2 },
    });
    expect(Object.isFrozen(DEFAULT_RETENTION_POLICIES.automatic)).toBe(true);
  });

  it('replaces a configured type whole and keeps the other defaults', () => {
    expect(resolveRetentionPolicies({ automatic: { keepLast: 3 }, manual: {} })).toEqual({
      manual: {},
      automatic: { keepLast: 3 },
      migration: { maxAgeDays: 30 },
      'pre-restore': { maxAgeDays: 30 },
      export: {},
      base: { keepLast: 2 },
    });
    expect(resolveRetentionPolicies()).toEqual(DEFAULT_RETENTION_POLICIES);
  });

  it.each([
    [{ keepLast: 3, maxAgeDays: 7, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, true],
    [{}, true],
    [{ keepLast: 0 }, false],
    [{ maxAgeDays: -1 }, false],
    [{ keepDaily: 1.5 }, false],
    [{ keepWeekly: '4' }, false],
    [{ keepYearly: 2 }, false],
  ])('policy %j valid: %s', (policy, valid) => {
    expect(retentionPolicySchema.safeParse(policy).success).toBe(valid);
  });

  it('names the path of a bad key in the policies block', () => {
    expect(retentionPoliciesSchema.safeParse({ automatic: { maxAgeDays: 7 }, 'pre-restore': {} }).success).toBe(true);
    const unknownType = retentionPoliciesSchema.safeParse({ nightly: {} });
    expect(unknownType.success).toBe(false);
    const badValue = retentionPoliciesSchema.safeParse({ migration: { keepLast: 'all' } });
    expect(badValue.error?.issues[0]?.path).toEqual(['migration', 'keepLast']);
  });
});

describe('manifest to candidate', () => {
  const manifest = {
    schemaVersion: 1,
    id: '20240101-020000-app-automatic',
    type: 'automatic',
    label: null,
    description: null,
    createdAt: '2024-01-01T02:00:00.000Z',
    engine: 'postgres',
    serverVersion: '15.6',
    database: { name: 'app', host: 'localhost:5432', schema: null },
    format: 'pg-custom',
    compression: 'none',
    fileName: 'x.dump',
    size: 1,
    sha256: '0'.repeat(64),
    tables: {},
    durationMs: 1,
    dbguardVersion: '0.1.0',
  } satisfies BackupManifest;

  it('maps id, type, time, database key and verification state', () => {
    expect(toRetentionCandidate(manifest)).toEqual({
      id: '20240101-020000-app-automatic',
      type: 'automatic',
      createdAt: '2024-01-01T02:00:00.000Z',
      database: 'postgres://localhost:5432/app',
      ok: undefined,
    });
    const verification: Verification = { ok: false, checksum: 'mismatch', readable: 'ok', rowCounts: 'skipped', restoreTest: false, problems: ['x'] };
    expect(toRetentionCandidate({ ...manifest, verification }).ok).toBe(false);
  });

  it('separates databases by engine, host, name, schema scope and SQLite file', () => {
    const keys = [
      retentionDatabaseKey(manifest),
      retentionDatabaseKey({ ...manifest, database: { ...manifest.database, host: 'db.internal:5432' } }),
      retentionDatabaseKey({ ...manifest, database: { ...manifest.database, schema: 'billing' } }),
      retentionDatabaseKey({ engine: 'sqlite', database: { name: 'app', host: null, schema: null } }),
      retentionDatabaseKey({ engine: 'sqlite', database: { name: 'app', host: null, schema: null, file: '/srv/a/app' } }),
      retentionDatabaseKey({ engine: 'sqlite', database: { name: 'app', host: null, schema: null, file: '/srv/b/app' } }),
    ];
    expect(keys).toEqual([
      'postgres://localhost:5432/app',
      'postgres://db.internal:5432/app',
      'postgres://localhost:5432/app#billing',
      'sqlite:///app',
      'sqlite:///app@/srv/a/app',
      'sqlite:///app@/srv/b/app',
    ]);
  });
});

describe('policy rules', () => {
  const now = '2024-06-15T12:00:00.000Z';

  it('never prunes manual and export backups under the defaults, nor a type with an empty or missing policy', () => {
    const backups = [
      backup('auto-new', ago(now, DAY)),
      backup('manual-old', '2019-01-01T00:00:00.000Z', { type: 'manual' }),
      backup('export-old', '2019-01-01T00:00:00.000Z', { type: 'export' }),
      backup('pre-restore-old', '2019-01-01T00:00:00.000Z', { type: 'pre-restore' }),
    ];
    expect(outcome(decide(backups, DEFAULT_RETENTION_POLICIES, now))).toEqual({
      'auto-new': 'keep newest-successful',
      'manual-old': 'keep never-pruned',
      'export-old': 'keep never-pruned',
      'pre-restore-old': 'delete expired',
    });
    expect(outcome(decide(backups, { automatic: { maxAgeDays: 7 }, 'pre-restore': {} }, now))).toEqual({
      'auto-new': 'keep newest-successful',
      'manual-old': 'keep never-pruned',
      'export-old': 'keep never-pruned',
      'pre-restore-old': 'keep never-pruned',
    });
  });

  it('maxAgeDays keeps what is strictly younger, by elapsed time', () => {
    const backups = [
      backup('1d', ago(now, DAY)),
      backup('6d23h59m', ago(now, 7 * DAY - 60_000)),
      backup('7d', ago(now, 7 * DAY)),
      backup('8d', ago(now, 8 * DAY)),
    ];
    const decisions = decide(backups, { automatic: { maxAgeDays: 7 } }, now);
    expect(decisions).toEqual([
      { id: '1d', action: 'keep', rule: 'newest-successful', reason: 'newest successful backup of this database' },
      { id: '6d23h59m', action: 'keep', rule: 'max-age', reason: 'younger than maxAgeDays 7' },
      { id: '7d', action: 'delete', rule: 'expired', reason: 'not selected by maxAgeDays 7' },
      { id: '8d', action: 'delete', rule: 'expired', reason: 'not selected by maxAgeDays 7' },
    ]);
  });

  it('keepLast keeps the N newest, in input order whatever the order of the input', () => {
    const backups = [1, 5, 2, 6, 3, 4].map((n) => backup(`b${n}`, ago(now, n * DAY)));
    const decisions = decide(backups, { automatic: { keepLast: 3 } }, now);
    expect(decisions.map((d) => d.id)).toEqual(['b1', 'b5', 'b2', 'b6', 'b3', 'b4']);
    expect(outcome(decisions)).toEqual({
      b1: 'keep newest-successful',
      b2: 'keep keep-last',
      b3: 'keep keep-last',
      b4: 'delete expired',
      b5: 'delete expired',
      b6: 'delete expired',
    });
    expect(decisions.find((d) => d.id === 'b3')?.reason).toBe('3rd newest of keepLast 3');
  });

  it('a backup is kept if any rule selects it, and reported under the first rule that does', () => {
    const backups = [1, 2, 3, 4, 5].map((n) => backup(`b${n}`, ago(now, n * DAY + 3_600_000)));
    expect(outcome(decide(backups, { automatic: { keepLast: 2, maxAgeDays: 4 } }, now))).toEqual({
      b1: 'keep newest-successful',
      b2: 'keep keep-last',
      b3: 'keep max-age',
      b4: 'delete expired',
      b5: 'delete expired',
    });
  });

  it('keep rules count only usable backups: a run of bad ones does not push the good ones out', () => {
    const backups = [
      backup('good1', ago(now, 1 * DAY)),
      backup('bad', ago(now, 2 * DAY), { ok: false }),
      backup('failed', ago(now, 3 * DAY), { failed: true, ok: undefined }),
      backup('unverified', ago(now, 4 * DAY), { ok: undefined }),
      backup('good3', ago(now, 5 * DAY)),
    ];
    const decisions = decide(backups, { automatic: { keepLast: 2 } }, now);
    expect(outcome(decisions)).toEqual({
      good1: 'keep newest-successful',
      bad: 'delete expired',
      failed: 'delete expired',
      unverified: 'keep keep-last',
      good3: 'delete expired',
    });
    expect(decisions.find((d) => d.id === 'bad')?.reason).toBe('failed verification; not selected by keepLast 2');
    expect(decisions.find((d) => d.id === 'failed')?.reason).toBe('failed backup; not selected by keepLast 2');
  });

  it('applies each type its own policy and counts keepLast per type', () => {
    const old = 40 * DAY;
    const backups = [
      backup('a1', ago(now, 1 * DAY)),
      backup('a2', ago(now, 2 * DAY)),
      backup('a3', ago(now, 3 * DAY)),
      backup('m1', ago(now, old + 1 * DAY), { type: 'migration' }),
      backup('m2', ago(now, old + 2 * DAY), { type: 'migration' }),
      backup('m3', ago(now, old + 3 * DAY), { type: 'migration' }),
    ];
    expect(outcome(decide(backups, { automatic: { keepLast: 2 }, migration: { keepLast: 2 } }, now))).toEqual({
      a1: 'keep newest-successful',
      a2: 'keep keep-last',
      a3: 'delete expired',
      m1: 'keep keep-last',
      m2: 'keep keep-last',
      m3: 'delete expired',
    });
  });

  it('rejects an invalid current time instead of pruning by it', () => {
    expect(() => decide([backup('a', '2024-06-01T00:00:00.000Z')], { automatic: { maxAgeDays: 1 } }, 'not a date')).toThrow(
      /valid current time/,
    );
  });

  it('a policy without maxAgeDays keeps nothing by age: only its keep rules select', () => {
    const now = '2024-06-15T12:00:00.000Z';
    const backups = [backup('new', ago(now, DAY)), backup('mid', ago(now, 2 * DAY)), backup('old', ago(now, 3 * DAY))];
    expect(outcome(decide(backups, { automatic: { keepLast: 1 } }, now))).toEqual({
      new: 'keep newest-successful',
      mid: 'delete expired',
      old: 'delete expired',
    });
  });

  it('rejects an unknown time zone and an unparseable creation time instead of guessing', () => {
    const backups = [backup('a', ago(now, DAY))];
    expect(() => decide(backups, {}, now, { timeZone: 'Mars/Olympus' })).toThrow(UsageError);
    expect(() => decide([backup('x', 'yesterday')], {}, now)).toThrow(DbguardError);
    expect(() => decide([backup('x', 'yesterday')], {}, now)).toThrow(/Backup x has an invalid creation time/);
  });
});

describe('grandfather-father-son over a simulated year', () => {
  const now = '2024-12-31T12:00:00.000Z';
  const year = daily('2024-01-01', '2024-12-31', '03:00:00.000');
  const at = (date: string): string => `${date}T03:00:00.000Z`;
  const monthEnds = ['01-31', '02-29', '03-31', '04-30', '05-31', '06-30', '07-31', '08-31', '09-30', '10-31', '11-30', '12-31'].map(
    (d) => at(`2024-${d}`),
  );
  const lastWeek = ['12-25', '12-26', '12-27', '12-28', '12-29', '12-30', '12-31'].map((d) => at(`2024-${d}`));
  // 2024-12-31 is a Tuesday in ISO week 2025-W01; the Sundays before it end weeks 52, 51, 50.
  const weekEnds = ['12-15', '12-22', '12-29', '12-31'].map((d) => at(`2024-${d}`));

  it('simulates 366 daily backups (2024 is a leap year)', () => {
    expect(year).toHaveLength(366);
  });

  it.each([
    ['keepDaily 7', { keepDaily: 7 }, lastWeek],
    ['keepWeekly 4', { keepWeekly: 4 }, weekEnds],
    ['keepMonthly 12', { keepMonthly: 12 }, monthEnds],
    ['keepMonthly 3', { keepMonthly: 3 }, monthEnds.slice(-3)],
  ])('%s keeps exactly the expected backups', (_name, policy, expected) => {
    const decisions = decide(year, { automatic: policy }, now);
    expect(keptIds(decisions)).toEqual([...expected].sort());
    expect(decisions.filter((d) => d.action === 'delete')).toHaveLength(366 - expected.length);
  });

  it('keepDaily 7 + keepWeekly 4 + keepMonthly 12 keeps their union (20), each under the first rule that chose it', () => {
    const decisions = decide(year, { automatic: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12 } }, now);
    const kept = decisions.filter((d) => d.action === 'keep');
    expect(kept).toHaveLength(20);
    expect(decisions.filter((d) => d.action === 'delete').every((d) => d.rule === 'expired')).toBe(true);
    const byRule = (rule: string): string[] => kept.filter((d) => d.rule === rule).map((d) => d.id).sort();
    expect(byRule('newest-successful')).toEqual([at('2024-12-31')]);
    expect(byRule('keep-daily')).toEqual(lastWeek.slice(0, 6));
    expect(byRule('keep-weekly')).toEqual([at('2024-12-15'), at('2024-12-22')]);
    expect(byRule('keep-monthly')).toEqual(monthEnds.slice(0, 11));
    expect(decisions.find((d) => d.id === at('2024-12-29'))?.reason).toBe('newest of day 2024-12-29 (3rd of 7)');
    expect(decisions.find((d) => d.id === at('2024-12-22'))?.reason).toBe('newest of ISO week 2024-W51 (3rd of 4)');
    expect(decisions.find((d) => d.id === at('2024-02-29'))?.reason).toBe('newest of month 2024-02 (11th of 12)');
  });

  it('counts months in the configured time zone: 23:30 UTC is already the next day in Berlin', () => {
    const late = daily('2024-01-01', '2024-12-31', '23:30:00.000');
    const lateNow = '2025-01-01T06:00:00.000Z';
    const utc = decide(late, { automatic: { keepMonthly: 12 } }, lateNow);
    expect(keptIds(utc)).toEqual(monthEnds.map((id) => id.replace('03:00', '23:30')).sort());

    // In Berlin the year's backups fall on local 2 January 2024 .. 1 January 2025: 13 local months, the newest
    // of each is the backup of the local month's last day, taken at 23:30 UTC the day before.
    const berlin = decide(late, { automatic: { keepMonthly: 12 } }, lateNow, { timeZone: 'Europe/Berlin' });
    const berlinExpected = [
      '2024-12-31', // local 2025-01-01
      '2024-12-30',
      '2024-11-29',
      '2024-10-30',
      '2024-09-29',
      '2024-08-30',
      '2024-07-30',
      '2024-06-29',
      '2024-05-30',
      '2024-04-29',
      '2024-03-30',
      '2024-02-28', // local 2024-02-29
    ].map((d) => `${d}T23:30:00.000Z`);
    expect(keptIds(berlin)).toEqual(berlinExpected.sort());
  });
});

describe('daylight saving time (Europe/Berlin)', () => {
  const berlin = { timeZone: 'Europe/Berlin' };

  it('spring forward: two backups 23 h apart around the short day fall on different local days', () => {
    // 31 March 2024 lasts 23 h in Berlin: 2024-03-30T23:00Z .. 2024-03-31T22:00Z.
    const backups = [
      backup('local-03-31-00:30', '2024-03-30T23:30:00.000Z'),
      backup('local-04-01-00:30', '2024-03-31T22:30:00.000Z'),
      backup('local-04-01-14:00', '2024-04-01T12:00:00.000Z'),
    ];
    const policies = { automatic: { keepDaily: 3 } };
    const now = '2024-04-01T13:00:00.000Z';
    expect(outcome(decide(backups, policies, now, berlin))).toEqual({
      'local-03-31-00:30': 'keep keep-daily',
      'local-04-01-00:30': 'delete expired',
      'local-04-01-14:00': 'keep newest-successful',
    });
    expect(outcome(decide(backups, policies, now))).toEqual({
      'local-03-31-00:30': 'keep keep-daily',
      'local-04-01-00:30': 'keep keep-daily',
      'local-04-01-14:00': 'keep newest-successful',
    });
  });

  it('fall back: a 25 h local day holds backups almost 25 h apart as one day', () => {
    // 27 October 2024 lasts 25 h in Berlin: 2024-10-26T22:00Z .. 2024-10-27T23:00Z.
    const backups = [
      backup('local-10-26-23:59', '2024-10-26T21:59:00.000Z'),
      backup('local-10-27-00:00', '2024-10-26T22:00:00.000Z'),
      backup('local-10-27-23:59', '2024-10-27T22:59:00.000Z'),
      backup('local-10-28-00:00', '2024-10-27T23:00:00.000Z'),
    ];
    const policies = { automatic: { keepDaily: 10 } };
    const now = '2024-10-28T08:00:00.000Z';
    expect(outcome(decide(backups, policies, now, berlin))).toEqual({
      'local-10-26-23:59': 'keep keep-daily',
      'local-10-27-00:00': 'delete expired',
      'local-10-27-23:59': 'keep keep-daily',
      'local-10-28-00:00': 'keep newest-successful',
    });
    expect(outcome(decide(backups, policies, now))).toEqual({
      'local-10-26-23:59': 'delete expired',
      'local-10-27-00:00': 'keep keep-daily',
      'local-10-27-23:59': 'delete expired',
      'local-10-28-00:00': 'keep newest-successful',
    });
  });

  it('maxAgeDays is elapsed time, unaffected by the 23 h day', () => {
    const now = '2024-04-03T00:00:00.000Z';
    const backups = [
      backup('new', '2024-04-02T23:00:00.000Z'),
      backup('just-under-3d', '2024-03-31T00:00:01.000Z'),
      backup('exactly-3d', '2024-03-31T00:00:00.000Z'),
    ];
    expect(outcome(decide(backups, { automatic: { maxAgeDays: 3 } }, now, berlin))).toEqual({
      new: 'keep newest-successful',
      'just-under-3d': 'keep max-age',
      'exactly-3d': 'delete expired',
    });
  });
});

describe('month ends', () => {
  it('leap year: keeps 31 January, 29 February and the newest of March', () => {
    const backups = ['01-30', '01-31', '02-28', '02-29', '03-01', '03-02'].map((d) => backup(d, `2024-${d}T12:00:00.000Z`));
    expect(outcome(decide(backups, { automatic: { keepMonthly: 3 } }, '2024-03-02T13:00:00.000Z'))).toEqual({
      '01-30': 'delete expired',
      '01-31': 'keep keep-monthly',
      '02-28': 'delete expired',
      '02-29': 'keep keep-monthly',
      '03-01': 'delete expired',
      '03-02': 'keep newest-successful',
    });
  });

  it('common year: 28 February closes the month in UTC, but 23:30 UTC on it is 1 March in Berlin', () => {
    const backups = [
      backup('01-31', '2023-01-31T12:00:00.000Z'),
      backup('02-27', '2023-02-27T12:00:00.000Z'),
      backup('02-28-late', '2023-02-28T23:30:00.000Z'),
      backup('03-15', '2023-03-15T12:00:00.000Z'),
    ];
    const policies = { automatic: { keepMonthly: 3 } };
    const now = '2023-03-16T00:00:00.000Z';
    expect(outcome(decide(backups, policies, now))).toEqual({
      '01-31': 'keep keep-monthly',
      '02-27': 'delete expired',
      '02-28-late': 'keep keep-monthly',
      '03-15': 'keep newest-successful',
    });
    expect(outcome(decide(backups, policies, now, { timeZone: 'Europe/Berlin' }))).toEqual({
      '01-31': 'keep keep-monthly',
      '02-27': 'keep keep-monthly',
      '02-28-late': 'delete expired',
      '03-15': 'keep newest-successful',
    });
  });
});

describe('ISO weeks', () => {
  it.each([
    ['2020-12-28', 2020, 53],
    ['2020-12-31', 2020, 53],
    ['2021-01-01', 2020, 53],
    ['2021-01-03', 2020, 53],
    ['2021-01-04', 2021, 1],
    ['2024-12-29', 2024, 52],
    ['2024-12-30', 2025, 1],
    ['2026-01-01', 2026, 1],
    ['2027-01-01', 2026, 53],
    ['2008-12-29', 2009, 1],
    ['2024-06-15', 2024, 24],
  ])('%s is in ISO year %i week %i', (date, year, week) => {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    expect(isoWeekOf({ year: y, month: m, day: d })).toEqual({ year, week });
  });

  it('keepWeekly treats 28 December 2020 .. 3 January 2021 as one week across the year boundary', () => {
    const backups = ['2020-12-28', '2020-12-31', '2021-01-03', '2021-01-04', '2021-01-05'].map((d) => backup(d, `${d}T12:00:00.000Z`));
    const decisions = decide(backups, { automatic: { keepWeekly: 2 } }, '2021-01-05T13:00:00.000Z');
    expect(outcome(decisions)).toEqual({
      '2020-12-28': 'delete expired',
      '2020-12-31': 'delete expired',
      '2021-01-03': 'keep keep-weekly',
      '2021-01-04': 'delete expired',
      '2021-01-05': 'keep newest-successful',
    });
    expect(decisions.find((d) => d.id === '2021-01-03')?.reason).toBe('newest of ISO week 2020-W53 (2nd of 2)');
  });

  it('Sunday 23:30 UTC is Monday of the next ISO week in Berlin', () => {
    const backups = [
      backup('sun-late', '2021-01-03T22:30:00.000Z'),
      backup('mon-early', '2021-01-03T23:30:00.000Z'),
      backup('tue', '2021-01-05T12:00:00.000Z'),
    ];
    const policies = { automatic: { keepWeekly: 2 } };
    const now = '2021-01-05T13:00:00.000Z';
    expect(outcome(decide(backups, policies, now, { timeZone: 'Europe/Berlin' }))).toEqual({
      'sun-late': 'keep keep-weekly',
      'mon-early': 'delete expired',
      tue: 'keep newest-successful',
    });
    expect(outcome(decide(backups, policies, now))).toEqual({
      'sun-late': 'delete expired',
      'mon-early': 'keep keep-weekly',
      tue: 'keep newest-successful',
    });
  });
});

describe('safety rules override every policy', () => {
  const now = '2024-06-15T12:00:00.000Z';
  const expireAll = { automatic: { maxAgeDays: 1 }, migration: { maxAgeDays: 1 }, manual: { maxAgeDays: 1 } };

  describe('newest-successful', () => {
    it('keeps the newest successful backup when the policy would delete everything', () => {
      const backups = [backup('a', ago(now, 10 * DAY)), backup('b', ago(now, 20 * DAY))];
      expect(outcome(decide(backups, expireAll, now))).toEqual({ a: 'keep newest-successful', b: 'delete expired' });
    });

    it('counts an unverified backup as successful, and is per database', () => {
      const backups = [
        backup('app-new', ago(now, 10 * DAY), { ok: undefined }),
        backup('app-old', ago(now, 11 * DAY)),
        backup('shop-new', ago(now, 12 * DAY), { database: OTHER_DB }),
        backup('shop-old', ago(now, 13 * DAY), { database: OTHER_DB }),
      ];
      expect(outcome(decide(backups, expireAll, now))).toEqual({
        'app-new': 'keep newest-successful',
        'app-old': 'delete expired',
        'shop-new': 'keep newest-successful',
        'shop-old': 'delete expired',
      });
    });

    it('never takes a personal-data export for the newest backup of the database', () => {
      const backups = [backup('export', ago(now, 5 * DAY), { type: 'export' }), backup('auto', ago(now, 10 * DAY))];
      expect(outcome(decide(backups, { ...expireAll, export: { maxAgeDays: 1 } }, now))).toEqual({
        export: 'delete expired',
        auto: 'keep newest-successful',
      });
    });

    it('a failed export does not hold the database\'s backups either', () => {
      const backups = [backup('export', ago(now, 5 * DAY), { type: 'export', failed: true }), backup('new', ago(now, 10 * DAY)), backup('old', ago(now, 20 * DAY))];
      expect(outcome(decide(backups, expireAll, now))).toMatchObject({ new: 'keep newest-successful', old: 'delete expired' });
    });

    it('is per database across types: a newer manual backup protects no automatic one', () => {
      const backups = [backup('manual', ago(now, 10 * DAY), { type: 'manual' }), backup('auto', ago(now, 11 * DAY))];
      expect(outcome(decide(backups, expireAll, now))).toEqual({ manual: 'keep newest-successful', auto: 'delete expired' });
    });
  });

  describe('last-backup-failed', () => {
    const history = [backup('good-new', ago(now, 10 * DAY)), backup('good-old', ago(now, 20 * DAY)), backup('good-older', ago(now, 30 * DAY))];
    const held = { 'good-new': 'keep newest-successful', 'good-old': 'keep last-backup-failed', 'good-older': 'keep last-backup-failed' };
    const pruned = { 'good-new': 'keep newest-successful', 'good-old': 'delete expired', 'good-older': 'delete expired' };

    it('prunes the history when nothing failed (the control case)', () => {
      expect(outcome(decide(history, expireAll, now))).toEqual(pruned);
    });

    it('holds everything when the newest backup failed', () => {
      const backups = [backup('failed', ago(now, 2 * DAY), { failed: true, ok: undefined }), ...history];
      const decisions = decide(backups, expireAll, now);
      expect(outcome(decisions)).toEqual({ failed: 'keep last-backup-failed', ...held });
      expect(decisions.find((d) => d.id === 'good-old')?.reason).toBe(
        'the most recent backup of this database (failed) failed; nothing is pruned until one succeeds',
      );
    });

    it('holds everything when the newest backup failed verification', () => {
      const backups = [backup('corrupt', ago(now, 2 * DAY), { ok: false }), ...history];
      expect(outcome(decide(backups, expireAll, now))).toEqual({ corrupt: 'keep last-backup-failed', ...held });
    });

    it('holds everything when the most recent attempt failed without leaving a manifest', () => {
      const lastAttempts = new Map([[DB, { at: ago(now, DAY), ok: false }]]);
      const decisions = decide(history, expireAll, now, { lastAttempts });
      expect(outcome(decisions)).toEqual(held);
      expect(decisions[1]?.reason).toMatch(/^the most recent backup attempt of this database \(.+\) failed/);
    });

    it('holds when the failed attempt has the same time as the newest backup (it may be that backup)', () => {
      const lastAttempts = new Map([[DB, { at: history[0]!.createdAt, ok: false }]]);
      expect(outcome(decide(history, expireAll, now, { lastAttempts }))).toEqual(held);
    });

    it('does not hold when the failed attempt is older than the newest backup', () => {
      const lastAttempts = new Map([[DB, { at: ago(now, 15 * DAY), ok: false }]]);
      expect(outcome(decide(history, expireAll, now, { lastAttempts }))).toEqual(pruned);
    });

    it('a later successful attempt does not lift a hold caused by a newest backup that failed verification', () => {
      const backups = [backup('corrupt', ago(now, 2 * DAY), { ok: false }), ...history];
      const lastAttempts = new Map([[DB, { at: ago(now, DAY), ok: true }]]);
      expect(outcome(decide(backups, expireAll, now, { lastAttempts }))).toEqual({ corrupt: 'keep last-backup-failed', ...held });
    });

    it('holds only the database whose backup failed', () => {
      const backups = [
        backup('corrupt', ago(now, 2 * DAY), { ok: false }),
        ...history,
        backup('shop-new', ago(now, 10 * DAY), { database: OTHER_DB }),
        backup('shop-old', ago(now, 20 * DAY), { database: OTHER_DB }),
      ];
      expect(outcome(decide(backups, expireAll, now))).toEqual({
        corrupt: 'keep last-backup-failed',
        ...held,
        'shop-new': 'keep newest-successful',
        'shop-old': 'delete expired',
      });
    });
  });

  describe('recent-migration', () => {
    const withMigrationAged = (ageMs: number): RetentionCandidate[] => [
      backup('auto', ago(now, DAY)),
      backup('migration', ago(now, ageMs), { type: 'migration' }),
      backup('older-migration', ago(now, ageMs + DAY), { type: 'migration' }),
    ];

    it('keeps the most recent migration backup under 30 days old; older migration backups follow the policy', () => {
      expect(outcome(decide(withMigrationAged(29 * DAY + 23 * 3_600_000), expireAll, now))).toEqual({
        auto: 'keep newest-successful',
        migration: 'keep recent-migration',
        'older-migration': 'delete expired',
      });
    });

    it('lets the policy decide once it is 30 days old', () => {
      expect(outcome(decide(withMigrationAged(30 * DAY), expireAll, now))).toEqual({
        auto: 'keep newest-successful',
        migration: 'delete expired',
        'older-migration': 'delete expired',
      });
    });

    it('protects the migration backup of each database separately', () => {
      const backups = [
        backup('app-auto', ago(now, DAY)),
        backup('app-migration', ago(now, 5 * DAY), { type: 'migration' }),
        backup('shop-auto', ago(now, DAY), { database: OTHER_DB }),
        backup('shop-migration', ago(now, 6 * DAY), { type: 'migration', database: OTHER_DB }),
      ];
      expect(outcome(decide(backups, expireAll, now))).toEqual({
        'app-auto': 'keep newest-successful',
        'app-migration': 'keep recent-migration',
        'shop-auto': 'keep newest-successful',
        'shop-migration': 'keep recent-migration',
      });
    });
  });

  describe('in-use', () => {
    it('never deletes a backup a restore is reading', () => {
      const backups = [backup('new', ago(now, 2 * DAY)), backup('reading', ago(now, 90 * DAY)), backup('idle', ago(now, 91 * DAY))];
      const decisions = decide(backups, expireAll, now, { inUse: new Set(['reading']) });
      expect(decisions).toEqual([
        { id: 'new', action: 'keep', rule: 'newest-successful', reason: 'newest successful backup of this database' },
        { id: 'reading', action: 'keep', rule: 'in-use', reason: 'a restore is reading this backup' },
        { id: 'idle', action: 'delete', rule: 'expired', reason: 'not selected by maxAgeDays 1' },
      ]);
    });

    it('is reported before every other rule', () => {
      const backups = [backup('new', ago(now, 2 * DAY))];
      expect(outcome(decide(backups, expireAll, now, { inUse: new Set(['new']) }))).toEqual({ new: 'keep in-use' });
    });
  });
});
