import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { installGitHook } from '../../guard/git-hook.js';
import type { Change } from '../../guard/project-files.js';
import { AGENTS } from '../../guard/agents.js';
import { addNpmScripts, ignoreBackups, installAgentHook } from '../../guard/setup.js';
import { addPostinstall, installShims } from '../../guard/shims.js';
import { type CliContext, addDirOption, addJsonOption, backupDir, print, printJson } from '../context.js';

interface InitOptions {
  agent?: string;
  gitHook?: boolean;
  shims?: boolean;
  dir?: string;
  json?: boolean;
}

export function registerInit(program: Command, ctx: CliContext): void {
  const command = program
    .command('init')
    .description('set up this project: npm scripts db:backup, db:restore, db:backups, migrate:safe; backups/ ignored by git; and, on request, the guard')
    .option('--agent <name>', `install the guard hook for an AI coding agent: ${AGENTS.join(', ')} (see README, "Agent hooks")`)
    .option('--git-hook', 'install a pre-commit hook refusing commits that add commands which can destroy data')
    .option('--shims', 'route guarded tools in node_modules/.bin through dbguard run, re-installed by a postinstall script');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText('after', '\nRunning it again changes nothing; scripts you already have under the same names are kept.');
  command.action(async (options: InitOptions) => {
    if (options.agent !== undefined && !AGENTS.includes(options.agent)) {
      throw new UsageError(`Unknown agent "${options.agent}".`, `Supported: ${AGENTS.join(', ')}.`);
    }
    const dir = ctx.cwd;
    const changes: Change[] = [...(await addNpmScripts(dir)), ...(await ignoreBackups(dir, backupDir(ctx, options)))];
    if (options.agent !== undefined) changes.push(...(await installAgentHook(dir, options.agent)));
    if (options.gitHook) changes.push(...(await installGitHook(dir)));
    if (options.shims) changes.push(...(await installShims(dir)), ...(await addPostinstall(dir)));
    if (options.json) printJson(ctx, { changes });
    else printChanges(ctx, changes);
  });
}

export function printChanges(ctx: CliContext, changes: Change[]): void {
  const changed = changes.filter((c) => c.action !== 'kept' && c.action !== 'skipped');
  const lines = changes.map((c) => `${c.action.padEnd(8)} ${c.file}: ${c.detail}`);
  if (changed.length === 0) lines.push('nothing to change');
  print(ctx, lines.join('\n'));
}
