import { z } from '../vendor/zod.js';
import { DbguardError, UsageError } from '../errors.js';
import { type BackupManifest, type BackupType } from '../storage/manifest.js';

const DAY_MS = 86_400_000;

/** The most recent `migration` backup of a database is kept at least this long, whatever the policy. */
export const MIGRATION_GRACE_DAYS = 30;

const count = z.number().int().positive();

export const retentionPolicySchema = z
  .object({
    /** Keep the N newest backups. */
    keepLast: count.optional(),
    /** Keep every backup younger than N days (elapsed time, not calendar days). */
    maxAgeDays: count.optional(),
    /** Keep the newest backup of each of the N most recent local days that have backups. */
    keepDaily: count.optional(),
    /** Keep the newest backup of each of the N most recent ISO weeks that have backups. */
    keepWeekly: count.optional(),
    /** Keep the newest backup of each of the N most recent months that have backups. */
    keepMonthly: count.optional(),
  })
  .strict();
export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

/** The `retention` block of the config file: one policy per backup type, each replacing that type's default. */
export const retentionPoliciesSchema = z
  .object({
    manual: retentionPolicySchema.optional(),
    automatic: retentionPolicySchema.optional(),
    migration: retentionPolicySchema.optional(),
    'pre-restore': retentionPolicySchema.optional(),
    export: retentionPolicySchema.optional(),
    base: retentionPolicySchema.optional(),
  } satisfies Record<BackupType, unknown>)
  .strict();
export type RetentionPolicies = Partial<Record<BackupType, RetentionPolicy>>;

/**
 * `pre-restore` backups are the undo of a restore, and a wrong restore is often noticed late:
 * they get the same 30 days as migration backups. An empty policy means never pruned.
 */
export const DEFAULT_RETENTION_POLICIES: Readonly<Record<BackupType, Readonly<RetentionPolicy>>> = Object.freeze({
  manual: Object.freeze({}),
  automatic: Object.freeze({ maxAgeDays: 7 }),
  migration: Object.freeze({ maxAgeDays: 30 }),
  'pre-restore': Object.freeze({ maxAgeDays: 30 }),
  export: Object.freeze({}),
  // The restorable window starts at the oldest kept base backup; the WAL before it is deleted with it.
  base: Object.freeze({ keepLast: 2 }),
});

/** Defaults with the configured types replaced whole (not merged key by key): `{ automatic: {} }` never prunes them. */
export function resolveRetentionPolicies(overrides: RetentionPolicies = {}): Record<BackupType, RetentionPolicy> {
  return { ...DEFAULT_RETENTION_POLICIES, ...overrides };
}

export interface RetentionCandidate {
  id: string;
  type: BackupType;
  /** ISO 8601 timestamp. */
  createdAt: string;
  /** Groups backups of the same database; see `retentionDatabaseKey`. */
  database: string;
  /** Verification result: false when verification found a problem, undefined when never verified. */
  ok: boolean | undefined;
  /** A record of an attempt that produced no usable backup. */
  failed?: boolean;
}

export interface BackupAttempt {
  /** ISO 8601 timestamp of the attempt. */
  at: string;
  ok: boolean;
}

/**
 * Ambient state the decision depends on, passed in so the function stays pure.
 * - `inUse`: ids a restore is reading right now; never deleted.
 * - `lastAttempts`: per database key, the outcome of the most recent backup attempt. Failed attempts leave no
 *   manifest, so this is how "the most recent backup of that database failed" is known: a failed attempt at or
 *   after the database's newest candidate holds every backup of that database. A successful attempt never lifts
 *   a hold caused by a newest candidate that is failed or failed verification.
 * - `timeZone`: IANA zone in which days, ISO weeks and months are counted; UTC by default.
 */
export interface RetentionContext {
  inUse: ReadonlySet<string>;
  lastAttempts?: ReadonlyMap<string, BackupAttempt>;
  timeZone?: string;
}

export type RetentionRule =
  | 'in-use'
  | 'newest-successful'
  | 'recent-migration'
  | 'last-backup-failed'
  | 'never-pruned'
  | 'keep-last'
  | 'keep-daily'
  | 'keep-weekly'
  | 'keep-monthly'
  | 'max-age'
  | 'expired';

export interface RetentionDecision {
  id: string;
  action: 'keep' | 'delete';
  rule: RetentionRule;
  reason: string;
}

/**
 * Backups of one database share a key: engine, host, name and, for a schema-only backup, the schema; for SQLite the
 * file too, so that two `dev.db` in different folders are never pruned, locked or counted as one. (Matching a
 * database's backups is more lenient: see `databaseFilter`.)
 */
