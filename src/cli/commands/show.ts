import type { Command } from 'commander';
import { showBackup } from '../../core/list.js';
import type { BackupType } from '../../storage/manifest.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, databaseFilterTarget, fromOption, print, printJson, typeOption } from '../context.js';
import { columns, describeStorage, formatBytes, formatDate, formatDuration, remoteObjectUrl, verificationStatus } from '../format.js';
import { remoteSettings } from '../keys.js';

export function registerShow(program: Command, ctx: CliContext): void {
  const command = program
    .command('show')
    .description('show one backup: its manifest and every table with its row count')
    .argument('<id>', 'backup id, or "latest"')
    .addOption(typeOption('with "latest": the newest backup of this type'))
    .addOption(fromOption());
  addDbOption(command, 'with "latest": the newest backup of this database');
  addDirOption(command);
  addJsonOption(command);
  command.action(async (ref: string, options: CommonOptions & { type?: BackupType; from?: 'local' | 'remote' }) => {
    const shown = await showBackup({
      dir: backupDir(ctx, options),
      ref,
      type: options.type,
      from: options.from,
      remote: remoteSettings(ctx, config(ctx)),
      database: databaseFilterTarget(ctx, options),
    });
    const m = shown.manifest;
    const file = shown.copies.local?.file ?? null;
    if (options.json) {
      printJson(ctx, { ...m, file, where: shown.where });
      return;
    }
    const fields: string[][] = [
      ['id', m.id],
      ['type', m.type],
      ['label', m.label ?? '-'],
      ['description', m.description ?? '-'],
      ['created', formatDate(m.createdAt)],
      ['database', `${m.database.name}${m.database.host ? ` on ${m.database.host}` : ''} (${m.engine} ${m.serverVersion})`],
      ['format', describeStorage(m)],
      ['where', shown.where],
      ...(file ? [['file', file]] : []),
      ...(m.remote ? [['remote', `${remoteObjectUrl(m.remote)}${m.remote.lockedUntil ? ` (locked until ${formatDate(m.remote.lockedUntil)})` : ''}`]] : []),
      ['size', `${formatBytes(m.size)} (${m.size} bytes)`],
      ['sha256', m.sha256],
      ['took', formatDuration(m.durationMs)],
      ['verified', verificationStatus(m)],
      ['dbguard', m.dbguardVersion],
    ];
    const problems = m.verification?.problems ?? [];
    const tables = Object.entries(m.tables).map(([name, rows]) => [name, String(rows)]);
    print(
      ctx,
      [
        columns(fields),
        ...(problems.length > 0 ? ['', 'verification problems:', ...problems.map((p) => `  ${p}`)] : []),
        '',
        tables.length > 0 ? columns([['TABLE', 'ROWS'], ...tables]) : 'no tables',
      ].join('\n'),
    );
  });
}
