import type { Command } from 'commander';
import { prune } from '../../core/prune.js';
import { type CliContext, type CommonOptions, addDirOption, addJsonOption, backupDir, config, print, printJson } from '../context.js';
import { columns, formatBytes, formatDate } from '../format.js';

export function registerPrune(program: Command, ctx: CliContext): void {
  const command = program
    .command('prune')
    .description('delete backups the retention policy no longer keeps; every backup is shown with the rule that decided')
    .option('--dry-run', 'show the decisions, delete nothing');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nDefaults: automatic backups 7 days, migration and pre-restore 30 days, manual and export never pruned.\n' +
      'Set per-type keepLast / maxAgeDays / keepDaily / keepWeekly / keepMonthly under "retention" in dbguard.config.json.\n' +
      'Never deleted, whatever the policy: the newest good backup of each database, anything of a database whose\n' +
      'latest backup failed or failed verification, the latest migration backup for 30 days, a backup being restored.',
  );
  command.action(async (options: CommonOptions & { dryRun?: boolean }) => {
    const settings = config(ctx);
    const result = await prune({ dir: backupDir(ctx, options), policies: settings.retention, timeZone: settings.prune?.timeZone, dryRun: options.dryRun });
    if (options.json) {
      printJson(ctx, { dryRun: Boolean(options.dryRun), ...result });
      return;
    }
    if (result.decisions.length === 0) {
      print(ctx, 'No backups.');
      return;
    }
    const rows = result.decisions.map((d) => [d.action === 'delete' ? (options.dryRun ? 'would delete' : 'deleted') : 'keep', d.id, d.type, formatDate(d.createdAt), d.rule, d.reason]);
    print(ctx, columns([['ACTION', 'ID', 'TYPE', 'CREATED', 'RULE', 'WHY'], ...rows]));
    const doomed = result.decisions.filter((d) => d.action === 'delete');
    const bytes = doomed.reduce((sum, d) => sum + d.size, 0);
    print(
      ctx,
      options.dryRun
        ? `\nDry run: ${doomed.length} backup(s) (${formatBytes(bytes)}) would be deleted; nothing was.`
        : `\nDeleted ${result.deleted.length} backup(s), freed ${formatBytes(result.freedBytes)}.`,
    );
  });
}
