import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DatabaseTarget } from '../config/database-url.js';
import { retentionDatabaseKey } from '../core/retention.js';
import { withDatabaseLock } from '../storage/target-lock.js';
import { engineFor } from '../engines/index.js';
import type { DatabaseEngine } from '../engines/types.js';
import { DbguardError, RefusedError, UsageError } from '../errors.js';
import type { Compression } from '../pipeline/compression.js';
import type { DecryptionKeys, EncryptionKeys } from '../pipeline/encryption.js';
import { type MigrationDialect, analyzeSql, upMigrationSql } from './analyze.js';
import { rollbackReport, withBackup } from './with-backup.js';
import { type MeasuredFinding, describeFinding, measureFindings } from './impact.js';
import { DEFAULT_COMMANDS, type MigrationState, type ProjectTool, detectTool, migrationState, projectDialect } from './pending.js';

export interface MigrateOptions {
  cwd: string;
  target: DatabaseTarget;
  /** Backups folder. */
  dir: string;
  /** The migration command; by default derived from the tool (Prisma needs `name` or `deploy`). */
  command?: string[] | undefined;
  name?: string | undefined;
  deploy?: boolean | undefined;
  /** Overrides the detected migrations folder. */
  migrationsFolder?: string | undefined;
  /** Restore the pre-migration backup when the migration fails (default true). */
  rollback?: boolean | undefined;
  /** Asked when destructive findings need confirmation; false refuses. */
  confirm: (findings: MeasuredFinding[]) => Promise<boolean>;
  backup?: { compression?: Compression | undefined; encryption?: EncryptionKeys | undefined } | undefined;
  /** Needed to roll back to an encrypted backup. */
  decryption?: DecryptionKeys | undefined;
  onStep?: ((step: MigrateStep) => void) | undefined;
}

export type MigrateStep =
  /** `unanalysed`: JavaScript/TypeScript migrations, whose SQL is not visible before they run. */
  | { step: 'analysed'; pending: string[]; findings: MeasuredFinding[]; unanalysed: string[] }
  | { step: 'backed-up'; id: string | null }
  | { step: 'running'; command: string[] }
  | { step: 'rolling-back'; reason: string };

export interface MigrateResult {
  tool: string | null;
  command: string[];
  applied: string[];
  /** null when the database did not exist before (nothing to back up). */
  backupId: string | null;
  findings: MeasuredFinding[];
}

/** Pre-flight report, backup, migration, verification against the migrations table, rollback on failure. */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const engine = engineFor(options.target);
  const databaseKey = retentionDatabaseKey({ engine: engine.kind, database: engine.identity() });
  return withDatabaseLock(path.resolve(options.dir), databaseKey, 'migrate', () => migrateLocked(engine, options), { display: options.target.display });
}

async function migrateLocked(engine: DatabaseEngine, options: MigrateOptions): Promise<MigrateResult> {
  const project = projectFor(options);
  const command = options.command && options.command.length > 0 ? options.command : defaultCommand(project, options);
  const existed = await engine.exists();
  const before = project ? await migrationState(engine, project, existed) : undefined;
  const pendingFiles = before?.pending.map((m) => m.file) ?? [];
  const findings = await findingsFor(pendingFiles.filter((f) => f.endsWith('.sql')), existed ? engine : undefined, engine.kind);
  const unanalysed = pendingFiles.filter((f) => !f.endsWith('.sql')).map((f) => path.basename(f));
  options.onStep?.({ step: 'analysed', pending: before?.pending.map((m) => m.name) ?? [], findings, unanalysed });

  if (findings.some((f) => f.needsConfirmation) && !(await options.confirm(findings))) {
    throw new RefusedError('Migration cancelled: it destroys data and was not confirmed. Nothing was changed.');
  }
  if ((options.rollback ?? true) && options.backup?.encryption && !options.decryption) {
    throw new UsageError(
      'Backups are encrypted and no identity was given, so a failed migration could not be rolled back.',
      'Pass --identity <file> (or DBGUARD_AGE_IDENTITY_FILE), or --no-rollback.',
    );
  }

  const pendingNames = before?.pending.map((m) => m.name) ?? [];
  let after: MigrationState | undefined;
  let backupId: string | null = null;
  try {
    ({ backupId } = await withBackup(
      {
        target: options.target,
        dir: options.dir,
        label: options.name ?? (pendingNames.at(-1) || 'migration'),
        description: `Before: ${command.join(' ')}`,
        migration: { tool: project?.tool ?? 'custom', lastApplied: before?.lastApplied ?? null, pending: pendingNames, findings: findings.map(describeFinding) },
        rollback: options.rollback,
        backup: options.backup,
        decryption: options.decryption,
        onStep: (step) => {
          if (step.step === 'backed-up') options.onStep?.({ step: 'backed-up', id: step.id });
          if (step.step === 'running') options.onStep?.({ step: 'running', command });
          if (step.step === 'rolling-back') options.onStep?.({ step: 'rolling-back', reason: (step.error as Error).message });
        },
      },
      async () => {
        const exitCode = await runCommand(command, options.cwd);
        after = project ? await migrationState(engine, project, await engine.exists()) : undefined;
        const failure = failureOf(exitCode, before, after);
        if (failure) throw new Error(failure);
      },
    ));
  } catch (error) {
    throw describeFailure(error);
  }
  if (project?.tool === 'prisma' && !options.command?.length) await runCommand(['npx', 'prisma', 'generate'], options.cwd);
  const applied = after && before ? after.applied.filter((m) => !before.applied.includes(m)) : [];
  return { tool: project?.tool ?? null, command, applied, backupId, findings };
}