export function retentionDatabaseKey(manifest: Pick<BackupManifest, 'engine' | 'database'>): string {
  const { name, host, schema, file } = manifest.database;
  return `${manifest.engine}://${host ?? ''}/${name}${schema ? `#${schema}` : ''}${file ? `@${file}` : ''}`;
}

export function toRetentionCandidate(manifest: BackupManifest): RetentionCandidate {
  return {
    id: manifest.id,
    type: manifest.type,
    createdAt: manifest.createdAt,
    database: retentionDatabaseKey(manifest),
    ok: manifest.verification?.ok,
  };
}

interface Entry {
  candidate: RetentionCandidate;
  time: number;
}

type Verdict = Omit<RetentionDecision, 'id'>;

/**
 * One decision per backup, in input order. Safety rules come first and no policy overrides them; then a backup
 * is kept if any rule of its type's policy selects it. A type without a policy, or with an empty one, is never
 * pruned. Keep rules count only usable backups (not failed, verification not failed), so a run of bad backups
 * cannot push the good ones out.
 */
export function decideRetention(
  backups: readonly RetentionCandidate[],
  policies: RetentionPolicies,
  now: Date,
  context: RetentionContext,
): RetentionDecision[] {
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new DbguardError('Retention needs a valid current time.');
  const calendar = calendarIn(context.timeZone ?? 'UTC');
  const entries = backups.map(toEntry);
  const verdicts = new Map<RetentionCandidate, Verdict>();

  for (const [database, group] of groupBy(entries, (e) => e.candidate.database)) {
    const safety = safetyVerdicts(group, context.lastAttempts?.get(database), nowMs);
    for (const [type, ofType] of groupBy(group, (e) => e.candidate.type)) {
      const policyVerdicts = applyPolicy(ofType, policies[type], type, nowMs, calendar);
      for (const entry of ofType) {
        const verdict = context.inUse.has(entry.candidate.id)
          ? { action: 'keep' as const, rule: 'in-use' as const, reason: 'a restore is reading this backup' }
          : (safety.get(entry) ?? policyVerdicts.get(entry)!);
        verdicts.set(entry.candidate, verdict);
      }
    }
  }
  return backups.map((candidate) => ({ id: candidate.id, ...verdicts.get(candidate)! }));
}

function toEntry(candidate: RetentionCandidate): Entry {
  const time = Date.parse(candidate.createdAt);
  if (Number.isNaN(time)) throw new DbguardError(`Backup ${candidate.id} has an invalid creation time: ${candidate.createdAt}`);
  return { candidate, time };
}

const isUsable = (c: RetentionCandidate): boolean => !c.failed && c.ok !== false;

function safetyVerdicts(group: readonly Entry[], lastAttempt: BackupAttempt | undefined, nowMs: number): Map<Entry, Verdict> {
  const verdicts = new Map<Entry, Verdict>();
  // A personal-data export holds one person's rows, not the database: it never stands in for a backup of it.
  const sorted = newestFirst(group.filter((e) => e.candidate.type !== 'export'));
  const newestSuccessful = sorted.find((e) => isUsable(e.candidate));
  if (newestSuccessful) {
    verdicts.set(newestSuccessful, { action: 'keep', rule: 'newest-successful', reason: 'newest successful backup of this database' });
  }
  const newestMigration = sorted.find((e) => e.candidate.type === 'migration' && !e.candidate.failed);
  if (newestMigration && !verdicts.has(newestMigration) && nowMs - newestMigration.time < MIGRATION_GRACE_DAYS * DAY_MS) {
    verdicts.set(newestMigration, {
      action: 'keep',
      rule: 'recent-migration',
      reason: `most recent migration backup, less than ${MIGRATION_GRACE_DAYS} days old`,
    });
  }
  const hold = holdReason(sorted[0], lastAttempt);
  if (hold) {
    for (const entry of group) {
      if (!verdicts.has(entry)) verdicts.set(entry, { action: 'keep', rule: 'last-backup-failed', reason: hold });
    }
  }
  return verdicts;
}

function holdReason(newest: Entry | undefined, lastAttempt: BackupAttempt | undefined): string | undefined {
  if (lastAttempt && !lastAttempt.ok) {
    const at = Date.parse(lastAttempt.at);
    if (Number.isNaN(at) || !newest || at >= newest.time) {
      return `the most recent backup attempt of this database (${lastAttempt.at}) failed; nothing is pruned until one succeeds`;
    }
  }
  if (newest?.candidate.failed) return `the most recent backup of this database (${newest.candidate.id}) failed; nothing is pruned until one succeeds`;
  if (newest?.candidate.ok === false) {
    return `the most recent backup of this database (${newest.candidate.id}) failed verification; nothing is pruned until one verifies`;
  }
  return undefined;
}

