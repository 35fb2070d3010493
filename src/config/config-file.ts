import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { z } from '../vendor/zod.js';
import { retentionPoliciesSchema } from '../core/retention.js';
import { UsageError } from '../errors.js';
import { parseCompression } from '../pipeline/compression.js';
import { BACKUP_TYPES } from '../storage/manifest.js';
import { notifySchema } from './notify-config.js';
import { remoteConfigSchema } from './remote.js';

const compressionSpec = z.string().refine(
  (spec) => {
    try {
      parseCompression(spec);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected none, gzip, gzip:<1-9>, zstd or zstd:<1-19>' },
);

const encryptionSchema = z.object({ recipients: z.array(z.string().min(1)) }).strict();
const duration = z.union([z.string().min(1), z.number().nonnegative()]);

/** `databases.<name>.pitr`: serve streams the WAL and takes base backups on `base`. */
export const pitrEntrySchema = z
  .object({
    enabled: z.boolean().optional(),
    /** Cron pattern of the base backups (default "0 3 * * *"). */
    base: z.string().min(1).optional(),
    /** The newest restorable point is never older than this (default 5m). */
    maxLag: duration.optional(),
    /** Alert when the replication slot holds back more WAL than this on the server (default 1024, at least 32). */
    maxSlotWalMB: z.number().positive().optional(),
  })
  .strict();
export type PitrEntry = z.infer<typeof pitrEntrySchema>;

/**
 * A named database (`databases.<name>`). String values may hold `${NAME}` references to the environment, read
 * when the database is used. The backup options override the top-level ones for this database.
 */
export const databaseEntrySchema = z
  .object({
    /** Its URL, usually "${DATABASE_URL}" or another variable, so no secret is in the file. */
    url: z.string().min(1),
    /** Cron pattern for `dbguard serve`'s backups (5 fields, or 6 with seconds first). */
    schedule: z.string().min(1).optional(),
    /** Cron pattern for `dbguard serve`'s verifications (a restore test for PostgreSQL). */
    verify: z.string().min(1).optional(),
    /** The newest good backup must be younger than this (26h, 90m, 7d) to count as fresh. */
    maxAge: duration.optional(),
    /** The type of scheduled backups (default automatic). */
    type: z.enum(BACKUP_TYPES).optional(),
    /** IANA time zone of the schedules (default: the system's). */
    timeZone: z.string().min(1).optional(),
    /** Up to this much random delay before each scheduled run (30s, 5m). */
    jitter: duration.optional(),
    compression: compressionSpec.optional(),
    encryption: encryptionSchema.optional(),
    retention: retentionPoliciesSchema.optional(),
    /** This database's bucket settings, merged over the top-level `remote`. */
    remote: remoteConfigSchema.optional(),
    requiredTables: z.array(z.string().min(1)).optional(),
    /** Point-in-time recovery (PostgreSQL): `true` for the defaults, or its settings (see PitrEntry). */
    pitr: z.union([z.boolean(), pitrEntrySchema]).optional(),
  })
  .strict();

export type DatabaseEntry = z.infer<typeof databaseEntrySchema>;

export const configSchema = z
  .object({
    /** Backups folder, relative to the project. */
    backupDir: z.string().min(1).optional(),
    /** Tables that must exist after every restore. */
    requiredTables: z.array(z.string().min(1)).optional(),
    /** Default compression (see `dbguard backup --compress`). */
    compression: compressionSpec.optional(),
    /** age public keys every backup is encrypted to. Identities (private keys) never go here. */
    encryption: encryptionSchema.optional(),
    /** Retention per backup type (replaces that type's default policy). */
    retention: retentionPoliciesSchema.optional(),
    prune: z
      .object({
        /** Prune after every successful backup (default true). */
        afterBackup: z.boolean().optional(),
        /** IANA time zone for daily/weekly/monthly buckets (default UTC). */
        timeZone: z.string().optional(),
      })
      .strict()
      .optional(),
    /** `dbguard export`: columns to redact or keep, tables or columns to leave out (see ExportRules). */
    export: z
      .object({ redact: z.array(z.string().min(1)).optional(), include: z.array(z.string().min(1)).optional(), exclude: z.array(z.string().min(1)).optional() })
      .strict()
      .optional(),
    /** Warn when the backups folder grows past this many megabytes (default 1024). */
    sizeWarningMB: z.number().positive().optional(),
    /** Named databases (see DatabaseEntry); without it the one database is `default` (--db, DATABASE_URL, .env). */
    databases: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a database name is letters, digits, _ . -'), databaseEntrySchema).optional(),
    /** Notification channels of `dbguard serve`. */
    notify: notifySchema.optional(),
    /** Off-machine copies in S3-compatible storage (credentials only from the AWS SDK's chain). */
    remote: remoteConfigSchema.optional(),
  })
  .strict();

export type DbguardConfig = z.infer<typeof configSchema>;

export const CONFIG_FILES = ['dbguard.config.ts', 'dbguard.config.mts', 'dbguard.config.js', 'dbguard.config.mjs', 'dbguard.config.cjs', 'dbguard.config.json'];

/** The first `dbguard.config.{ts,js,json,...}`, else the `dbguard` key of package.json, else defaults; validated. */
export function loadConfig(cwd: string): { config: DbguardConfig; source: string | null } {
  for (const name of CONFIG_FILES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return { config: validate(name.endsWith('.json') ? readJson(file) : readModule(file), name), source: file };
  }
  const pkgFile = path.join(cwd, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = readJson(pkgFile) as { dbguard?: unknown };
    if (pkg && typeof pkg === 'object' && 'dbguard' in pkg) return { config: validate(pkg.dbguard, 'package.json "dbguard"'), source: pkgFile };
  }
  return { config: {}, source: null };
}

/** A TypeScript or JavaScript config's default export (jiti transpiles TypeScript; loaded synchronously). */
function readModule(file: string): unknown {
  try {
    // jiti loads only when such a config exists (it is synchronous through require).
    const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti');
    const loaded = createJiti(import.meta.url, { moduleCache: false, fsCache: false })(file) as { default?: unknown };
    return loaded && typeof loaded === 'object' && 'default' in loaded ? loaded.default : loaded;
  } catch (error) {
    throw new UsageError(`Cannot load ${file}: ${(error as Error).message}`);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function validate(value: unknown, where: string): DbguardConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues
    .map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `${issue.path.join('.') || '(root)'}: ${issue.message}${keys}`;
    })
    .join('; ');
  // An unknown key: the keys allowed where it is. A wrong value: its message says what is expected.
  const unknown = result.error.issues.find((issue) => issue.code === 'unrecognized_keys');
  const keys = unknown && objectAt(configSchema, unknown.path)?.shape;
  const hint = keys ? `Allowed keys${unknown.path.length > 0 ? ` in ${unknown.path.join('.')}` : ''}: ${Object.keys(keys).join(', ')}.` : undefined;
  throw new UsageError(`Invalid configuration in ${where}: ${details}`, hint);
}

/** The object schema found at `path` inside `schema` (through optionals, records and arrays), if any. */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of [...path, null]) {
    while (current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
    if (key === null) break;
    if (current instanceof z.ZodObject) current = current.shape[String(key)] as z.ZodType | undefined;
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return undefined;
  }
  return current instanceof z.ZodObject ? current : undefined;
}