/** The message of a failed run, from what withBackup did about it. */
function describeFailure(error: unknown): unknown {
  const report = rollbackReport(error);
  if (!report) return error; // refused before the run (encryption without an identity)
  if (report.rollback === 'failed') return error;
  const failure = (error as Error).message;
  if (report.rollback === 'nothing-to-restore') {
    return new DbguardError(`Migration failed: ${failure}. The database did not exist before, so there is nothing to restore.`);
  }
  if (report.rollback === 'kept') {
    return new DbguardError(`Migration failed: ${failure}. The database was left as the migration left it.`, {
      hint: `To return to the state before the migration: dbguard restore ${report.backupId}`,
    });
  }
  return new DbguardError(`Migration failed: ${failure}. The database was restored from backup ${report.backupId}, as it was before.`, {
    hint: 'Fix the migration and run it again.',
  });
}

function projectFor(options: Pick<MigrateOptions, 'cwd' | 'migrationsFolder'>): ProjectTool | undefined {
  const detected = detectTool(options.cwd);
  if (!detected) return undefined;
  return options.migrationsFolder ? { ...detected, folder: path.resolve(options.cwd, options.migrationsFolder) } : detected;
}

function defaultCommand(project: ProjectTool | undefined, options: MigrateOptions): string[] {
  if (project?.tool === 'prisma') {
    if (options.deploy) return ['npx', 'prisma', 'migrate', 'deploy'];
    if (options.name) return ['npx', 'prisma', 'migrate', 'dev', '--name', options.name];
    throw new UsageError('Which Prisma migration? Pass --name <name> (prisma migrate dev) or --deploy (prisma migrate deploy).');
  }
  if (project) return DEFAULT_COMMANDS[project.tool];
  throw new UsageError(
    'No migration tool found here (prisma/schema.prisma, drizzle.config.*, knexfile.*, node-pg-migrate in package.json).',
    'Give the migration command after --, e.g. dbguard migrate -- npx knex migrate:latest',
  );
}

/** Why the run failed, or undefined: a zero exit is not enough, the migrations table must agree. */
function failureOf(exitCode: number, before: MigrationState | undefined, after: MigrationState | undefined): string | undefined {
  if (exitCode !== 0) return `the migration command exited with code ${exitCode}`;
  if (!before || !after) return undefined;
  const notApplied = before.pending.map((m) => m.name).filter((name) => !after.applied.includes(name));
  if (notApplied.length > 0) return `the command exited 0 but did not apply ${notApplied.join(', ')}`;
  if (after.pending.length > 0) return `migrations still pending after the command: ${after.pending.map((m) => m.name).join(', ')}`;
  return undefined;
}

function runCommand(command: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // The tool's output goes to stderr: stdout carries dbguard's result (and stays valid JSON with --json).
    const child = spawn(command[0]!, command.slice(1), { cwd, stdio: ['ignore', 2, 2] });
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(new DbguardError(`Could not start ${command[0]}: ${error.code === 'ENOENT' ? 'not found' : error.message}.`)),
    );
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Analyses SQL files and measures each finding on the live database (when given). */
export async function findingsFor(files: string[], engine: DatabaseEngine | undefined, dialect: MigrationDialect): Promise<MeasuredFinding[]> {
  const all: MeasuredFinding[] = [];
  for (const file of files) {
    const found = await analyzeSql(upMigrationSql(await fs.readFile(file, 'utf8')), dialect);
    const measured = await measureFindings(found, engine);
    all.push(...measured.map((f) => ({ ...f, file })));
  }
  return all;
}

export interface LintOptions {
  cwd: string;
  /** SQL files or folders; default: the pending migrations (with a database) or every migration file. */
  paths: string[];
  target?: DatabaseTarget | undefined;
}

/** The destructive report alone, for CI. */
export async function lint(options: LintOptions): Promise<{ files: string[]; findings: Array<MeasuredFinding & { file?: string }> }> {
  const configured = options.target ? engineFor(options.target) : undefined;
  const engine = configured && (await configured.exists()) ? configured : undefined;
  let files: string[];
  if (options.paths.length > 0) {
    files = (await Promise.all(options.paths.map((p) => sqlFilesIn(path.resolve(options.cwd, p))))).flat();
  } else {
    const project = projectFor({ cwd: options.cwd });
    if (!project) throw new UsageError('No migration files given and no Prisma or Drizzle project here.', 'Pass SQL files or migration folders.');
    const state = engine ? await migrationState(engine, project, await engine.exists()) : undefined;
    files = state ? state.pending.map((m) => m.file).filter((f) => f.endsWith('.sql')) : await sqlFilesIn(project.folder);
  }
  return { files, findings: await findingsFor(files, engine, configured?.kind ?? projectDialect(options.cwd)) };
}

async function sqlFilesIn(target: string): Promise<string[]> {
  const stat = await fs.stat(target).catch(() => undefined);
  if (!stat) throw new UsageError(`${target} does not exist.`);
  if (stat.isFile()) return [target];
  const entries = await fs.readdir(target, { recursive: true });
  return entries
    .map(String)
    .filter((e) => e.endsWith('.sql'))
    .sort()
    .map((e) => path.join(target, e));
}
