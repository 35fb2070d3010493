import type { Command } from 'commander';
import pc from 'picocolors';
import { type CheckStatus, type DoctorCheck, runDoctor } from '../../core/doctor.js';
import { DbguardError } from '../../errors.js';
import { type CliContext, type CommonOptions, addDirOption, addJsonOption, backupDir, config, print, printJson } from '../context.js';

export function registerDoctor(program: Command, ctx: CliContext): void {
  const command = program
    .command('doctor')
    .description('check what dbguard needs here: Node.js, native modules, database tools and servers, backups folder, remote, notifications');
  addDirOption(command);
  addJsonOption(command);
  command.addHelpText('after', '\nExit 0 when nothing needed is missing (warnings allowed), 1 otherwise. Sends no notification and writes nothing.');
  command.action(async (options: CommonOptions) => {
    const report = await runDoctor({ config: config(ctx), env: ctx.env, cwd: ctx.cwd, dir: backupDir(ctx, options) });
    if (options.json) printJson(ctx, report);
    else print(ctx, report.checks.map((c) => describe(c, ctx.stdout.isTTY === true)).join('\n'));
    const problems = report.checks.filter((c) => c.status === 'problem');
    if (problems.length > 0) throw new DbguardError(`${problems.length} problem(s): ${problems.map((c) => c.name).join(', ')}.`);
  });
}

const LABELS: Record<CheckStatus, [string, (text: string) => string]> = {
  ok: ['ok     ', pc.green],
  warning: ['warning', pc.yellow],
  problem: ['PROBLEM', pc.red],
};

function describe(check: DoctorCheck, color: boolean): string {
  const [label, paint] = LABELS[check.status];
  const line = `${color ? paint(label) : label}  ${check.name}: ${check.detail}`;
  return check.fix ? `${line}\n         fix: ${check.fix}` : line;
}
