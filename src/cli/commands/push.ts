import type { Command } from 'commander';
import { pushBackups } from '../../core/push.js';
import { DbguardError, UsageError } from '../../errors.js';
import { remoteSettings } from '../keys.js';
import { createProgress } from '../progress.js';
import { withCancellation } from '../signals.js';
import { type CliContext, type CommonOptions, addDirOption, addJsonOption, backupDir, config, info, print, printJson } from '../context.js';
import { formatBytes } from '../format.js';

export function registerPush(program: Command, ctx: CliContext): void {
  const command = program
    .command('push')
    .description('copy local backups to the bucket (those already there with the same sha256 are skipped)')
    .argument('[ids...]', 'backup ids (or "latest")')
    .option('--all', 'every local backup missing from the bucket');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText('after', '\nSafe to repeat: an interrupted push is resumed by running it again (complete copies are skipped,\nunfinished uploads removed from the bucket).');
  command.action(async (ids: string[], options: CommonOptions & { all?: boolean }) => {
    if (ids.length === 0 && !options.all) throw new UsageError('Say which backups to push: ids, `latest`, or --all.');
    if (ids.length > 0 && options.all) throw new UsageError('Give either backup ids or --all, not both.');
    const remote = remoteSettings(ctx, config(ctx));
    let progress: ReturnType<typeof createProgress> | undefined;
    const result = await withCancellation(
      (signal) =>
        pushBackups({
          dir: backupDir(ctx, options),
          remote,
          refs: options.all ? 'all' : ids,
          signal,
          onBackup: (id) => {
            progress?.done();
            progress = createProgress(ctx.stderr, `Pushing ${id}`, !options.json);
          },
          onProgress: (bytes) => progress?.update(bytes),
        }),
      'the unfinished upload was removed from the bucket',
    ).finally(() => progress?.done());
    if (options.json) {
      printJson(ctx, result);
    } else {
      for (const item of result.pushed) print(ctx, `pushed   ${item.id} (${formatBytes(item.size)})`);
      for (const item of result.skipped) print(ctx, `skipped  ${item.id} (already in the bucket, same sha256)`);
      for (const item of result.failed) info(ctx, `failed   ${item.id}: ${item.error}`);
    }
    if (result.failed.length > 0) {
      throw new DbguardError(`${result.failed.length} backup(s) could not be pushed.`, { hint: 'Run `dbguard push` again once the cause is fixed: it resumes.' });
    }
  });
}
