import type { Command } from 'commander';
import { listBackups, showBackup } from '../../core/list.js';
import { restoreAt } from '../../core/pitr-restore.js';
import { momentBeforeApproval, parseMoment } from '../../core/pitr-time.js';
import type { DatabaseTarget } from '../../config/database-url.js';
import type { NamedDatabase } from '../../config/databases.js';
import { readAudit } from '../../guard/audit.js';
import type { BackupType } from '../../storage/manifest.js';
import { type RestorePlan, restore } from '../../core/restore.js';
import { RefusedError, UsageError } from '../../errors.js';
import { formatDate, formatDuration, tableSummary } from '../format.js';
import { decryptionKeys, remoteSettings } from '../keys.js';
import { confirmByTypingName } from '../prompt.js';
import { createProgress, startElapsed } from '../progress.js';
import { withCancellation } from '../signals.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, fromOption, info, jobsOption, print, printJson, resolveDatabase, typeOption } from '../context.js';
import { totalRows } from '../../core/table-counts.js';

interface RestoreCliOptions extends CommonOptions {
  type?: BackupType;
  to?: string;
  table?: string[];
  yes?: boolean;
  identity?: string;
  jobs?: number;
  from?: 'local' | 'remote';
  at?: string;
}

export function registerRestore(program: Command, ctx: CliContext): void {
  const command = program
    .command('restore')
    .description('restore a backup: verified first, confirmed, all or nothing, after a safety backup of the target')
    .argument('[id]', 'backup id, or "latest" (without it: lists the backups to choose from)')
    .addOption(typeOption('with "latest": the newest backup of this type'))
    .option('--to <url>', 'restore into this database instead (PostgreSQL: created when missing)')
    .option('--table <name...>', 'PostgreSQL: replace only these tables\' rows')
    .addOption(jobsOption('PostgreSQL, into a new database (--to) only: parallel pg_restore jobs'))
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('-i, --identity <file>', 'age identity file for an encrypted backup (default: $DBGUARD_AGE_IDENTITY_FILE)')
    .addOption(fromOption())
    .option('--at <moment>', 'PostgreSQL with point-in-time recovery: the database as it was at this moment (ISO 8601, a local time, before:<backup id>, or before:guard: just before the last command the guard let through)');
  addDbOption(command, 'the database to restore into (default: $DATABASE_URL, then DATABASE_URL in ./.env)');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nBefore anything changes: the checksum and readability of the backup are checked, you confirm by typing the\n' +
      'database name, and a pre-restore backup of the target is taken (undo with `dbguard restore <its id>`).',
  );
  command.action(async (ref: string | undefined, options: RestoreCliOptions) => {
    const dir = backupDir(ctx, options);
    if (options.at !== undefined) return restoreToMoment(ctx, ref, options, dir);
    if (!ref) {
      const { backups } = await listBackups({ dir, type: options.type, remote: remoteSettings(ctx, config(ctx)), from: options.from });
      const choices = backups.slice(0, 10).map((b) => `  ${b.manifest.id}  (${b.manifest.type}, ${formatDate(b.manifest.createdAt)}, ${tableSummary(b.manifest)})`);
      throw new UsageError(
        backups.length > 0 ? `Which backup? The newest:\n${choices.join('\n')}` : `No backups in ${dir}.`,
        'Run `dbguard restore <id>` or `dbguard restore latest` (see `dbguard list` for all).',
      );
    }
    // --to names the target; --database still chooses whose settings (required tables, safety backup) apply.
    const database = resolveDatabase(ctx, options.to && !options.database ? { db: options.to } : { db: options.db, database: options.database });
    const target = options.to ? resolveDatabase(ctx, { db: options.to }).target : database.target;
    const source = options.to ? configuredSource(ctx, options) : undefined;
    const decryption = await decryptionKeys(ctx, options.identity);
    let restoring: { stop(ok?: boolean): void } | undefined;
    const safetyProgress = createProgress(ctx.stderr, 'Safety backup of the current database', !options.json);
    const download = createProgress(ctx.stderr, 'Downloading from the bucket (checksum checked as it streams)', !options.json);
    const run = (signal: AbortSignal) =>
      restore({
        ref,
        type: options.type,
        dir,
        target,
        source,
        tables: options.table,
        jobs: options.jobs,
        requiredTables: database.requiredTables,
        decryption,
        safetyBackup: database.backup,
        remote: database.backup.remote,
        from: options.from,
        onDownloadProgress: (bytes) => download.update(bytes),
        confirm: (plan) => confirm(ctx, plan, options),
        signal,
        onSafetyBackupProgress: (bytes, detail) => safetyProgress.update(bytes, detail),
        onStep: (step) => {
          if (step.step === 'verified') download.done();
          if (step.step === 'safety-backup') safetyProgress.done();
          if (options.json) return;
          if (step.step === 'verified') info(ctx, `Checksum and format of ${step.backup.id} verified.`);
          if (step.step === 'safety-backup') info(ctx, `Safety backup of the current database: ${step.id}`);
          if (step.step === 'restoring') {
            restoring = startElapsed(ctx.stderr, options.jobs && options.jobs > 1 ? `Restoring with ${options.jobs} jobs...` : 'Restoring (all or nothing)...');
          }
          if (step.step === 'checking') restoring?.stop();
        },
      }).then(
        (result) => (restoring?.stop(), result),
        (error: unknown) => {
          download.done();
          safetyProgress.done();
          restoring?.stop(false);
          throw error;
        },
      );
    const result = await withCancellation(
      run,
      'the restore was stopped: a database it was restoring over is as it was, one it created was dropped',
      (done) =>
        `the restore was in a step that cannot be interrupted and completed: ${done.target} now holds the content of backup ${done.backup.id} ` +
        `(row counts match the backup)${done.safetyBackupId ? `; what it replaced is in the safety backup ${done.safetyBackupId} (undo: dbguard restore ${done.safetyBackupId})` : ''}`,
    );
    if (options.json) {
      printJson(ctx, result);
      return;
    }
    print(
      ctx,
      [
        `Restored ${result.backup.id} into ${result.target}${result.createdTarget ? ' (created)' : ''}`,
        `  tables    ${Object.keys(result.tables).length}, ${totalRows(result.tables)} rows, row counts match the backup`,
        `  took      ${formatDuration(result.durationMs)}`,
        result.safetyBackupId
          ? `  undo      dbguard restore ${result.safetyBackupId}   (safety backup of what was replaced)`
          : '  undo      nothing to undo: the target did not exist before',
      ].join('\n'),
    );
  });
}

