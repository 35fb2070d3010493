import type { Command } from 'commander';
import { pullFromRemote } from '../../core/push.js';
import { remoteSettings } from '../keys.js';
import { createProgress } from '../progress.js';
import { withCancellation } from '../signals.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, databaseFilterTarget, print, printJson, typeOption } from '../context.js';
import type { BackupType } from '../../storage/manifest.js';
import { formatBytes } from '../format.js';

export function registerPull(program: Command, ctx: CliContext): void {
  const command = program
    .command('pull')
    .description('download a backup from the bucket into the local folder (its checksum checked as it streams)')
    .argument('<id>', 'backup id, or "latest"')
    .addOption(typeOption('with "latest": the newest backup of this type'));
  addDbOption(command, 'with "latest": the newest backup of this database');
  addDirOption(command);
  addJsonOption(command);
  command.action(async (ref: string, options: CommonOptions & { type?: BackupType }) => {
    const progress = createProgress(ctx.stderr, `Downloading ${ref}`, !options.json);
    const result = await withCancellation(
      (signal) =>
        pullFromRemote({
          dir: backupDir(ctx, options),
          remote: remoteSettings(ctx, config(ctx)),
          ref,
          type: options.type,
          database: databaseFilterTarget(ctx, options),
          signal,
          onProgress: (bytes) => progress.update(bytes),
        }),
      'nothing was kept',
    ).finally(() => progress.done());
    if (options.json) {
      printJson(ctx, { ...result.stored.manifest, file: result.stored.file, skipped: result.skipped });
      return;
    }
    const m = result.stored.manifest;
    print(ctx, result.skipped ? `${m.id} is already in ${result.stored.file} (same sha256).` : `Pulled ${m.id} (${formatBytes(m.size)}, sha256 verified) to ${result.stored.file}`);
  });
}
