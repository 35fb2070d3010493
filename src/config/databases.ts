import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { UsageError } from '../errors.js';
import { type Compression, parseCompression } from '../pipeline/compression.js';
import type { EncryptionKeys } from '../pipeline/encryption.js';
import type { RetentionPolicies } from '../core/retention.js';
import type { BackupType } from '../storage/manifest.js';
import type { DatabaseEntry, DbguardConfig } from './config-file.js';
import { type DatabaseTarget, type UrlSource, engineName, locateDatabaseUrl, parseDatabaseUrl } from './database-url.js';
import { type RemoteSettings, resolveRemote } from './remote.js';
import { type Schedule, cronOf, parseDuration, scheduleInterval } from './schedule.js';

/** The name of the one database of a project without `databases` in its config. */
export const DEFAULT_DATABASE_NAME = 'default';
/** Freshness limit of a database with neither `maxAge` nor a schedule: a daily backup, with slack. */
export const DEFAULT_MAX_AGE_MS = 26 * 3_600_000;

/** The configured compression, encryption, retention and size warning, as `backup()` options. */
export interface ConfiguredBackupOptions {
  compression: Compression | undefined;
  encryption: EncryptionKeys | undefined;
  retention: { policies: RetentionPolicies | undefined; timeZone: string | undefined } | false;
  sizeWarningBytes: number | undefined;
  /** The bucket for off-machine copies, when one is configured. */
  remote: RemoteSettings | undefined;
}

/** A database with everything the CLI, serve and status need to act on it. */
export interface NamedDatabase {
  name: string;
  target: DatabaseTarget;
  /** Where the URL came from: a named database's config entry, or --db / DATABASE_URL / .env. */
  source: 'config' | UrlSource;
  backup: ConfiguredBackupOptions;
  requiredTables: string[] | undefined;
  /** Scheduled backups (serve); undefined when not scheduled. */
  schedule: Schedule | undefined;
  /** Scheduled verifications (serve). */
  verify: Schedule | undefined;
  /** Type of scheduled backups. */
  type: BackupType;
  /** The newest good backup must be younger than this to be fresh. */
  maxAgeMs: number;
  /** Up to this much random delay before a scheduled run. */
  jitterMs: number;
  /** Point-in-time recovery settings; undefined when it is not enabled. */
  pitr: PitrSettings | undefined;
}

export interface PitrSettings {
  /** When serve takes base backups. */
  base: Schedule;
  /** The newest restorable point must never be older than this. */
  maxLagMs: number;
  /** Alert when the slot holds back more WAL than this on the server. */
  maxSlotWalBytes: number;
}

export const DEFAULT_PITR_BASE = '0 3 * * *';
export const DEFAULT_PITR_MAX_LAG_MS = 5 * 60_000;
export const DEFAULT_PITR_MAX_SLOT_WAL_MB = 1024;
/**
 * pg_receivewal confirms the WAL one whole segment (16 MB) at a time, so a healthy slot holds back up to a segment plus
 * what was written since: a limit under two segments would alert all the time.
 */
export const MIN_PITR_MAX_SLOT_WAL_MB = 32;

