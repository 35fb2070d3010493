import type { Command } from 'commander';
import type { DatabaseTarget } from '../../config/database-url.js';
import type { BackupType } from '../../storage/manifest.js';
import { verifyBackup } from '../../core/verify.js';
import { verifyPitr } from '../../core/pitr-restore.js';
import { DbguardError, UsageError } from '../../errors.js';
import { decryptionKeys, remoteSettings } from '../keys.js';
import { withCancellation } from '../signals.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, fromOption, jobsOption, print, printJson, resolveDatabase, resolveTarget, typeOption } from '../context.js';

interface VerifyCliOptions extends CommonOptions {
  all?: boolean;
  restoreTest?: boolean;
  type?: BackupType;
  decrypt?: boolean;
  identity?: string;
  jobs?: number;
  remote?: boolean;
  from?: 'local' | 'remote';
  pitr?: boolean;
}

export function registerVerify(program: Command, ctx: CliContext): void {
  const command = program
    .command('verify')
    .description('check a backup: checksum, readable by pg_restore/SQLite, row counts; records the result in its manifest')
    .argument('[id]', 'backup id, or "latest"')
    .option('--all', 'verify every backup')
    .option('--restore-test', 'PostgreSQL: restore into a scratch database on the --db server and compare every row count')
    .addOption(jobsOption('with --restore-test: parallel pg_restore jobs'))
    .option('--decrypt', 'encrypted backups: also decrypt and check the content (needs --identity or DBGUARD_PASSPHRASE)')
    .option('-i, --identity <file>', 'age identity file (default: $DBGUARD_AGE_IDENTITY_FILE)')
    .addOption(typeOption('only backups of this type'))
    .option('--remote', 'only re-read the remote copy and compare its sha256 (nothing is downloaded to disk)')
    .addOption(fromOption())
    .option('--pitr', 'point-in-time recovery: recover the newest restorable point into a temporary server and compare its row counts with the live database');
  addDbOption(command);
  addDirOption(command);
  addJsonOption(command);
  command.action(async (ref: string | undefined, options: VerifyCliOptions) => {
    if (options.pitr) return verifyPointInTime(ctx, ref, options);
    if (!ref && !options.all) throw new UsageError('Say which backup to verify: an id, `latest`, or --all.');
    if (ref && options.all) throw new UsageError('Give either a backup id or --all, not both.');
    if (options.jobs !== undefined && !options.restoreTest) throw new UsageError('--jobs applies to --restore-test only.');
    if (options.remote && (options.restoreTest || options.decrypt)) throw new UsageError('--remote checks the checksum only; for full checks of the remote copy use --from remote.');
    const remote = remoteSettings(ctx, config(ctx));
    const target: DatabaseTarget | undefined = options.restoreTest ? resolveTarget(ctx, options) : undefined;
    const decryption = options.decrypt || options.restoreTest ? await decryptionKeys(ctx, options.identity) : undefined;
    const run = (signal: AbortSignal) =>
      verifyBackup({
        dir: backupDir(ctx, options),
        ref: options.all ? 'all' : ref!,
        type: options.type,
        restoreTest: options.restoreTest,
        decrypt: options.decrypt || options.restoreTest,
        decryption,
        target,
        jobs: options.jobs,
        remote,
        from: options.from,
        remoteChecksumOnly: options.remote,
        signal,
      });
    const results = await withCancellation(run, 'nothing was recorded, and a scratch database was dropped');
    const failed = results.filter((r) => !r.verification.ok);
    if (options.json) {
      printJson(ctx, options.all ? results : results[0]);
    } else {
      for (const { id, verification: v, location } of results) {
        if (v.ok && v.readable === 'skipped') {
          const why = options.remote ? 'the remote copy was re-read' : 'the backup is encrypted, so its content was not read';
          print(ctx, `CHECKSUM OK ${id}: only the ${location === 'remote' ? 'remote ' : ''}checksum was verified; ${why}.`);
          print(ctx, options.remote ? `         To check its content too: dbguard verify ${id} --from remote` : `         To check its content too: dbguard verify ${id} --decrypt --identity <file> (or DBGUARD_PASSPHRASE)`);
          continue;
        }
        const checks = [`${location === 'remote' ? 'remote ' : ''}checksum ${v.checksum}`, `readable ${v.readable}`, `row counts ${v.rowCounts}`];
        if (v.restoreTest) checks.push('restore test done');
        print(ctx, `${v.ok ? 'OK    ' : 'FAILED'} ${id}: ${checks.join(', ')}`);
        for (const problem of v.problems) print(ctx, `         ${problem}`);
      }
    }
    if (failed.length > 0) {
      throw new DbguardError(`${failed.length} of ${results.length} backup(s) failed verification: ${failed.map((r) => r.id).join(', ')}.`, {
        hint: 'Do not rely on these backups; take a new one with `dbguard backup`.',
      });
    }
  });
}

async function verifyPointInTime(ctx: CliContext, ref: string | undefined, options: VerifyCliOptions): Promise<void> {
  if (ref || options.all || options.restoreTest || options.remote) throw new UsageError('--pitr verifies the restorable window of a database: give --database, not a backup.');
  const database = resolveDatabase(ctx, options);
  const decryption = await decryptionKeys(ctx, options.identity);
  const result = await withCancellation(
    (signal) => verifyPitr({ database, dir: backupDir(ctx, options), decryption, signal, env: ctx.env }),
    'the temporary server was stopped and its files removed',
  );
  if (options.json) printJson(ctx, result);
  else {
    print(ctx, `${result.ok ? 'OK    ' : 'FAILED'} ${result.database} recovered to ${result.at} (base backup ${result.baseId} + ${result.segments} WAL segments): row counts ${result.ok ? 'match the live database' : 'differ'}`);
    for (const difference of result.differences) print(ctx, `         ${difference}`);
  }
  if (!result.ok) {
    throw new DbguardError(`The recovered copy of ${result.database} does not have the live database's row counts.`, {
      hint: `Writes after ${result.at} explain a difference; run it again when the database is quiet, or check \`dbguard pitr status\`.`,
    });
  }
}

