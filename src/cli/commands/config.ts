import type { Command } from 'commander';
import { type DbguardConfig, loadConfig } from '../../config/config-file.js';
import { type RemoteSettings, resolveRemote } from '../../config/remote.js';
import { locateDatabaseUrl, parseDatabaseUrl } from '../../config/database-url.js';
import { resolveNamedDatabase } from '../../config/databases.js';
import { DEFAULT_BACKUP_DIR } from '../../core/defaults.js';
import { resolveRetentionPolicies } from '../../core/retention.js';
import { DbguardError } from '../../errors.js';
import { type CliContext, backupDir, print, printJson } from '../context.js';

export function registerConfig(program: Command, ctx: CliContext): void {
  program
    .command('config')
    .description('print the effective configuration (secrets hidden) and where each part comes from')
    .option('--db <url>', 'database URL to show (default: $DATABASE_URL, then ./.env)')
    .option('--json', 'print JSON')
    .action(async (options: { db?: string; json?: boolean }) => {
      const { config, source } = loadConfig(ctx.cwd);
      let database: { url: string; source: string } | { error: string };
      try {
        const located = locateDatabaseUrl({ db: options.db, env: ctx.env, cwd: ctx.cwd });
        database = { url: parseDatabaseUrl(located.url, ctx.cwd).display, source: located.source };
      } catch (error) {
        database = { error: error instanceof DbguardError ? error.message : String(error) };
      }
      const effective = {
        configFile: source,
        database,
        backupDir: backupDir(ctx, {}),
        compression: config.compression ?? 'default (zstd for SQLite, pg_dump\'s own for PostgreSQL)',
        encryption: {
          recipients: ctx.env.DBGUARD_AGE_RECIPIENTS ? ctx.env.DBGUARD_AGE_RECIPIENTS.split(/[\s,]+/).filter(Boolean) : (config.encryption?.recipients ?? []),
          passphrase: ctx.env.DBGUARD_PASSPHRASE ? '(set in DBGUARD_PASSPHRASE, hidden)' : null,
          identityFile: ctx.env.DBGUARD_AGE_IDENTITY_FILE ?? null,
        },
        retention: resolveRetentionPolicies(config.retention),
        prune: { afterBackup: config.prune?.afterBackup ?? true, timeZone: config.prune?.timeZone ?? 'UTC' },
        sizeWarningMB: config.sizeWarningMB ?? 1024,
        requiredTables: config.requiredTables ?? [],
        databases: Object.fromEntries(
          Object.keys(config.databases ?? {}).map((name) => {
            try {
              const d = resolveNamedDatabase({ config, env: ctx.env, cwd: ctx.cwd, name });
              return [name, { url: d.target.display, type: d.type, schedule: d.schedule?.cron ?? null, verify: d.verify?.cron ?? null, timeZone: d.schedule?.timeZone ?? null, maxAgeMs: d.maxAgeMs }];
            } catch (error) {
              return [name, { error: error instanceof DbguardError ? error.message : String(error) }];
            }
          }),
        ),
        notify: (config.notify ?? []).map((channel) => ({ type: channel.type, url: '(hidden)', on: 'on' in channel ? channel.on : undefined, databases: channel.databases })),
        remote: describeRemoteConfig(ctx, config),
      };
      if (options.json) printJson(ctx, effective);
      else print(ctx, `# ${source ?? `no config file (defaults; backups in ./${DEFAULT_BACKUP_DIR})`}\n${JSON.stringify(effective, null, 2)}`);
    });
}

/** The bucket and how it is kept; the credentials only by where they come from, never their values. */
function describeRemoteConfig(ctx: CliContext, config: DbguardConfig) {
  let remote: RemoteSettings | undefined;
  try {
    remote = resolveRemote(config.remote, ctx.env);
  } catch (error) {
    return { error: (error as Error).message };
  }
  if (!remote) return null;
  const credentials = ctx.env.AWS_ACCESS_KEY_ID
    ? 'AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (hidden)'
    : ctx.env.AWS_PROFILE
      ? `AWS_PROFILE=${ctx.env.AWS_PROFILE}`
      : "the AWS SDK's default chain (shared config, container or instance role)";
  return {
    url: `s3://${remote.bucket}${remote.prefix ? `/${remote.prefix}` : ''}`,
    endpoint: remote.endpoint ?? 'AWS S3',
    region: remote.region ?? ctx.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: remote.forcePathStyle ?? false,
    keepLocal: remote.keepLocal,
    objectLock: remote.objectLock ?? null,
    retention: remote.retention ? resolveRetentionPolicies(remote.retention) : 'the local policy',
    credentials,
  };
}
