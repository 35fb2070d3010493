import type { Command } from 'commander';
import pc from 'picocolors';
import { listBackups } from '../../core/list.js';
import { BACKUP_TYPES, type BackupType } from '../../storage/manifest.js';
import { remoteSettings } from '../keys.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, databaseFilterTarget, info, print, printJson, typeOption } from '../context.js';
import { columns, formatBytes, formatDate, tableSummary, verificationStatus } from '../format.js';

export function registerList(program: Command, ctx: CliContext): void {
  const command = program
    .command('list')
    .alias('ls')
    .description('list complete backups, grouped by type, newest first, with where their copies are')
    .addOption(typeOption('only backups of this type'))
    .option('--remote', 'only the copies in the bucket')
    .option('--local', 'only the copies in the local folder');
  addDbOption(command, 'only this database\'s backups');
  addDirOption(command);
  addJsonOption(command);
  command.action(async (options: CommonOptions & { type?: BackupType; remote?: boolean; local?: boolean }) => {
    const dir = backupDir(ctx, options);
    const remote = remoteSettings(ctx, config(ctx));
    const from = options.remote ? 'remote' : options.local ? 'local' : undefined;
    if (from === 'remote' && !remote) info(ctx, 'warning: no remote is configured (remote.url or DBGUARD_REMOTE).');
    const { backups, problems } = await listBackups({ dir, type: options.type, remote, from, database: databaseFilterTarget(ctx, options) });
    if (options.json) {
      printJson(
        ctx,
        backups.map((b) => ({ ...b.manifest, file: b.copies.local?.file ?? null, where: b.where })),
      );
      return;
    }
    if (backups.length === 0) print(ctx, `No backups in ${from === 'remote' ? 'the bucket' : dir}${remote && !from ? ' or the bucket' : ''}. Take one with: dbguard backup`);
    for (const type of BACKUP_TYPES) {
      const ofType = backups.filter((b) => b.manifest.type === type);
      if (ofType.length === 0) continue;
      const rows = ofType.map(({ manifest: m, where }) => [
        m.id,
        formatDate(m.createdAt),
        m.label ?? '',
        formatBytes(m.size),
        tableSummary(m),
        where,
        verificationStatus(m),
      ]);
      print(ctx, `${pc.bold(type)} (${ofType.length})\n${indent(columns([['ID', 'CREATED', 'LABEL', 'SIZE', 'TABLES', 'WHERE', 'VERIFIED'], ...rows]))}\n`);
    }
    for (const problem of problems) info(ctx, `warning: ${problem.file}: ${problem.problem}`);
  });
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