async function restoreToMoment(ctx: CliContext, ref: string | undefined, options: RestoreCliOptions, dir: string): Promise<void> {
  if (ref) throw new UsageError('Give either a backup id or --at <moment>, not both.');
  if (options.table?.length || options.jobs || options.from) throw new UsageError('--at restores the whole database: it cannot be combined with --table, --jobs or --from.');
  if (!options.yes && !ctx.interactive) {
    throw new RefusedError('Refusing to restore without confirmation.', 'Run it in a terminal to confirm, or pass --yes.');
  }
  const database = resolveDatabase(ctx, { db: options.db, database: options.database });
  const target = options.to ? resolveDatabase(ctx, { db: options.to }).target : database.target;
  const at = await momentOf(ctx, options.at!, database, dir);
  const decryption = await decryptionKeys(ctx, options.identity);
  let working: { stop(ok?: boolean): void } | undefined;
  const result = await withCancellation(
    (signal) =>
      restoreAt({
        database,
        at,
        target,
        dir,
        decryption,
        safetyBackup: database.backup,
        requiredTables: database.requiredTables,
        signal,
        env: ctx.env,
        confirm: async (plan) => {
          if (options.yes) return true;
          const description =
            `This replaces ${plan.targetExists ? 'the content of' : 'nothing (new database)'} ${plan.target}\n` +
            `with ${database.name} as it was at ${plan.at} (${tableSummary(plan.backup)}).` +
            (plan.targetExists ? '\nA safety backup of the current content is taken first.' : '');
          ctx.stderr.write(`${description}\n`);
          return confirmByTypingName(plan.databaseName);
        },
        onStep: (step) => {
          if (options.json) return;
          if (step.step === 'planned') info(ctx, `Base backup ${step.baseId} and ${step.segments} WAL segment${step.segments === 1 ? '' : 's'} (checksums checked).`);
          if (step.step === 'recovering') working = startElapsed(ctx.stderr, `Recovering to ${at.toISOString()} in a temporary server...`);
          if (step.step === 'recovered') working?.stop();
          if (step.step === 'safety-backup') info(ctx, `Safety backup of the current database: ${step.id}`);
          if (step.step === 'restoring') working = startElapsed(ctx.stderr, 'Restoring (all or nothing)...');
          if (step.step === 'checking') working?.stop();
        },
      }).catch((error: unknown) => {
        working?.stop(false);
        throw error;
      }),
    'the temporary server was stopped and its files removed; a database it was restoring over is as it was',
  );
  if (options.json) return printJson(ctx, result);
  print(
    ctx,
    [
      `Restored ${database.name} as it was at ${result.at} into ${result.target}${result.createdTarget ? ' (created)' : ''}`,
      `  from      base backup ${result.baseId} + ${result.segments} WAL segments${result.lastTransaction ? `; last transaction replayed: ${result.lastTransaction}` : ''}`,
      `  tables    ${Object.keys(result.tables).length}, ${totalRows(result.tables)} rows, row counts match the recovered copy`,
      `  took      ${formatDuration(result.durationMs)}`,
      result.safetyBackupId
        ? `  undo      dbguard restore ${result.safetyBackupId}   (safety backup of what was replaced)`
        : '  undo      nothing to undo: the target did not exist before',
    ].join('\n'),
  );
}

