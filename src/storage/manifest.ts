import { z } from '../vendor/zod.js';

/** `base`: a PostgreSQL base backup (pg_basebackup) for point-in-time recovery, restored only with `restore --at`. */
export const BACKUP_TYPES = ['manual', 'automatic', 'migration', 'pre-restore', 'export', 'base'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

export const MANIFEST_SCHEMA_VERSION = 1;

const verificationSchema = z.object({
  ok: z.boolean(),
  checksum: z.enum(['ok', 'mismatch']),
  readable: z.enum(['ok', 'failed', 'skipped']),
  rowCounts: z.enum(['match', 'mismatch', 'skipped']),
  restoreTest: z.boolean(),
  problems: z.array(z.string()),
});
export type Verification = z.infer<typeof verificationSchema>;

export const manifestSchema = z
  .object({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
    id: z.string().min(1),
    type: z.enum(BACKUP_TYPES),
    label: z.string().nullable(),
    description: z.string().nullable(),
    createdAt: z.iso.datetime(),
    engine: z.enum(['postgres', 'sqlite', 'mysql']),
    serverVersion: z.string(),
    /** Name and host only: a manifest never holds credentials. */
    /** SQLite: `file` is the database file's absolute path (absent in backups made before it was recorded). */
    database: z.object({ name: z.string(), host: z.string().nullable(), schema: z.string().nullable(), file: z.string().optional() }),
    /** pg-directory: a tar of a parallel pg_dump's directory-format output (`backup --jobs`). */
    /** mysql-sql: a mysqldump/mariadb-dump SQL script of one database (no CREATE DATABASE/USE: it loads into any). */
    /** export-json / export-ndjson: a personal-data export (`dbguard export`), not a restorable backup. */
    /** pg-base-tar: pg_basebackup's tar of the whole server (type `base`), the start of point-in-time recovery. */
    format: z.enum(['pg-custom', 'pg-directory', 'sqlite', 'export-json', 'export-ndjson', 'pg-base-tar', 'mysql-sql']),
    /** dbguard's own compression layer (a PostgreSQL custom-format dump is also compressed inside by pg_dump). */
    compression: z.enum(['none', 'gzip', 'zstd']),
    /** age encryption: public recipients only, never an identity or passphrase. */
    encryption: z
      .object({ algorithm: z.literal('age'), recipients: z.array(z.string()), passphrase: z.boolean() })
      .nullable(),
    /** The data file's name, in the same folder as the manifest. */
    fileName: z.string().min(1),
    /** Size and sha256 of the stored bytes (after compression and encryption). */
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    tables: z.record(z.string(), z.number().int().nonnegative()),
    durationMs: z.number().nonnegative(),
    dbguardVersion: z.string(),
    /** Migration backups: the tool, the last migration applied before, those about to run, and what linting found in them. */
    migration: z
      .object({ tool: z.string(), lastApplied: z.string().nullable(), pending: z.array(z.string()), findings: z.array(z.string()).optional() })
      .optional(),
    /** Export backups: the subject's table (its key is personal data and stays inside the encrypted file). */
    subject: z.object({ table: z.string(), references: z.number().int().nonnegative() }).strict().optional(),
    /** The copy in a bucket: its key, stored size and Object Lock (the remote manifest is written after it). */
    remote: z
      .object({
        url: z.string(),
        key: z.string(),
        size: z.number().int().nonnegative(),
        uploadedAt: z.iso.datetime(),
        lockedUntil: z.iso.datetime().nullable(),
      })
      .strict()
      .optional(),
    /** Base backups: where the WAL replay starts and from when the backup is consistent. */
    base: z
      .object({
        startLsn: z.string(),
        endLsn: z.string(),
        timeline: z.number().int().positive(),
        walSegmentSize: z.number().int().positive(),
        /** The first moment this backup can be recovered to (pg_basebackup finished). */
        consistentAt: z.iso.datetime(),
      })
      .strict()
      .optional(),
    verifiedAt: z.iso.datetime().optional(),
    verification: verificationSchema.optional(),
  })
  .strict();

export type BackupManifest = z.infer<typeof manifestSchema>;

/** A manifest as stored, plus where its files are. */
export interface StoredBackup {
  manifest: BackupManifest;
  /** Local: the absolute path of the backup's data file. Remote: the data object's key in its bucket. */
  file: string;
  /** Local: the manifest's path. Remote: the manifest object's key. */
  manifestPath: string;
  location: 'local' | 'remote';
}

export function parseManifest(json: unknown): BackupManifest {
  return manifestSchema.parse(json);
}

export function isExportFormat(format: BackupManifest['format']): format is 'export-json' | 'export-ndjson' {
  return format === 'export-json' || format === 'export-ndjson';
}

export function isBackupType(value: string): value is BackupType {
  return (BACKUP_TYPES as readonly string[]).includes(value);
}
