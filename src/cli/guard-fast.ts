import path from 'node:path';
import pc from 'picocolors';
import { type HookAnswer, answerHook } from '../guard/agent-hook.js';
import { AGENT_HOOKS } from '../guard/agents.js';
import { classifyCommand } from '../guard/classify.js';
import type { Classification } from '../guard/types.js';
import { UsageError } from '../errors.js';
import type { CliContext } from './context.js';

/*
 * `dbguard guard hook <agent>` and `dbguard guard check` run before every command an AI agent types, so they skip
 * commander and the rest of the CLI: main.ts calls guardFastPath first, and only what it does not recognise goes
 * through the full program (which calls the same functions below). See bench case `guard-hook`.
 */

const HEADLINES = {
  allow: 'allow: nothing here can lose data',
  backup: 'backup: this changes the database; take a backup first (`dbguard run -- <command>` does it)',
  block: 'block: this can destroy data',
} as const;

export const CHECK_REFUSAL = {
  message: 'Refused: this command can destroy data.',
  hint: 'Take a backup with `dbguard backup` first, or run it through `dbguard run -- <command>`, which needs a human to approve it.',
};

/** The exit code for the argument vectors handled here, or undefined for everything else. */
export async function guardFastPath(argv: string[], ctx: CliContext, readStdin: () => Promise<string> = () => readAll(process.stdin)): Promise<number | undefined> {
  if (argv[0] !== 'guard') return undefined;
  if (argv[1] === 'hook' && argv.length === 3 && AGENT_HOOKS[argv[2]!]) {
    let answer: HookAnswer;
    try {
      answer = await hookAnswer(argv[2]!, ctx, readStdin);
    } catch {
      return undefined; // nothing on stdin: the full program reports it
    }
    ctx.stdout.write(answer.stdout);
    if (answer.exitCode !== 0) ctx.stderr.write(`${pc.red('error:')} ${answer.stderr}`);
    return answer.exitCode;
  }
  if (argv[1] === 'check') {
    const options = checkArguments(argv.slice(2));
    if (!options) return undefined;
    let result: Classification;
    try {
      result = await check(options.words, options.cwd, ctx);
    } catch {
      return undefined; // the full program reports the error
    }
    writeCheck(ctx, result, options.json);
    if (result.verdict !== 'block') return 0;
    ctx.stderr.write(`${pc.red('error:')} ${CHECK_REFUSAL.message}\n${pc.dim('hint:')} ${CHECK_REFUSAL.hint}\n`);
    return 3;
  }
  return undefined;
}

export async function hookAnswer(agent: string, ctx: CliContext, readStdin: () => Promise<string>): Promise<HookAnswer> {
  const hook = AGENT_HOOKS[agent];
  if (!hook) throw new UsageError(`Unknown agent "${agent}".`, `Supported: ${Object.keys(AGENT_HOOKS).join(', ')}.`);
  return answerHook(hook, await readStdin(), { cwd: ctx.cwd, classify: (command, cwd) => classifyCommand(command, { cwd }) });
}

export function check(words: string[], cwd: string | undefined, ctx: CliContext): Promise<Classification> {
  return classifyCommand(words.join(' '), { cwd: path.resolve(ctx.cwd, cwd ?? '.') });
}

export function writeCheck(ctx: CliContext, result: Classification, json: boolean | undefined): void {
  ctx.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${renderCheck(result, ctx.stdout.isTTY === true)}\n`);
}

/** The verdict, then each reason under the chain of commands that led to it (`npm run db:reset -> prisma migrate reset`). */
export function renderCheck({ verdict, reasons, checked }: Classification, color: boolean): string {
  const paint = { allow: pc.green, backup: pc.yellow, block: pc.red }[verdict];
  const lines = [color ? paint(HEADLINES[verdict]) : HEADLINES[verdict]];
  for (const reason of reasons) lines.push(`  ${reason.command}`, `    ${reason.message} (${reason.rule})`);
  const chains = (checked ?? []).filter((c) => c.includes(' -> ') && !reasons.some((r) => r.command === c));
  if (chains.length > 0) lines.push('  checked:', ...chains.map((c) => `    ${c}`));
  return lines.join('\n');
}

/** `[--json] [--cwd <dir>] [--] <words...>`; undefined for anything else (help, unknown options), left to commander. */
function checkArguments(args: string[]): { words: string[]; cwd?: string; json?: boolean } | undefined {
  const out: { words: string[]; cwd?: string; json?: boolean } = { words: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.words.push(...args.slice(i + 1));
      break;
    }
    if (arg === '--json') out.json = true;
    else if (arg === '--cwd' && args[i + 1] !== undefined) out.cwd = args[++i];
    else if (arg.startsWith('--cwd=')) out.cwd = arg.slice('--cwd='.length);
    else if (arg.startsWith('-')) return undefined;
    else out.words.push(arg);
  }
  return out.words.length > 0 ? out : undefined;
}

export async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  if (stream.isTTY) throw new UsageError('Nothing on stdin.', 'An AI coding agent pipes its hook event into `dbguard guard hook <agent>`; see `dbguard init --agent <agent>`.');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
