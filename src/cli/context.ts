import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { DatabaseTarget } from '../config/database-url.js';
import { type NamedDatabase, resolveNamedDatabase } from '../config/databases.js';
import { type DbguardConfig, loadConfig } from '../config/config-file.js';
import { DEFAULT_BACKUP_DIR } from '../core/defaults.js';
import { BACKUP_TYPES } from '../storage/manifest.js';

/** Everything a command needs from the outside world, passed in so tests need no mocks. */
export interface CliContext {
  cwd: string;
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Whether a human can answer a prompt. */
  interactive: boolean;
}

export interface CommonOptions {
  db?: string;
  database?: string;
  dir?: string;
  json?: boolean;
}

export function addDbOption(command: Command, description = 'database URL (default: $DATABASE_URL, then DATABASE_URL in ./.env)'): Command {
  return command.option('--db <url>', description).option('--database <name>', 'a database named in dbguard.config (its "databases" key)');
}

export function addDirOption(command: Command): Command {
  return command.option('--dir <path>', `backups folder (default: ./${DEFAULT_BACKUP_DIR}, or backupDir in dbguard.config.json)`);
}

export function addJsonOption(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON on stdout and nothing else');
}

/** `--from local|remote`: which copy of a backup to use. */
export function fromOption(): Option {
  return new Option('--from <where>', 'use this copy of the backup (default: the local one when there is one)').choices(['local', 'remote']);
}

/** `--db <url>` or `--database <name>` on a command that reads backups: only that database's (all without either). */
export function databaseFilterTarget(ctx: CliContext, options: { db?: string | undefined; database?: string | undefined }): DatabaseTarget | undefined {
  return options.db === undefined && options.database === undefined ? undefined : resolveTarget(ctx, options);
}

export function typeOption(description: string): Option {
  return new Option('--type <type>', description).choices(BACKUP_TYPES);
}

/** `--jobs <n>`: parallel PostgreSQL tool jobs, a whole number from 1 to 64. */
export function jobsOption(description: string): Option {
  return new Option('-j, --jobs <n>', description).argParser((value: string) => {
    const jobs = Number(value);
    if (!/^\d+$/.test(value) || jobs < 1 || jobs > 64) throw new InvalidArgumentError('expected a whole number from 1 to 64.');
    return jobs;
  });
}

export function config(ctx: CliContext): DbguardConfig {
  return loadConfig(ctx.cwd).config;
}

export function backupDir(ctx: CliContext, options: CommonOptions): string {
  return path.resolve(ctx.cwd, options.dir ?? config(ctx).backupDir ?? DEFAULT_BACKUP_DIR);
}

/**
 * The database a command acts on (--db, --database, the only named one, DATABASE_URL, .env) with its configured
 * options; says how a relative SQLite path was resolved (on stderr, so --json stays clean).
 */
export function resolveDatabase(ctx: CliContext, options: { db?: string | undefined; database?: string | undefined }): NamedDatabase {
  const database = resolveNamedDatabase({ config: config(ctx), env: ctx.env, cwd: ctx.cwd, db: options.db, name: options.database });
  if (database.target.engine === 'sqlite' && database.target.note) info(ctx, database.target.note);
  return database;
}

export function resolveTarget(ctx: CliContext, options: { db?: string | undefined; database?: string | undefined }): DatabaseTarget {
  return resolveDatabase(ctx, options).target;
}

export function info(ctx: CliContext, message: string): void {
  ctx.stderr.write(`${ctx.stderr.isTTY ? pc.dim(message) : message}\n`);
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(ctx: CliContext, text: string): void {
  ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