/**
 * `--at`: a moment, `before:<backup id>` (one second before that backup was taken), or `before:guard[:<backup id>]`
 * (one second before the destructive command the guard let through, as its audit log recorded it).
 */
async function momentOf(ctx: CliContext, value: string, database: NamedDatabase, dir: string): Promise<Date> {
  if (!value.startsWith('before:')) return parseMoment(value, database.pitr?.base.timeZone ?? database.schedule?.timeZone);
  const ref = value.slice('before:'.length);
  if (ref === 'guard' || ref.startsWith('guard:')) {
    const { at, entry } = momentBeforeApproval(await readAudit(dir), ref, database.target.display);
    info(ctx, `Before the command approved at ${entry.time}: ${entry.command}`);
    return at;
  }
  const found = await showBackup({ dir, ref, remote: remoteSettings(ctx, config(ctx)) });
  return new Date(Date.parse(found.manifest.createdAt) - 1000);
}

/**
 * With --to, `latest` means the newest backup of the database the backups are of (--database, --db, or the
 * configured one); with none configured, that of the --to target.
 */
function configuredSource(ctx: CliContext, options: RestoreCliOptions): DatabaseTarget | undefined {
  try {
    return resolveDatabase(ctx, { db: options.db, database: options.database }).target;
  } catch (error) {
    if (error instanceof UsageError) return undefined;
    throw error;
  }
}

async function confirm(ctx: CliContext, plan: RestorePlan, options: RestoreCliOptions): Promise<boolean> {
  if (options.yes) return true;
  const what = plan.tables.length === Object.keys(plan.backup.tables).length ? tableSummary(plan.backup) : `tables ${plan.tables.join(', ')}`;
  const description =
    `This replaces ${plan.targetExists ? 'the content of' : 'nothing (new database)'} ${plan.target}\n` +
    `with backup ${plan.backup.id} (${plan.backup.type}, taken ${formatDate(plan.backup.createdAt)}, ${what}).` +
    (plan.targetExists ? '\nA safety backup of the current content is taken first.' : '');
  if (!ctx.interactive) {
    throw new RefusedError(`Refusing to restore without confirmation.\n${description}`, 'Run it in a terminal to confirm, or pass --yes.');
  }
  ctx.stderr.write(`${description}\n`);
  return confirmByTypingName(plan.databaseName);
}
