import type { Command } from 'commander';
import pc from 'picocolors';
import { resolveDatabases } from '../../config/databases.js';
import { type DatabaseStatus, type PitrSummary, backupStatus, formatAge } from '../../core/status.js';
import { DbguardError } from '../../errors.js';
import { type CliContext, type CommonOptions, addDirOption, addJsonOption, backupDir, config, print, printJson, resolveDatabase } from '../context.js';
import { formatBytes, formatDate } from '../format.js';

export function registerStatus(program: Command, ctx: CliContext): void {
  const command = program
    .command('status')
    .description('are the backups fresh? per database: newest good backup, last attempt, last verification, next run')
    .option('--database <name>', 'only this database named in dbguard.config');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nExit 0 when every database is fresh (its newest good backup is younger than its maxAge and its last backup\n' +
      'attempt succeeded), 1 otherwise: usable from cron, CI, monitoring or a Kubernetes probe. It reads the backups\n' +
      'folder only; `dbguard serve` need not run.',
  );
  command.action(async (options: CommonOptions) => {
    const databases = options.database
      ? [resolveDatabase(ctx, { database: options.database })]
      : resolveDatabases({ config: config(ctx), env: ctx.env, cwd: ctx.cwd });
    const statuses = await backupStatus({ databases, dir: backupDir(ctx, options), pitr: true });
    if (options.json) printJson(ctx, statuses);
    else print(ctx, statuses.map((s) => describe(s, ctx.stdout.isTTY === true)).join('\n\n'));
    const notFresh = statuses.filter((s) => s.state !== 'fresh');
    if (notFresh.length > 0) {
      throw new DbguardError(`${notFresh.length} of ${statuses.length} database(s) not fresh: ${notFresh.map((s) => `${s.name} (${s.problems.join('; ')})`).join(', ')}.`, {
        hint: `Take a backup with \`dbguard backup${notFresh.length === 1 && notFresh[0]!.name !== 'default' ? ` --database ${notFresh[0]!.name}` : ''}\`, or see why the last one failed in the log of whatever runs it.`,
      });
    }
  });
}

function describe(s: DatabaseStatus, color: boolean): string {
  const paint = color ? (s.state === 'fresh' ? pc.green : pc.red) : (text: string) => text;
  const newest = s.newestGood ? `${s.newestGood.id} (${s.newestGood.type}, ${formatAge(s.newestGood.ageMs)} ago)` : 'none';
  const attempt = s.lastAttempt ? `${s.lastAttempt.ok ? 'ok' : `FAILED: ${s.lastAttempt.error ?? ''}`} at ${formatDate(s.lastAttempt.at)}` : 'none recorded';
  const verification = s.lastVerification
    ? `${s.lastVerification.ok ? 'ok' : 'FAILED'}${s.lastVerification.restoreTest ? ' (restore test)' : ''} ${s.lastVerification.id} at ${formatDate(s.lastVerification.at)}`
    : 'never';
  const lines = [
    `${s.name}  ${paint(s.state.toUpperCase())}  ${s.display}`,
    `  newest good backup  ${newest}`,
    `  last attempt        ${attempt}`,
    `  last verification   ${verification}`,
    `  max age             ${formatAge(s.maxAgeMs)}`,
  ];
  if (s.pitr) lines.push(...describePitr(s.pitr));
  if (s.nextBackup) lines.push(`  next backup         ${formatDate(s.nextBackup)}`);
  if (s.nextVerify) lines.push(`  next verification   ${formatDate(s.nextVerify)}`);
  return lines.join('\n');
}

function describePitr(p: PitrSummary): string[] {
  const { window, server } = p;
  const slot =
    'error' in server
      ? `server unreachable (${server.error})`
      : !server.slotExists
        ? 'missing'
        : `${server.active ? 'streaming' : 'NOT being read'}, holds ${server.retainedBytes === null ? '?' : formatBytes(server.retainedBytes)} of WAL on the server (limit ${formatBytes(p.maxSlotWalBytes)})`;
  return [
    `  restorable window   ${window.oldest && window.newest ? `${formatDate(window.oldest)} to ${formatDate(window.newest)}` : 'none yet'}`,
    `  pitr lag            ${p.lagMs === null ? 'unknown' : formatAge(p.lagMs)} (maxLag ${formatAge(p.maxLagMs)})`,
    `  replication slot    ${p.slot}: ${slot}`,
    ...p.problems.map((problem) => `  PITR PROBLEM        ${problem}`),
  ];
}
