import path from 'node:path';
import type { Command } from 'commander';
import { installShims } from '../../guard/shims.js';
import type { CliContext } from '../context.js';
import { printChanges } from './init.js';

export function registerGuardShims(guard: Command, ctx: CliContext): void {
  guard
    .command('shims')
    .description('route the guarded tools in node_modules/.bin (prisma, drizzle-kit, ...) through dbguard run (the postinstall script runs this)')
    .option('--cwd <dir>', 'the project folder (default: current directory)')
    .action(async (options: { cwd?: string }) => {
      printChanges(ctx, await installShims(path.resolve(ctx.cwd, options.cwd ?? '.')));
    });
}
