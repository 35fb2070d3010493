import { Option, type Command } from 'commander';
import { exportSubject, type ExportFormat } from '../../core/export.js';
import { parseCompression } from '../../pipeline/compression.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, config, info, print, printJson, resolveDatabase } from '../context.js';
import { describeStorage, formatBytes, formatDuration, tableSummary } from '../format.js';
import { withCancellation } from '../signals.js';
import path from 'node:path';

interface ExportCliOptions extends CommonOptions {
  subject: string;
  out?: string;
  format: ExportFormat;
  label?: string;
  compress?: string;
  encrypt: boolean;
}

export function registerExport(program: Command, ctx: CliContext): void {
  const command = program
    .command('export')
    .description("export one person's data (GDPR access and portability): every row that belongs to them, found through the foreign keys")
    .requiredOption('--subject <table>=<key>', 'the person\'s row: users=42, \'"User"=ck8x…\', auth.users=7, or a composite key as table=col1:v1,col2:v2')
    .option('--out <file>', 'also write the plain document here, to hand to the person')
    .addOption(new Option('--format <format>', 'json: one document; ndjson: one line per row, for very large exports').choices(['json', 'ndjson']).default('json'))
    .option('--label <text>', 'short label, added to the export\'s id')
    .option('--compress <spec>', 'compression of the stored export: none | gzip[:1-9] | zstd[:1-19] (default zstd)')
    .option('--no-encrypt', 'do not encrypt the stored export, even when recipients or a passphrase are configured');
  addDbOption(command);
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    `
Which rows belong to the subject:
  - the subject's row;
  - rows with a foreign key into the subject's table that points at the subject;
  - rows whose foreign keys into the subject's table are all NULL (or that have none) and that point at a row
    belonging to the subject, transitively (a post's tags, an order's items, replies to the subject's comments).
Other rows of the subject's table, and rows pointing at another row of it (another user's comment on the subject's
post), are never included. Rows the exported rows only point to (a product, a tag) are listed as references.

Columns that look like secrets (password, hash, token, secret, salt, otp, ...) are written as "[redacted]". In the
configuration, "export": { "redact": [...], "include": [...], "exclude": [...] } takes column, table.column or
table names: redact more columns, keep some that only look like secrets, leave tables or columns out.

The export is stored as an "export" backup in <dir>/export (compressed, encrypted when keys are configured,
never pruned by default); its manifest names the subject's table and the row counts, never the key.`,
  );
  command.action(async (options: ExportCliOptions) => {
    const { target, backup: configured } = resolveDatabase(ctx, options);
    const result = await withCancellation((signal) =>
      exportSubject({
        target,
        subject: options.subject,
        format: options.format,
        out: options.out === undefined ? undefined : path.resolve(ctx.cwd, options.out),
        dir: backupDir(ctx, options),
        label: options.label,
        compression: options.compress === undefined ? configured.compression : parseCompression(options.compress),
        encryption: options.encrypt ? configured.encryption : undefined,
        rules: config(ctx).export,
        onWarning: (message) => info(ctx, `warning: ${message}`),
        signal,
      }),
    );
    if (options.json) {
      printJson(ctx, { ...result.manifest, file: result.file, out: result.out, redacted: result.redacted });
      return;
    }
    const m = result.manifest;
    print(
      ctx,
      [
        `Export ${m.id} of ${m.subject?.table} complete`,
        `  file      ${result.file}`,
        ...(result.out ? [`  copy      ${result.out} (plain, for the person)`] : []),
        `  size      ${formatBytes(m.size)}, sha256 ${m.sha256}`,
        `  stored    ${describeStorage(m)}`,
        `  content   ${tableSummary(m)}, ${m.subject?.references ?? 0} references`,
        `  redacted  ${result.redacted.length > 0 ? result.redacted.join(', ') : 'nothing'}`,
        `  took      ${formatDuration(m.durationMs)}`,
      ].join('\n'),
    );
  });
}
