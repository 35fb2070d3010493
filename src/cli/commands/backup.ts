import type { Command } from 'commander';
import { type BackupResult, RemoteCopyError, backup } from '../../core/backup.js';
import { describeRemote } from '../../config/remote.js';
import { UsageError } from '../../errors.js';
import type { BackupType } from '../../storage/manifest.js';
import { parseCompression } from '../../pipeline/compression.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, info, jobsOption, print, printJson, resolveDatabase, typeOption } from '../context.js';
import { describeStorage, formatBytes, formatDate, formatDuration, remoteObjectUrl, tableSummary } from '../format.js';
import { yieldCpuToApplication } from '../priority.js';
import { createProgress } from '../progress.js';
import { withCancellation } from '../signals.js';

interface BackupCliOptions extends CommonOptions {
  type?: BackupType;
  label?: string;
  description?: string;
  compress?: string;
  encrypt: boolean;
  prune: boolean;
  jobs?: number;
  nice: boolean;
  remote: boolean;
  remoteOnly?: boolean;
}

export function registerBackup(program: Command, ctx: CliContext): void {
  const command = program
    .command('backup')
    .description('take a checksummed backup of the database (pg_dump custom format, a mariadb-dump/mysqldump script, or a consistent SQLite snapshot)')
    .addOption(typeOption('kind of backup, decides its folder and retention').default('manual'))
    .option('--label <text>', 'short label, added to the backup id')
    .option('--description <text>', 'free text stored in the manifest')
    .option('--compress <spec>', 'none | gzip[:1-9] | zstd[:1-19] (default: zstd; for PostgreSQL, gzip and none are pg_dump\'s own)')
    .addOption(jobsOption('PostgreSQL: parallel pg_dump jobs, for large databases (pg_dump\'s directory format, stored as one .dump.tar)'))
    .option('--no-encrypt', 'do not encrypt, even when recipients or a passphrase are configured')
    .option('--no-prune', 'do not apply the retention policy after the backup')
    .option('--no-remote', 'keep this backup local only, even when a remote is configured')
    .option('--remote-only', 'stream the backup straight into the bucket; nothing is kept on the local disk')
    .option('--no-nice', 'run at normal CPU priority (by default a backup runs at nice +10, so your app keeps the CPU)');
  addDbOption(command);
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nThe backup is written to <dir>/<type>/<database>-<UTC timestamp>[-<label>].<ext> with a JSON manifest beside it.\n' +
      'It only appears in `dbguard list` once it is complete.',
  );
  command.action(async (options: BackupCliOptions) => {
    if (options.nice) yieldCpuToApplication();
    const { target, backup: configured } = resolveDatabase(ctx, options);
    if (options.remoteOnly && !options.remote) throw new UsageError('--remote-only and --no-remote contradict each other.');
    if (options.remoteOnly && !configured.remote) {
      throw new UsageError('--remote-only needs a remote.', 'Set remote.url in dbguard.config.json or DBGUARD_REMOTE=s3://bucket/prefix.');
    }
    const progress = createProgress(ctx.stderr, `Backing up ${target.display}`, !options.json);
    const upload = createProgress(ctx.stderr, `Copying to ${configured.remote ? describeRemote(configured.remote) : 'the bucket'}`, !options.json);
    const result = await withCancellation((signal) =>
      backup({
        target,
        dir: backupDir(ctx, options),
        type: options.type,
        label: options.label,
        description: options.description,
        compression: options.compress === undefined ? configured.compression : parseCompression(options.compress),
        encryption: options.encrypt ? configured.encryption : undefined,
        onWarning: (message) => info(ctx, `warning: ${message}`),
        retention: options.prune ? configured.retention : false,
        sizeWarningBytes: configured.sizeWarningBytes,
        jobs: options.jobs,
        remote: configured.remote,
        remoteMode: !options.remote ? 'none' : options.remoteOnly ? 'only' : undefined,
        signal,
        onProgress: (bytes, detail) => progress.update(bytes, detail),
        onUploadProgress: (bytes) => {
          progress.done();
          upload.update(bytes);
        },
      }),
    )
      .catch((error: unknown) => {
        // The local backup is complete: show it before the error line says what failed remotely.
        if (error instanceof RemoteCopyError && !options.json) printSummary(ctx, error.backup);
        throw error;
      })
      .finally(() => {
        progress.done();
        upload.done();
      });

    if (result.cleanedUp.length > 0 && !options.json) {
      info(ctx, `Removed ${result.cleanedUp.length} leftover file(s) of interrupted backups.`);
    }
    for (const warning of result.warnings) info(ctx, `warning: ${warning}`);
    if (result.pruned.length > 0 && !options.json) {
      info(ctx, `Retention policy: deleted ${result.pruned.length} old backup(s) (see \`dbguard prune --dry-run\`).`);
    }
    if (result.prunedRemote.length > 0 && !options.json) {
      info(ctx, `Remote retention policy: deleted ${result.prunedRemote.length} old remote backup(s).`);
    }
    if (options.json) {
      printJson(ctx, { ...result.manifest, file: result.location === 'remote' ? remoteObjectUrl(result.manifest.remote!) : result.file, where: result.where });
      return;
    }
    printSummary(ctx, result);
  });
}

function printSummary(ctx: CliContext, result: BackupResult): void {
  const m = result.manifest;
  print(
    ctx,
    [
      `Backup ${m.id} (${m.type}) complete`,
      ...(result.location === 'local' ? [`  file      ${result.file}`] : []),
      ...(m.remote ? [`  remote    ${remoteObjectUrl(m.remote)}${m.remote.lockedUntil ? ` (locked until ${formatDate(m.remote.lockedUntil)})` : ''}`] : []),
      `  size      ${formatBytes(m.size)}, sha256 ${m.sha256}`,
      `  stored    ${describeStorage(m)}`,
      `  content   ${tableSummary(m)}`,
      `  took      ${formatDuration(m.durationMs)}`,
      `  restore   dbguard restore ${m.id}`,
    ].join('\n'),
  );
}
