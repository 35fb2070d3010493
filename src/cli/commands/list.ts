import type { Command } from 'commander';
import pc from 'picocolors';
import { listBackups } from '../../core/list.js';
import { BACKUP_TYPES, type BackupType } from '../../storage/manifest.js';
import { type CliContext, type CommonOptions, addDirOption, addJsonOption, backupDir, info, print, printJson, typeOption } from '../context.js';
import { columns, formatBytes, formatDate, tableSummary, verificationStatus } from '../format.js';

export function registerList(program: Command, ctx: CliContext): void {
  const command = program
    .command('list')
    .alias('ls')
    .description('list complete backups, grouped by type, newest first')
    .addOption(typeOption('only backups of this type'));
  addDirOption(command);
  addJsonOption(command);
  command.action(async (options: CommonOptions & { type?: BackupType }) => {
    const dir = backupDir(ctx, options);
    const { backups, problems } = await listBackups({ dir, type: options.type });
    if (options.json) {
      printJson(
        ctx,
        backups.map((b) => ({ ...b.manifest, file: b.file })),
      );
      return;
    }
    if (backups.length === 0) print(ctx, `No backups in ${dir}. Take one with: dbguard backup`);
    for (const type of BACKUP_TYPES) {
      const ofType = backups.filter((b) => b.manifest.type === type);
      if (ofType.length === 0) continue;
      const rows = ofType.map(({ manifest: m }) => [
        m.id,
        formatDate(m.createdAt),
        m.label ?? '',
        formatBytes(m.size),
        tableSummary(m),
        verificationStatus(m),
      ]);
      print(ctx, `${pc.bold(type)} (${ofType.length})\n${indent(columns([['ID', 'CREATED', 'LABEL', 'SIZE', 'TABLES', 'VERIFIED'], ...rows]))}\n`);
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
