import type { Command } from 'commander';
import { databaseNames, withDotenv } from '../../config/databases.js';
import { Notifier, resolveChannels } from '../../notify/index.js';
import { DbguardError, UsageError } from '../../errors.js';
import { type CliContext, addJsonOption, config, print, printJson } from '../context.js';

export function registerNotify(program: Command, ctx: CliContext): void {
  const notify = program.command('notify').description('notification channels of dbguard serve');
  const test = notify
    .command('test')
    .description('send a test message to every channel in "notify" of dbguard.config and report each result');
  addJsonOption(test);
  test.action(async (options: { json?: boolean }) => {
    const settings = config(ctx);
    if (!settings.notify || settings.notify.length === 0) {
      throw new UsageError('No notification channels configured.', 'Add "notify": [{ "type": "slack", "url": "${SLACK_WEBHOOK_URL}" }] to dbguard.config.json.');
    }
    const notifier = new Notifier(resolveChannels(settings.notify, withDotenv(ctx.env, ctx.cwd)), { retryDelaysMs: [1000] });
    const database = databaseNames(settings)[0]!;
    const results = await notifier.notify({
      event: 'test',
      database,
      display: 'a test message from dbguard notify test',
      newestGood: null,
      command: 'dbguard status',
      at: new Date().toISOString(),
    });
    if (options.json) printJson(ctx, results);
    else for (const r of results) print(ctx, `${r.ok ? 'sent  ' : 'FAILED'} ${r.channel}${r.ok ? '' : `: ${r.error} (${r.attempts} attempts)`}`);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) throw new DbguardError(`${failed.length} of ${results.length} channel(s) could not be reached.`);
  });
}
