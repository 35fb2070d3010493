#!/usr/bin/env node
import type { Command } from 'commander';
import { DbguardError, ExitCode } from '../errors.js';
import { unsupportedNodeMessage } from '../platform.js';
import { DBGUARD_VERSION } from '../version.js';
import type { CliContext } from './context.js';

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Each command's module, imported only when that command runs (or for the full help): every command then loads
 * only its own dependencies, which keeps start-up short for the guard hooks and shims that run before every command.
 */
const COMMANDS: Array<[names: string[], load: () => Promise<Register>]> = [
  [['backup'], async () => (await import('./commands/backup.js')).registerBackup],
  [['list', 'ls'], async () => (await import('./commands/list.js')).registerList],
  [['show'], async () => (await import('./commands/show.js')).registerShow],
  [['verify'], async () => (await import('./commands/verify.js')).registerVerify],
  [['restore'], async () => (await import('./commands/restore.js')).registerRestore],
  [['guard'], async () => (await import('./commands/guard.js')).registerGuard],
  [['run'], async () => (await import('./commands/run.js')).registerRun],
  [['init'], async () => (await import('./commands/init.js')).registerInit],
  [['protect'], async () => (await import('./commands/protect.js')).registerProtect],
  [['prune'], async () => (await import('./commands/prune.js')).registerPrune],
  [['push'], async () => (await import('./commands/push.js')).registerPush],
  [['pull'], async () => (await import('./commands/pull.js')).registerPull],
  [['migrate'], async () => (await import('./commands/migrate.js')).registerMigrate],
  [['lint'], async () => (await import('./commands/lint.js')).registerLint],
  [['key'], async () => (await import('./commands/key.js')).registerKey],
  [['export'], async () => (await import('./commands/export.js')).registerExport],
  [['config'], async () => (await import('./commands/config.js')).registerConfig],
  [['status'], async () => (await import('./commands/status.js')).registerStatus],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['notify'], async () => (await import('./commands/notify.js')).registerNotify],
  [['pitr'], async () => (await import('./commands/pitr.js')).registerPitr],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
];

export async function buildProgram(ctx: CliContext, argv: string[]): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('dbguard')
    .description('Backups you can trust and restores that cannot make things worse, for PostgreSQL, MySQL/MariaDB and SQLite.')
    .version(DBGUARD_VERSION)
    .option('--debug', 'show stack traces of unexpected errors')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) });
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 refused by a safety check.',
  );
  const name = argv.find((arg) => !arg.startsWith('-'));
  const only = COMMANDS.filter(([names]) => name !== undefined && names.includes(name));
  const versionOnly = name === undefined && argv.some((arg) => arg === '-V' || arg === '--version');
  for (const [, load] of only.length > 0 || versionOnly ? only : COMMANDS) (await load())(program, ctx);
  return program;
}

/** Runs the CLI and returns its exit code; every error is rendered here and nowhere else. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const program = await buildProgram(ctx, argv);
  const { CommanderError } = await import('commander');
  const { default: pc } = await import('picocolors');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
      return ExitCode.usage; // commander already printed the message
    }
    const debug = argv.includes('--debug');
    if (error instanceof DbguardError) {
      ctx.stderr.write(`${pc.red('error:')} ${error.message}\n`);
      if (error.hint) ctx.stderr.write(`${pc.dim('hint:')} ${error.hint}\n`);
      if (debug) ctx.stderr.write(`${error.stack}\n`);
      return error.exitCode;
    }
    ctx.stderr.write(`${pc.red('unexpected error:')} ${error instanceof Error ? error.message : String(error)}\n`);
    ctx.stderr.write(debug && error instanceof Error ? `${error.stack}\n` : 'Run again with --debug for details.\n');
    return ExitCode.failed;
  }
}

const ctx: CliContext = {
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
};
// A reader that stops early (`dbguard list | head`) closes the pipe: the rest of the output is dropped, and the
// command itself still runs to its end (a backup is not cut short by its reader going away).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});
const argv = process.argv.slice(2);
const unsupported = unsupportedNodeMessage(process.version);
if (unsupported) ctx.stderr.write(`${unsupported}\n`);
// The guard's hook and check run before every command an AI agent types: they skip commander (see guard-fast.ts).
const fast = argv[0] === 'guard' ? await (await import('./guard-fast.js')).guardFastPath(argv, ctx) : undefined;
process.exitCode = fast ?? (await run(argv, ctx));
