import type { Command } from 'commander';
import { type MeasuredFinding, describeFinding } from '../../migrate/impact.js';
import { migrate } from '../../migrate/migrate.js';
import { RefusedError } from '../../errors.js';
import { type CliContext, type CommonOptions, addDbOption, addDirOption, addJsonOption, backupDir, info, print, printJson, resolveDatabase } from '../context.js';
import { decryptionKeys } from '../keys.js';
import { confirmByTypingName } from '../prompt.js';

interface MigrateCliOptions extends CommonOptions {
  name?: string;
  deploy?: boolean;
  yes?: boolean;
  rollback: boolean;
  migrations?: string;
  identity?: string;
}

export function registerMigrate(program: Command, ctx: CliContext): void {
  const command = program
    .command('migrate')
    .description('report what pending migrations destroy in the live data, back up, migrate, roll back on failure')
    .argument('[command...]', 'the migration command, after -- (default: prisma migrate dev --name <name>, drizzle-kit migrate, knex migrate:latest, node-pg-migrate up)')
    .option('--name <name>', 'Prisma: the new migration\'s name (runs prisma migrate dev --name <name>)')
    .option('--deploy', 'Prisma: apply committed migrations (prisma migrate deploy), for CI and production')
    .option('--migrations <dir>', 'migrations folder (default: prisma/migrations, drizzle.config\'s out, or ./migrations for knex and node-pg-migrate)')
    .option('-y, --yes', 'accept destructive findings without asking (required without a terminal)')
    .option('--no-rollback', 'on failure, leave the database as the migration left it (and print the restore command)')
    .option('-i, --identity <file>', 'age identity, needed to roll back when backups are encrypted');
  addDbOption(command);
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText(
    'after',
    '\nExamples:\n  dbguard migrate --name add-field          # Prisma: migrate dev, then generate\n' +
      '  dbguard migrate --deploy                  # Prisma in CI/production\n  dbguard migrate                           # Drizzle: drizzle-kit migrate\n' +
      '  dbguard migrate -- npx knex migrate:latest\n\nA migration counts as done only when the migrations table (_prisma_migrations, __drizzle_migrations)\n' +
      'shows every pending migration applied: a command that exits 0 without applying is a failure.',
  );
  command.action(async (commandArgs: string[], options: MigrateCliOptions) => {
    const database = resolveDatabase(ctx, options);
    const target = database.target;
    const result = await migrate({
      cwd: ctx.cwd,
      target,
      dir: backupDir(ctx, options),
      command: commandArgs,
      name: options.name,
      deploy: options.deploy,
      migrationsFolder: options.migrations,
      rollback: options.rollback,
      backup: database.backup,
      decryption: await decryptionKeys(ctx, options.identity),
      confirm: (findings) => confirmFindings(ctx, findings, options, target.engine === 'sqlite' ? target.display : target.connection.database),
      onStep: (step) => {
        if (options.json) return;
        if (step.step === 'analysed') {
          info(ctx, step.pending.length > 0 ? `Pending migrations: ${step.pending.join(', ')}` : 'No pending migration files found.');
          for (const finding of step.findings) info(ctx, `  ${describeFinding(finding)}`);
          if (step.unanalysed.length > 0) {
            info(ctx, `Not analysed (their SQL is only known when they run; the backup and rollback still cover them): ${step.unanalysed.join(', ')}`);
          }
        }
        if (step.step === 'backed-up') info(ctx, step.id ? `Backup before migrating: ${step.id}` : 'The database does not exist yet: no backup needed.');
        if (step.step === 'running') info(ctx, `$ ${step.command.join(' ')}`);
        if (step.step === 'rolling-back') info(ctx, `Migration failed (${step.reason}); restoring the pre-migration backup...`);
      },
    });
    if (options.json) {
      printJson(ctx, result);
      return;
    }
    print(
      ctx,
      [
        `Migrated: ${result.applied.length > 0 ? result.applied.join(', ') : 'command succeeded'}`,
        ...(result.backupId ? [`  backup    ${result.backupId}`, `  undo      dbguard restore ${result.backupId}`] : []),
      ].join('\n'),
    );
  });
}

async function confirmFindings(ctx: CliContext, findings: MeasuredFinding[], options: MigrateCliOptions, databaseName: string): Promise<boolean> {
  if (options.yes) return true;
  const destructive = findings.filter((f) => f.needsConfirmation).map((f) => `  ${describeFinding(f)}`).join('\n');
  if (!ctx.interactive) {
    throw new RefusedError(
      `The pending migrations destroy data:\n${destructive}`,
      'Run it in a terminal to confirm, pass --yes, or mark an accepted statement with -- dbguard:allow <kind>.',
    );
  }
  ctx.stderr.write(`The pending migrations destroy data:\n${destructive}\nA backup is taken before they run.\n`);
  return confirmByTypingName(databaseName);
}
