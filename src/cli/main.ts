#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { DbguardError, ExitCode } from '../errors.js';
import { DBGUARD_VERSION } from '../version.js';
import { registerBackup } from './commands/backup.js';
import { registerConfig } from './commands/config.js';
import { registerGuard } from './commands/guard.js';
import { registerKey } from './commands/key.js';
import { registerLint } from './commands/lint.js';
import { registerList } from './commands/list.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPrune } from './commands/prune.js';
import { registerRestore } from './commands/restore.js';
import { registerRun } from './commands/run.js';
import { registerInit } from './commands/init.js';
import { registerProtect } from './commands/protect.js';
import { registerShow } from './commands/show.js';
import { registerVerify } from './commands/verify.js';
import type { CliContext } from './context.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('dbguard')
    .description('Backups you can trust and restores that cannot make things worse, for PostgreSQL and SQLite.')
    .version(DBGUARD_VERSION)
    .option('--debug', 'show stack traces of unexpected errors')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) });
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 refused by a safety check.',
  );
  registerBackup(program, ctx);
  registerList(program, ctx);
  registerShow(program, ctx);
  registerVerify(program, ctx);
  registerRestore(program, ctx);
  registerGuard(program, ctx);
  registerRun(program, ctx);
  registerInit(program, ctx);
  registerProtect(program, ctx);
  registerPrune(program, ctx);
  registerMigrate(program, ctx);
  registerLint(program, ctx);
  registerKey(program, ctx);
  registerConfig(program, ctx);
  return program;
}

/** Runs the CLI and returns its exit code; every error is rendered here and nowhere else. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
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
process.exitCode = await run(process.argv.slice(2), ctx);
