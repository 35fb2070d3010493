import type { Command } from 'commander';
import { engineFor } from '../../engines/index.js';
import { UsageError } from '../../errors.js';
import { MARKER_TABLE, readEnvironmentMarker, writeEnvironmentMarker } from '../../guard/marker.js';
import { type CliContext, addDbOption, addJsonOption, print, printJson, resolveTarget } from '../context.js';

interface ProtectOptions {
  env?: string;
  show?: boolean;
  clear?: boolean;
  db?: string;
  database?: string;
  json?: boolean;
}

export function registerProtect(program: Command, ctx: CliContext): void {
  const command = program
    .command('protect')
    .description(`mark the database with its environment (kept in the database, table ${MARKER_TABLE}); production refuses destructive commands`)
    .option('--env <name>', 'record this environment, e.g. production')
    .option('--show', 'print the recorded environment')
    .option('--clear', 'remove the marker');
  addDbOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nWith --env production, `dbguard run` refuses commands that can destroy data in this database even when approved,\n' +
      'unless --production is also given at a terminal.',
  );
  command.action(async (options: ProtectOptions) => {
    const chosen = [options.env !== undefined, options.show === true, options.clear === true].filter(Boolean).length;
    if (chosen !== 1) throw new UsageError('Pass exactly one of --env <name>, --show or --clear.');
    const target = resolveTarget(ctx, options);
    const engine = engineFor(target);
    if (!options.show) await writeEnvironmentMarker(engine, options.clear ? undefined : options.env);
    const environment = options.show ? await readEnvironmentMarker(engine) : options.env;
    if (options.json) printJson(ctx, { database: target.display, environment: environment ?? null });
    else if (options.clear) print(ctx, `${target.display}: environment marker removed`);
    else if (options.show) print(ctx, `${target.display}: ${environment ? `environment ${environment}` : 'no environment marker'}`);
    else print(ctx, `${target.display}: marked as ${environment}`);
  });
}