export interface ResolveOptions {
  config: DbguardConfig;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** The database names a config defines (`default` when it defines none). */
export function databaseNames(config: DbguardConfig): string[] {
  const names = Object.keys(config.databases ?? {});
  return names.length > 0 ? names : [DEFAULT_DATABASE_NAME];
}

/**
 * One database: `db` (a URL) wins; else the named one (`name`); else the only named database; else the
 * database from DATABASE_URL or ./.env, called `default`. Several named databases and no name is a usage error.
 */
export function resolveNamedDatabase(options: ResolveOptions & { name?: string | undefined; db?: string | undefined }): NamedDatabase {
  const { config, name, db } = options;
  if (db !== undefined && name !== undefined) throw new UsageError('Give either --db <url> or --database <name>, not both.');
  const entries = config.databases ?? {};
  const names = Object.keys(entries);
  if (db !== undefined || (names.length === 0 && (name === undefined || name === DEFAULT_DATABASE_NAME))) {
    return defaultDatabase(options, db);
  }
  if (name === undefined) {
    if (names.length === 1) return namedDatabase(names[0]!, entries[names[0]!]!, options);
    throw new UsageError(
      `Several databases are configured (${names.join(', ')}): say which one.`,
      'Pass --database <name>, or --db <url> for another database.',
    );
  }
  const entry = entries[name];
  if (!entry) {
    throw new UsageError(
      `No database named "${name}" in the configuration.`,
      names.length > 0 ? `Configured databases: ${names.join(', ')}.` : 'Name databases under "databases" in dbguard.config.json, or use --db <url>.',
    );
  }
  return namedDatabase(name, entry, options);
}

/** Every configured database (or the `default` one), resolved; the first problem is an error naming its database. */
export function resolveDatabases(options: ResolveOptions): NamedDatabase[] {
  return databaseNames(options.config).map((name) => resolveNamedDatabase({ ...options, name }));
}

function defaultDatabase(options: ResolveOptions, db: string | undefined): NamedDatabase {
  const { url, source } = locateDatabaseUrl({ db, env: options.env, cwd: options.cwd });
  return {
    name: DEFAULT_DATABASE_NAME,
    target: parseDatabaseUrl(url, options.cwd),
    source,
    backup: configuredBackupOptions(options.config, options.env),
    requiredTables: options.config.requiredTables,
    schedule: undefined,
    verify: undefined,
    type: 'automatic',
    maxAgeMs: DEFAULT_MAX_AGE_MS,
    jitterMs: 0,
    pitr: undefined,
  };
}

function namedDatabase(name: string, raw: DatabaseEntry, options: ResolveOptions): NamedDatabase {
  const where = `databases.${name}`;
  const entry = interpolateEnv(raw, withDotenv(options.env, options.cwd), where);
  const timeZone = entry.timeZone;
  const schedule = entry.schedule ? { cron: entry.schedule, timeZone } : undefined;
  const verify = entry.verify ? { cron: entry.verify, timeZone } : undefined;
  if (schedule) cronOf(schedule, `${where}.schedule`);
  if (verify) cronOf(verify, `${where}.verify`);
  let target: DatabaseTarget;
  try {
    target = parseDatabaseUrl(entry.url, options.cwd);
  } catch (error) {
    throw error instanceof UsageError ? new UsageError(`${where}.url: ${error.message}`, error.hint) : error;
  }
  const config: DbguardConfig = {
    ...options.config,
    ...(entry.compression !== undefined ? { compression: entry.compression } : {}),
    ...(entry.encryption !== undefined ? { encryption: entry.encryption } : {}),
    ...(entry.retention !== undefined ? { retention: { ...options.config.retention, ...entry.retention } } : {}),
    ...(entry.remote !== undefined ? { remote: { ...options.config.remote, ...entry.remote } } : {}),
  };
  const backup = configuredBackupOptions(config, options.env);
  return {
    name,
    target,
    source: 'config',
    backup,
    requiredTables: entry.requiredTables ?? options.config.requiredTables,
    schedule,
    verify,
    type: entry.type ?? 'automatic',
    maxAgeMs: entry.maxAge !== undefined ? parseDuration(entry.maxAge, `${where}.maxAge`) : defaultMaxAge(schedule),
    jitterMs: entry.jitter !== undefined ? parseDuration(entry.jitter, `${where}.jitter`) : 0,
    pitr: pitrSettings(entry.pitr, target, timeZone, `${where}.pitr`),
  };
}

function pitrSettings(entry: DatabaseEntry['pitr'], target: DatabaseTarget, timeZone: string | undefined, where: string): PitrSettings | undefined {
  if (entry === undefined || entry === false) return undefined;
  const settings = entry === true ? {} : entry;
  if (settings.enabled === false) return undefined;
  if (target.engine !== 'postgres') throw new UsageError(`${where}: point-in-time recovery is for PostgreSQL databases.`, `Remove "pitr" from this ${engineName(target.engine)} database.`);
  const base = { cron: settings.base ?? DEFAULT_PITR_BASE, timeZone };
  cronOf(base, `${where}.base`);
  const maxLagMs = settings.maxLag !== undefined ? parseDuration(settings.maxLag, `${where}.maxLag`) : DEFAULT_PITR_MAX_LAG_MS;
  if (maxLagMs < 1000) throw new UsageError(`${where}.maxLag: at least 1s.`);
  const maxSlotWalMB = settings.maxSlotWalMB ?? DEFAULT_PITR_MAX_SLOT_WAL_MB;
  if (maxSlotWalMB < MIN_PITR_MAX_SLOT_WAL_MB) {
    throw new UsageError(
      `${where}.maxSlotWalMB: at least ${MIN_PITR_MAX_SLOT_WAL_MB} (it is ${maxSlotWalMB}).`,
      `pg_receivewal confirms the WAL to the server one whole 16 MB segment at a time, so a healthy slot holds back up to a segment plus what was written since: a limit under ${MIN_PITR_MAX_SLOT_WAL_MB} MB would alert all the time. Set what the server's disk can spare (default ${DEFAULT_PITR_MAX_SLOT_WAL_MB}).`,
    );
  }
  return { base, maxLagMs, maxSlotWalBytes: maxSlotWalMB * 1024 * 1024 };
}

/** Two intervals of the schedule (one missed run is not yet stale), else 26 hours. */
function defaultMaxAge(schedule: Schedule | undefined): number {
  const interval = schedule ? scheduleInterval(schedule) : null;
  return interval ? 2 * interval : DEFAULT_MAX_AGE_MS;
}

/** Recipients from DBGUARD_AGE_RECIPIENTS or the config, or DBGUARD_PASSPHRASE; undefined when neither. */
export function encryptionKeys(config: DbguardConfig, env: Record<string, string | undefined>): EncryptionKeys | undefined {
  const fromEnv = (env.DBGUARD_AGE_RECIPIENTS ?? '').split(/[\s,]+/).filter(Boolean);
  const recipients = fromEnv.length > 0 ? fromEnv : (config.encryption?.recipients ?? []);
  const passphrase = env.DBGUARD_PASSPHRASE || undefined;
  if (recipients.length > 0) return { recipients };
  if (passphrase) return { recipients: [], passphrase };
  return undefined;
}

/** The top-level configuration as `backup()` options (a named database's overrides already merged in). */
export function configuredBackupOptions(config: DbguardConfig, env: Record<string, string | undefined>): ConfiguredBackupOptions {
  return {
    compression: config.compression === undefined ? undefined : parseCompression(config.compression),
    encryption: encryptionKeys(config, env),
    retention: config.prune?.afterBackup === false ? false : { policies: config.retention, timeZone: config.prune?.timeZone },
    sizeWarningBytes: config.sizeWarningMB === undefined ? undefined : config.sizeWarningMB * 1024 * 1024,
    remote: resolveRemote(config.remote, env),
  };
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces every `${NAME}` in the strings of `value` with that environment variable. A missing or empty variable
 * is a usage error naming it and where it is used (never its value: these are secrets).
 */
export function interpolateEnv<T>(value: T, env: Record<string, string | undefined>, where: string): T {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_match, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') {
        throw new UsageError(`${where} uses \${${name}}, but ${name} is not set.`, `Set the ${name} environment variable (or add ${name}=... to ./.env).`);
      }
      return found;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, `${where}[${i}]`)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, `${where}.${key}`)])) as T;
  }
  return value;
}

/** The environment, completed by ./.env (the environment wins), as `${NAME}` references see it. */
export function withDotenv(env: Record<string, string | undefined>, cwd: string): Record<string, string | undefined> {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return env;
  return { ...parseDotenv(readFileSync(file)), ...env };
}
