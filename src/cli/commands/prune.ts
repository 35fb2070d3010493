import type { Command } from 'commander';
import { resolveDatabases } from '../../config/databases.js';
import type { DatabaseTarget } from '../../config/database-url.js';
import { databaseFilter, sameDatabase } from '../../core/list.js';
import { type PruneOutcome, type WindowChange, prune } from '../../core/prune.js';
import { remoteSettings } from '../keys.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, databaseFilterTarget, print, printJson } from '../context.js';
import { columns, formatBytes, formatDate } from '../format.js';

export function registerPrune(program: Command, ctx: CliContext): void {
  const command = program
    .command('prune')
    .description('delete backups the retention policy no longer keeps; every backup is shown with the rule that decided')
    .option('--dry-run', 'show the decisions, delete nothing')
    .option('--local', 'only the local folder')
    .option('--remote', 'only the bucket');
  addDbOption(command, 'only this database\'s backups');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nDefaults: automatic backups 7 days, migration and pre-restore 30 days, manual and export never pruned.\n' +
      'Set per-type keepLast / maxAgeDays / keepDaily / keepWeekly / keepMonthly under "retention" in dbguard.config.json,\n' +
      'and for the bucket under "remote": { "retention": ... } (the local policy when absent).\n' +
      'Never deleted, whatever the policy: the newest good backup of each database, anything of a database whose\n' +
      'latest backup failed or failed verification, the latest migration backup for 30 days, a backup being restored,\n' +
      'a remote object under Object Lock before its date, a base backup the point-in-time recovery window needs.',
  );
  command.action(async (options: CommonOptions & { dryRun?: boolean; local?: boolean; remote?: boolean }) => {
    const settings = config(ctx);
    const target = databaseFilterTarget(ctx, options);
    const ofDatabase = databaseFilter(target);
    // Databases with point-in-time recovery: their base backups are kept while the window needs them.
    const same = (a: DatabaseTarget) => !target || sameDatabase(a, target);
    const pitr = Object.values(settings.databases ?? {}).some((entry) => entry.pitr)
      ? resolveDatabases({ config: settings, env: ctx.env, cwd: ctx.cwd }).filter((d) => d.pitr && same(d.target))
      : [];
    const result = await prune({
      dir: backupDir(ctx, options),
      policies: settings.retention,
      timeZone: settings.prune?.timeZone,
      dryRun: options.dryRun,
      remote: remoteSettings(ctx, settings),
      only: options.local ? 'local' : options.remote ? 'remote' : undefined,
      filter: (b) => ofDatabase(b.manifest),
      pitr,
    });
    if (options.json) {
      printJson(ctx, { dryRun: Boolean(options.dryRun), ...result });
      return;
    }
    const sides: Array<[string, PruneOutcome]> = [];
    if (!options.remote) sides.push(['local', result]);
    if (result.remote) sides.push(['remote', result.remote]);
    for (const [side, outcome] of sides) {
      if (sides.length > 1) print(ctx, `${side === 'local' ? 'Local folder' : 'Bucket'}:`);
      if (outcome.decisions.length === 0) {
        print(ctx, 'No backups.');
        continue;
      }
      const rows = outcome.decisions.map((d) => [d.action === 'delete' ? (options.dryRun ? 'would delete' : 'deleted') : 'keep', d.id, d.type, formatDate(d.createdAt), d.rule, d.reason]);
      print(ctx, columns([['ACTION', 'ID', 'TYPE', 'CREATED', 'RULE', 'WHY'], ...rows]));
      for (const w of outcome.windows) print(ctx, describeWindow(w, Boolean(options.dryRun)));
      const doomed = outcome.decisions.filter((d) => d.action === 'delete');
      const bytes = doomed.reduce((sum, d) => sum + d.size, 0);
      print(
        ctx,
        options.dryRun
          ? `\nDry run: ${doomed.length} backup(s) (${formatBytes(bytes)}) would be deleted; nothing was.\n`
          : `\nDeleted ${outcome.deleted.length} backup(s), freed ${formatBytes(outcome.freedBytes)}.\n`,
      );
    }
  });
}

function describeWindow(w: WindowChange, dryRun: boolean): string {
  const span = (x: WindowChange['before']) => (x.oldest && x.newest ? `${formatDate(x.oldest)} to ${formatDate(x.newest)}` : 'none');
  const wal = w.walDeleted > 0 ? `; ${w.walDeleted} WAL object(s) (${formatBytes(w.walFreedBytes)}) ${dryRun ? 'would be' : 'were'} deleted` : '';
  return `Restorable window of ${w.database}: ${span(w.before)}${span(w.before) === span(w.after) ? ' (unchanged)' : ` -> ${span(w.after)}`}${wal}`;
}
