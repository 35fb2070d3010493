import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { RefusedError, UsageError } from '../../errors.js';
import { type ScanFinding, scanStaged, scanText } from '../../guard/scan.js';
import { type CliContext, addJsonOption, print, printJson } from '../context.js';

interface ScanOptions {
  staged?: boolean;
  json?: boolean;
}

export function registerGuardScan(guard: Command, ctx: CliContext): void {
  const command = guard
    .command('scan')
    .description('find commands that can destroy data in package.json scripts, shell scripts, Makefiles, CI workflows and Dockerfiles (exit 3)')
    .argument('[files...]', 'files to scan')
    .option('--staged', 'scan the files staged for commit, as staged (what the pre-commit hook runs)');
  addJsonOption(command);
  command.addHelpText('after', '\nA line with a `# dbguard:allow` comment (on it or just above it) is not reported. `git commit --no-verify` skips the hook.');
  command.action(async (files: string[], options: ScanOptions) => {
    if (!options.staged && files.length === 0) throw new UsageError('Nothing to scan.', 'Pass files, or --staged for the files staged for commit.');
    const findings: ScanFinding[] = [];
    if (options.staged) findings.push(...(await scanStaged(ctx.cwd)));
    for (const file of files) {
      const absolute = path.resolve(ctx.cwd, file);
      let text: string;
      try {
        text = readFileSync(absolute, 'utf8');
      } catch (error) {
        throw new UsageError(`Cannot read ${file}: ${(error as Error).message}`);
      }
      findings.push(...(await scanText(file, text, path.dirname(absolute))));
    }
    if (options.json) printJson(ctx, { findings });
    else if (findings.length > 0) print(ctx, render(findings, ctx.stdout.isTTY === true));
    if (findings.length > 0) {
      throw new RefusedError(
        `${findings.length} command(s) that can destroy data${options.staged ? '; the commit was refused' : ''}.`,
        'Run them through `dbguard run -- <command>`, add a `# dbguard:allow` comment on the line if it is intended, ' +
          'or commit anyway with `git commit --no-verify`.',
      );
    }
  });
}

function render(findings: ScanFinding[], color: boolean): string {
  return findings
    .flatMap((f) => [`${color ? pc.bold(`${f.file}:${f.line}`) : `${f.file}:${f.line}`}: ${f.command}`, ...f.reasons.map((r) => `    ${r.command}: ${r.message} (${r.rule})`)])
    .join('\n');
}
