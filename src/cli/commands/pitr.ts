import type { Command } from 'commander';
import { disablePitr, enablePitr, pitrStatus } from '../../core/pitr.js';
import { formatAge } from '../../core/status.js';
import { formatBytes, formatDuration } from '../format.js';
import { withCancellation } from '../signals.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, info, print, printJson, resolveDatabase } from '../context.js';

export function registerPitr(program: Command, ctx: CliContext): void {
  const pitr = program
    .command('pitr')
    .description('point-in-time recovery (PostgreSQL): stream the WAL with dbguard serve, restore any moment with restore --at');

  const enable = pitr
    .command('enable')
    .description('check what the server needs, create the replication slot, take the first base backup');
  addDbOption(enable);
  addDirOption(enable);
  addJsonOption(enable);
  enable.action(async (options: CommonOptions) => {
    const database = resolveDatabase(ctx, options);
    const dir = backupDir(ctx, options);
    if (!options.json) info(ctx, `Checking ${database.target.display} for point-in-time recovery...`);
    const result = await withCancellation((signal) => enablePitr({ database, dir, signal, onWarning: (message) => info(ctx, message) }), 'the base backup was removed');
    if (options.json) return printJson(ctx, { ...result, base: result.base?.manifest ?? null });
    const lines = [
      ...result.checks.map((c) => `  ok  ${c.what}`),
      `Replication slot ${result.slot} ${result.slotCreated ? 'created: the server keeps the WAL from now on' : 'exists'}.`,
      result.base ? `First base backup: ${result.base.manifest.id} (${formatBytes(result.base.manifest.size)}, ${formatDuration(result.base.manifest.durationMs)})` : 'A base backup exists already.',
    ];
    if (!database.pitr) lines.push(`Next: add "pitr": true to databases.${database.name} in dbguard.config.json, and run dbguard serve: it streams the WAL.`);
    else lines.push('Next: run dbguard serve: it streams the WAL and takes base backups on the "base" schedule.');
    lines.push('Set max_slot_wal_keep_size on the server (e.g. 10GB) so a stopped dbguard can never fill its disk.');
    print(ctx, lines.join('\n'));
  });

  const disable = pitr.command('disable').description('drop the replication slot (the server stops keeping WAL for dbguard)');
  addDbOption(disable);
  addJsonOption(disable);
  disable.action(async (options: CommonOptions) => {
    const database = resolveDatabase(ctx, options);
    const result = await disablePitr({ database });
    if (options.json) return printJson(ctx, result);
    print(ctx, result.dropped ? `Replication slot ${result.slot} dropped.` : `There is no replication slot ${result.slot}: nothing to do.`);
    if (database.pitr) info(ctx, `databases.${database.name}.pitr is still set: dbguard serve creates the slot again. Remove it from the configuration.`);
  });

  const status = pitr.command('status').description('the restorable window, the lag, and the WAL the slot holds back on the server');
  addDbOption(status);
  addDirOption(status);
  addJsonOption(status);
  status.action(async (options: CommonOptions) => {
    const database = resolveDatabase(ctx, options);
    const result = await pitrStatus({ database, dir: backupDir(ctx, options) });
    if (options.json) return printJson(ctx, result);
    const { window, server } = result;
    const lines = [
      `${database.name}: point-in-time recovery${database.pitr ? '' : ' (not configured: add "pitr": true to this database)'}`,
      `  window    ${window.oldest && window.newest ? `${window.oldest} to ${window.newest}` : 'none yet'}${window.bases > 0 ? ` (${window.bases} base backup${window.bases === 1 ? '' : 's'})` : ''}`,
      `  lag       ${result.lagMs === null ? 'unknown' : formatAge(result.lagMs)}${database.pitr ? ` (maxLag ${formatAge(database.pitr.maxLagMs)})` : ''}`,
      `  archive   ${result.walObjects} WAL objects, ${formatBytes(result.walBytes)} in ${result.walWhere}`,
      ...result.problems.map((p) => `  PROBLEM   ${p}`),
      'error' in server
        ? `  slot      ${result.slot}: server unreachable (${server.error})`
        : `  slot      ${result.slot}: ${server.slotExists ? `${server.active ? 'streaming' : 'NOT being read'}, holds ${server.retainedBytes === null ? '?' : formatBytes(server.retainedBytes)} of WAL on the server` : 'missing (run dbguard pitr enable)'}`,
      ...window.holes.map((h) => `  HOLE      WAL segments ${h.from} to ${h.to} are missing: no moment after them can be recovered from the base before them`),
    ];
    print(ctx, lines.join('\n'));
  });
}
