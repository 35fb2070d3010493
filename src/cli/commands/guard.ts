import type { Command } from 'commander';
import { DbguardError, RefusedError, UsageError } from '../../errors.js';
import { AGENTS } from '../../guard/agents.js';
import { type CliContext, addJsonOption } from '../context.js';
import { CHECK_REFUSAL, check, hookAnswer, readAll, writeCheck } from '../guard-fast.js';
import { registerGuardScan } from './guard-scan.js';
import { registerGuardShims } from './guard-shims.js';

interface CheckOptions {
  cwd?: string;
  json?: boolean;
}

/** The full-program form of `guard check` and `guard hook`; main.ts answers the common forms without commander (guard-fast.ts). */
export function registerGuard(program: Command, ctx: CliContext, readStdin: () => Promise<string> = () => readAll(process.stdin)): void {
  const guard = program.command('guard').description('recognise commands that can destroy data, wherever they are typed');

  const checkCommand = guard
    .command('check')
    .description('classify a shell command line: allow, backup (take a backup first) or block (can destroy data; exit 3)')
    .argument('<command...>', 'the command line after --, as one argument or several')
    .option('--cwd <dir>', 'where the command would run: for cd, relative paths and package.json scripts (default: current directory)');
  addJsonOption(checkCommand);
  checkCommand.addHelpText('after', '\nThe human output lists the chain of commands each reason was found through (npm run db:reset -> prisma migrate reset --force).');
  checkCommand.action(async (words: string[], options: CheckOptions) => {
    const result = await check(words, options.cwd, ctx);
    writeCheck(ctx, result, options.json);
    if (result.verdict === 'block') throw new RefusedError(CHECK_REFUSAL.message, CHECK_REFUSAL.hint);
  });

  guard
    .command('hook')
    .description('answer an AI coding agent before it runs a shell command: reads the agent\'s hook event on stdin, answers in its format')
    .argument('<agent>', AGENTS.join(', '))
    .addHelpText('after', '\nInstall it with `dbguard init --agent <agent>`. Unreadable input is blocked (exit 2), never allowed.')
    .action(async (agent: string) => {
      const answer = await hookAnswer(agent, ctx, readStdin);
      ctx.stdout.write(answer.stdout);
      if (answer.exitCode !== 0) throw new DbguardError(answer.stderr.trimEnd(), { exitCode: answer.exitCode });
    });

  registerGuardScan(guard, ctx);
  registerGuardShims(guard, ctx);

  // Typed under `guard` by mistake: say where they are rather than print the guard's help.
  for (const name of ['run', 'init', 'protect']) {
    guard
      .command(name, { hidden: true })
      .argument('[args...]')
      .allowUnknownOption()
      .helpOption(false)
      .action(() => {
        throw new UsageError(`\`${name}\` is not a guard subcommand: it is \`dbguard ${name}\`.`, `See \`dbguard ${name} --help\`.`);
      });
  }
}
