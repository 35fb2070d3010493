import path from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { RefusedError, UsageError } from '../../errors.js';
import { classifyCommand } from '../../guard/classify.js';
import { claudePreToolUse } from '../../guard/claude-hook.js';
import type { Classification } from '../../guard/types.js';
import { type CliContext, addJsonOption, print, printJson } from '../context.js';
import { registerGuardScan } from './guard-scan.js';
import { registerGuardShims } from './guard-shims.js';

interface CheckOptions {
  cwd?: string;
  json?: boolean;
}

const HEADLINES = {
  allow: 'allow: nothing here can lose data',
  backup: 'backup: this changes the database; take a backup first (`dbguard run -- <command>` does it)',
  block: 'block: this can destroy data',
} as const;

export function registerGuard(program: Command, ctx: CliContext, readStdin: () => Promise<string> = () => readAll(process.stdin)): void {
  const guard = program.command('guard').description('recognise commands that can destroy data, wherever they are typed');

  const check = guard
    .command('check')
    .description('classify a shell command line: allow, backup (take a backup first) or block (can destroy data; exit 3)')
    .argument('<command...>', 'the command line after --, as one argument or several')
    .option('--cwd <dir>', 'where the command would run: for cd, relative paths and package.json scripts (default: current directory)');
  addJsonOption(check);
  check.action(async (words: string[], options: CheckOptions) => {
    const result = await classifyCommand(words.join(' '), { cwd: path.resolve(ctx.cwd, options.cwd ?? '.') });
    if (options.json) printJson(ctx, result);
    else print(ctx, render(result, ctx.stdout.isTTY === true));
    if (result.verdict === 'block') {
      throw new RefusedError('Refused: this command can destroy data.', 'Take a backup with `dbguard backup` first, or run it through `dbguard run -- <command>`, which needs a human to approve it.');
    }
  });

  guard
    .command('hook')
    .description('answer AI coding agents before they run a command')
    .command('claude')
    .description('Claude Code PreToolUse hook: reads the event JSON on stdin, answers deny/ask on stdout')
    .action(async () => {
      const answer = await claudePreToolUse(await readStdin(), { cwd: ctx.cwd, classify: (command, cwd) => classifyCommand(command, { cwd }) });
      if (answer) ctx.stdout.write(`${JSON.stringify(answer)}\n`);
    });

  registerGuardScan(guard, ctx);
  registerGuardShims(guard, ctx);
}

function render({ verdict, reasons }: Classification, color: boolean): string {
  const paint = { allow: pc.green, backup: pc.yellow, block: pc.red }[verdict];
  const lines = [color ? paint(HEADLINES[verdict]) : HEADLINES[verdict]];
  for (const reason of reasons) lines.push(`  ${reason.command}`, `    ${reason.message} (${reason.rule})`);
  return lines.join('\n');
}

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  if (stream.isTTY) throw new UsageError('Nothing on stdin.', 'Claude Code pipes a PreToolUse event into `dbguard guard hook claude`; see `dbguard init --agent claude`.');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
