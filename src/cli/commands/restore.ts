import type { Command } from 'commander';
import { listBackups } from '../../core/list.js';
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
    .addOption(fromOption());
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
    const result = await withCancellation(run, 'the restore was stopped: a database it was restoring over is as it was, one it created was dropped');
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
