import { spawn } from 'node:child_process';
import type { DatabaseTarget } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import { RefusedError, UsageError } from '../errors.js';
import { shellQuote } from './args.js';
import { appendAudit } from './audit.js';
import { classifyCommand } from './classify.js';
import { isProduction, readEnvironmentMarker } from './marker.js';
import { resolveCommandTarget } from './target.js';
import type { Classification } from './types.js';

export type RunEvent =
  | { kind: 'classified'; classification: Classification }
  | { kind: 'note'; message: string }
  | { kind: 'approved'; by: 'terminal' | 'flag'; reason: string; auditLog: string; backupId: string }
  | { kind: 'backup'; id: string; file: string; restoreCommand: string };

export interface GuardedRunOptions {
  /** The command: several words run as they are, one word is a shell command line run by `sh -c`. */
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** The configured database (--db, DATABASE_URL, .env), used when the command names none itself. */
  configuredTarget: () => DatabaseTarget;
  /** `--approve "<reason>"`. */
  approveReason?: string | undefined;
  /** A human can answer a prompt. */
  interactive: boolean;
  /** `--production`: only honoured together with `interactive`. */
  production?: boolean | undefined;
  /** Asks the human to type the database name; true when they did. */
  confirm: (databaseName: string, classification: Classification) => Promise<boolean>;
  takeBackup: (target: DatabaseTarget, label: string) => Promise<{ id: string; file: string }>;
  /** Where `guard-audit.log` is appended: the backups folder. */
  auditDir: string;
  onEvent?: ((event: RunEvent) => void) | undefined;
  classify?: ((line: string, cwd: string) => Promise<Classification>) | undefined;
  execute?: ((argv: string[], options: { cwd: string; env: Record<string, string | undefined> }) => Promise<number>) | undefined;
  now?: (() => Date) | undefined;
}

export interface GuardedRunResult {
  classification: Classification;
  backupId: string | undefined;
  exitCode: number;
}

