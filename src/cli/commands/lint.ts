import type { Command } from 'commander';
import type { DatabaseTarget } from '../../config/database-url.js';
import { DbguardError, ExitCode, UsageError } from '../../errors.js';
import { describeFinding } from '../../migrate/impact.js';
import { lint } from '../../migrate/migrate.js';
import { type CliContext, addJsonOption, print, printJson, resolveTarget } from '../context.js';

export function registerLint(program: Command, ctx: CliContext): void {
  const command = program
    .command('lint')
    .description('report destructive statements in migration SQL (with live row counts when a database is configured)')
    .argument('[paths...]', 'SQL files or migration folders (default: pending migrations, or all of prisma/migrations or drizzle/)')
    .option('--db <url>', 'measure the impact on this database (default: $DATABASE_URL or ./.env when set)')
    .option('--database <name>', 'measure the impact on this database named in dbguard.config')
    .option('--no-db', 'do not connect to any database');
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nExit 3 when a destructive statement is found that is not accepted. Accept one with a comment in the\n' +
      'statement, e.g.\n  -- dbguard:allow drop-column\n  ALTER TABLE "User" DROP COLUMN "legacy";\n' +
      'Kinds: drop-table, drop-column, drop-schema, drop-database, truncate, delete-without-where,\n' +
      'update-without-where, alter-column-type, set-not-null, table-rewrite, unparseable.',
  );
  command.action(async (paths: string[], options: { db?: string | boolean; database?: string; json?: boolean }) => {
    const target = options.db === false ? undefined : optionalTarget(ctx, typeof options.db === 'string' ? options.db : undefined, options.database);
    const { files, findings } = await lint({ cwd: ctx.cwd, paths, target });
    const blocking = findings.filter((f) => f.needsConfirmation);
    if (options.json) printJson(ctx, { files, findings });
    else {
      if (findings.length === 0) print(ctx, `No destructive statements in ${files.length} file(s).`);
      for (const f of findings) print(ctx, `${f.file}:${f.line}: ${describeFinding(f)}\n    ${f.statement}`);
    }
    if (blocking.length > 0) {
      throw new DbguardError(`${blocking.length} destructive statement(s) not accepted.`, {
        exitCode: ExitCode.refused,
        hint: 'Review them; accept one deliberately with `-- dbguard:allow <kind>` in the statement.',
      });
    }
  });
}

/** The configured database when there is one; lint works without. */
function optionalTarget(ctx: CliContext, db: string | undefined, database: string | undefined): DatabaseTarget | undefined {
  try {
    return resolveTarget(ctx, { db, database });
  } catch (error) {
    if (error instanceof UsageError && db === undefined && database === undefined) return undefined;
    throw error;
  }
}