function applyPolicy(
  group: readonly Entry[],
  policy: RetentionPolicy | undefined,
  type: BackupType,
  nowMs: number,
  calendar: Calendar,
): Map<Entry, Verdict> {
  const verdicts = new Map<Entry, Verdict>();
  const rules = describePolicy(policy);
  if (!policy || rules.length === 0) {
    for (const entry of group) verdicts.set(entry, { action: 'keep', rule: 'never-pruned', reason: `no retention policy for ${type} backups` });
    return verdicts;
  }
  const usable = newestFirst(group.filter((e) => isUsable(e.candidate)));
  const select = (rule: RetentionRule, chosen: readonly Entry[], reason: (index: number) => string): void => {
    chosen.forEach((entry, index) => {
      if (!verdicts.has(entry)) verdicts.set(entry, { action: 'keep', rule, reason: reason(index) });
    });
  };
  if (policy.keepLast) {
    select('keep-last', usable.slice(0, policy.keepLast), (i) => `${ordinal(i + 1)} newest of keepLast ${policy.keepLast}`);
  }
  const periods = [
    ['keep-daily', policy.keepDaily, 'day', calendar.day],
    ['keep-weekly', policy.keepWeekly, 'ISO week', calendar.isoWeek],
    ['keep-monthly', policy.keepMonthly, 'month', calendar.month],
  ] as const;
  for (const [rule, limit, unit, periodOf] of periods) {
    if (!limit) continue;
    const chosen = newestPerPeriod(usable, periodOf).slice(0, limit);
    select(rule, chosen.map(([, entry]) => entry), (i) => `newest of ${unit} ${chosen[i]![0]} (${ordinal(i + 1)} of ${limit})`);
  }
  if (policy.maxAgeDays) {
    const limitMs = policy.maxAgeDays * DAY_MS;
    select('max-age', group.filter((e) => nowMs - e.time < limitMs), () => `younger than maxAgeDays ${policy.maxAgeDays}`);
  }
  const expired = `not selected by ${rules.join(', ')}`;
  for (const entry of group) {
    if (verdicts.has(entry)) continue;
    const unusable = entry.candidate.failed ? 'failed backup; ' : entry.candidate.ok === false ? 'failed verification; ' : '';
    verdicts.set(entry, { action: 'delete', rule: 'expired', reason: `${unusable}${expired}` });
  }
  return verdicts;
}

function describePolicy(policy: RetentionPolicy | undefined): string[] {
  if (!policy) return [];
  return (['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'maxAgeDays'] as const)
    .filter((key) => policy[key] !== undefined)
    .map((key) => `${key} ${policy[key]}`);
}

/** The newest entry of each period, newest period first; `entries` must be sorted newest first. */
function newestPerPeriod(entries: readonly Entry[], periodOf: (time: number) => string): [string, Entry][] {
  const seen = new Map<string, Entry>();
  for (const entry of entries) {
    const period = periodOf(entry.time);
    if (!seen.has(period)) seen.set(period, entry);
  }
  return [...seen];
}

function newestFirst(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((a, b) => b.time - a.time || (a.candidate.id < b.candidate.id ? 1 : a.candidate.id > b.candidate.id ? -1 : 0));
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

interface Calendar {
  /** `YYYY-MM-DD` */
  day(time: number): string;
  /** `YYYY-Www` */
  isoWeek(time: number): string;
  /** `YYYY-MM` */
  month(time: number): string;
}

function calendarIn(timeZone: string): Calendar {
  const localDate = timeZone === 'UTC' ? utcDate : zonedDate(timeZone);
  return {
    day: (time) => {
      const { year, month, day } = localDate(time);
      return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
    },
    isoWeek: (time) => {
      const { year, week } = isoWeekOf(localDate(time));
      return `${pad(year, 4)}-W${pad(week)}`;
    },
    month: (time) => {
      const { year, month } = localDate(time);
      return `${pad(year, 4)}-${pad(month)}`;
    },
  };
}

type LocalDate = { year: number; month: number; day: number };

/** UTC, the default, without Intl: its first DateTimeFormat loads time zone data (tens of ms on every backup). */
function utcDate(time: number): LocalDate {
  const date = new Date(time);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

function zonedDate(timeZone: string): (time: number) => LocalDate {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', calendar: 'iso8601', numberingSystem: 'latn' });
  } catch {
    throw new UsageError(`Unknown time zone "${timeZone}".`, 'Use an IANA time zone name such as "Europe/Berlin", or "UTC".');
  }
  return (time) => {
    const parts = Object.fromEntries(format.formatToParts(time).map((p) => [p.type, p.value]));
    return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day) };
  };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeekOf(date: { year: number; month: number; day: number }): { year: number; week: number } {
  const utc = Date.UTC(date.year, date.month - 1, date.day);
  const weekday = new Date(utc).getUTCDay() || 7;
  const thursday = new Date(utc + (4 - weekday) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return { year, week };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
