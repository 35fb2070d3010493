import path from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { type DatabaseTarget } from '../../config/database-url.js';
import { RemoteCopyError, backup } from '../../core/backup.js';
import { guardedRun, type RunEvent } from '../../guard/run.js';
import type { Classification } from '../../guard/types.js';
import { configuredBackupOptions } from '../../config/databases.js';
import { confirmByTypingName } from '../prompt.js';
import { type CliContext, addDbOption, addDirOption, backupDir, config, info, resolveTarget } from '../context.js';

interface RunCliOptions {
  approve?: string;
  production?: boolean;
  cwd?: string;
  db?: string;
  database?: string;
  dir?: string;
}

/** `exit` ends the process with the command's own exit code (tests pass their own). */
export function registerRun(program: Command, ctx: CliContext, exit: (code: number) => Promise<void> = exitProcess): void {
  const command = program
    .command('run')
    .description('run a command through the guard: allow runs it, backup backs up first, block needs a human\'s approval (exit 3 without)')
    .argument('<command...>', 'the command after --; several words run as they are, one word is a shell command line')
    .option('--approve <reason>', 'approve a blocked command without a terminal, giving the reason (recorded in the audit log)')
    .option('--production', 'on a terminal: also allow a blocked command against a database marked production (dbguard protect)')
    .option('--cwd <dir>', 'run the command in this folder (default: current directory)');
  addDbOption(command);
  addDirOption(command);
  command.addHelpText(
    'after',
    '\nA backup (type migration, labelled after the command) is taken before anything that changes the database; its id\n' +
      'and the restore command are printed. If the backup fails, the command does not run. Every approval of a blocked\n' +
      'command is appended to <backups dir>/guard-audit.log. Environment variables are never consent.',
  );
  command.action(async (words: string[], options: RunCliOptions) => {
    const cwd = path.resolve(ctx.cwd, options.cwd ?? '.');
    const dir = backupDir(ctx, options);
    const result = await guardedRun({
      argv: words,
      cwd,
      env: ctx.env,
      configuredTarget: () => resolveTarget({ ...ctx, cwd }, options),
      approveReason: options.approve,
      interactive: ctx.interactive,
      production: options.production,
      confirm: (name, classification) => {
        ctx.stderr.write(`${describe(classification, ctx.stderr.isTTY === true)}\nA backup is taken first.\n`);
        return confirmByTypingName(name);
      },
      takeBackup: (target, label) => takeBackup(ctx, dir, target, label),
      auditDir: dir,
      onEvent: (event) => report(ctx, event),
    });
    if (result.exitCode !== 0) await exit(result.exitCode);
  });
}

async function takeBackup(ctx: CliContext, dir: string, target: DatabaseTarget, label: string): Promise<{ id: string; file: string }> {
  info(ctx, `Backing up ${target.display} before running the command...`);
  const result = await backup({
    target,
    dir,
    type: 'migration',
    label,
    description: 'taken by dbguard run',
    ...configuredBackupOptions(config(ctx), ctx.env),
    onWarning: (message) => info(ctx, `warning: ${message}`),
  }).catch((error: unknown) => {
    // The undo is on this machine: a copy to the bucket that failed must not stop the command.
    if (!(error instanceof RemoteCopyError)) throw error;
    info(ctx, `warning: ${error.message}`);
    return error.backup;
  });
  return { id: result.manifest.id, file: result.file };
}

function report(ctx: CliContext, event: RunEvent): void {
  const color = ctx.stderr.isTTY === true;
  if (event.kind === 'classified' && event.classification.verdict === 'block' && !ctx.interactive) {
    ctx.stderr.write(`${describe(event.classification, color)}\n`);
  } else if (event.kind === 'classified' && event.classification.verdict === 'backup') {
    for (const reason of event.classification.reasons) info(ctx, `dbguard: ${reason.command}: ${reason.message}`);
  } else if (event.kind === 'note') {
    info(ctx, `dbguard: note: ${event.message}`);
  } else if (event.kind === 'backup') {
    const lines = [`dbguard: backup ${event.id} taken before running the command.`, `dbguard: to undo: ${event.restoreCommand}`];
    ctx.stderr.write(`${color ? pc.green(lines.join('\n')) : lines.join('\n')}\n`);
  } else if (event.kind === 'approved') {
    info(ctx, `dbguard: approved (${event.by}: ${event.reason}); recorded in ${event.auditLog}`);
  }
}

function describe({ reasons }: Classification, color: boolean): string {
  const head = 'dbguard: this command can destroy data:';
  return [color ? pc.red(head) : head, ...reasons.flatMap((r) => [`  ${r.command}`, `    ${r.message} (${r.rule})`])].join('\n');
}

async function exitProcess(code: number): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