/** `dbguard run`: classify, then run (allow), back up and run (backup), or refuse unless a human approves (block). */
export async function guardedRun(options: GuardedRunOptions): Promise<GuardedRunResult> {
  if (options.argv.length === 0) throw new UsageError('No command to run.', 'Usage: dbguard run [--approve "<reason>"] -- <command...>');
  const emit = options.onEvent ?? (() => {});
  const line = commandLine(options.argv);
  const classification = await (options.classify ?? ((l, cwd) => classifyCommand(l, { cwd })))(line, options.cwd);
  emit({ kind: 'classified', classification });
  const execute = options.execute ?? executeCommand;
  if (classification.verdict === 'allow') {
    return { classification, backupId: undefined, exitCode: await execute(options.argv, { cwd: options.cwd, env: options.env }) };
  }

  if (classification.verdict === 'block' && !options.interactive && !options.approveReason?.trim()) throw notApproved();

  const { target, notes } = await resolveCommandTarget(line, options.cwd, options.configuredTarget);
  for (const message of notes) emit({ kind: 'note', message });
  if (!target) {
    throw new UsageError(
      'This command changes the database, and dbguard cannot tell which database to back up first; it did not run.',
      'Pass --db <url>, set DATABASE_URL, or add DATABASE_URL=... to ./.env.',
    );
  }

  let approval: { by: 'terminal' | 'flag'; reason: string; environment: string | undefined } | undefined;
  if (classification.verdict === 'block') approval = await approve(options, classification, target, emit);

  const label = backupLabel(options.argv);
  const taken = await options.takeBackup(target, label);
  emit({ kind: 'backup', id: taken.id, file: taken.file, restoreCommand: `dbguard restore ${taken.id}` });

  if (approval) {
    const auditLog = await appendAudit(options.auditDir, {
      time: (options.now ?? (() => new Date()))().toISOString(),
      command: line.replace(/(\w+:\/\/[^:/@\s'"]+:)[^@\s'"]+@/g, '$1***@'),
      reason: approval.reason,
      approvedBy: approval.by,
      backupId: taken.id,
      database: target.display,
      rules: [...new Set(classification.reasons.map((r) => r.rule))],
      environment: approval.environment,
    });
    emit({ kind: 'approved', by: approval.by, reason: approval.reason, auditLog, backupId: taken.id });
  }
  return { classification, backupId: taken.id, exitCode: await execute(options.argv, { cwd: options.cwd, env: options.env }) };
}

async function approve(
  options: GuardedRunOptions,
  classification: Classification,
  target: DatabaseTarget,
  emit: (event: RunEvent) => void,
): Promise<{ by: 'terminal' | 'flag'; reason: string; environment: string | undefined }> {
  let environment: string | undefined;
  try {
    environment = await readEnvironmentMarker(engineFor(target));
  } catch (error) {
    emit({ kind: 'note', message: `could not read the environment marker of ${target.display} (${(error as Error).message}); not checked` });
  }
  if (isProduction(environment) && !(options.production && options.interactive)) {
    throw new RefusedError(
      `Refused: ${target.display} is marked as ${environment} (dbguard protect), and this command can destroy data. It did not run.`,
      options.interactive
        ? 'If you really mean to run it against production, add --production and confirm by typing the database name.'
        : 'Against a production database this needs a human at a terminal: `dbguard run --production -- <command>`. --approve is not enough.',
    );
  }
  const reason = options.approveReason?.trim();
  if (options.interactive) {
    // The same name `dbguard restore` asks for: the PostgreSQL database, or the SQLite file's name.
    if (!(await options.confirm(engineFor(target).identity().name, classification))) {
      throw new RefusedError('Refused: the database name was not confirmed. The command did not run.');
    }
    return { by: 'terminal', reason: reason || 'confirmed by typing the database name', environment };
  }
  if (reason) return { by: 'flag', reason, environment };
  throw notApproved();
}

function notApproved(): RefusedError {
  return new RefusedError(
    'Refused: this command can destroy data and nobody approved it. It did not run.',
    'Run it in a terminal to approve it by typing the database name, or pass --approve "<why>" on a command you run yourself ' +
      '(a backup is taken first either way; the approval is recorded in the audit log). An environment variable is never consent.',
  );
}

/** The command as one shell line: a single word is already one, several words are quoted. */
export function commandLine(argv: string[]): string {
  return argv.length === 1 ? argv[0]! : argv.map(shellQuote).join(' ');
}

/** `prisma migrate dev --name x` -> `prisma-migrate-dev`: the tool and its first words, without paths or flags. */
export function backupLabel(argv: string[]): string {
  const words = (argv.length === 1 ? argv[0]!.split(/\s+/) : argv).filter((w) => w !== '' && !/^[A-Za-z_]\w*=/.test(w));
  const runners = new Set(['npx', 'exec', 'pnpm', 'yarn', 'bunx', 'dlx', 'npm', 'run', 'sudo', 'env', 'node']);
  const picked: string[] = [];
  for (const word of words) {
    if (word.startsWith('-')) break;
    const base = word.split('/').pop() ?? word;
    if (picked.length === 0 && runners.has(base)) continue;
    picked.push(base);
    if (picked.length === 3) break;
  }
  return picked.join(' ').slice(0, 40) || 'guarded-command';
}

/** Runs the command with the terminal's stdio and returns its exit code (128 + signal when killed). */
export function executeCommand(argv: string[], options: { cwd: string; env: Record<string, string | undefined> }): Promise<number> {
  const [file, args] = argv.length === 1 ? ['/bin/sh', ['-c', argv[0]!]] : [argv[0]!, argv.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', forward);
    const done = () => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
    };
    child.on('error', (error) => {
      done();
      reject(new UsageError(`Cannot run ${file}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15));
    });
  });
}
