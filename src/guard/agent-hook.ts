import type { Classification, Verdict } from './types.js';

/*
 * One classifier, one thin adapter per AI coding agent. An adapter reads the agent's pre-command event and writes
 * the answer in the agent's own format. Everything here is plain code with no schema library: the hook runs before
 * every shell command an agent types, so its start-up time is the product (see bench case `guard-hook`).
 */

/** What a hook process prints and how it exits. Every agent supported here documents exit code 2 as "block". */
export interface HookAnswer {
  exitCode: 0 | 2;
  stdout: string;
  stderr: string;
}

export interface ShellCall {
  command: string;
  /** Where the command runs, when the event says so. */
  cwd: string | undefined;
}

export type Classify = (command: string, cwd: string) => Promise<Classification>;

export interface AgentHook {
  /** `claude`, `cursor`, ... as in `dbguard guard hook <agent>`. */
  agent: string;
  /** The agent's name for people. */
  title: string;
  /**
   * The shell command the event is about, or undefined when the event is for another tool. Throws
   * {@link HookInputError} when the event does not have the documented shape.
   */
  read(event: Record<string, unknown>): ShellCall | undefined;
  /** The answer for a verdict; `text` is the explanation written for the agent and the user. */
  answer(verdict: Verdict, text: string): HookAnswer;
}

export class HookInputError extends Error {}

export const SILENT: HookAnswer = { exitCode: 0, stdout: '', stderr: '' };

export const json = (value: unknown): string => `${JSON.stringify(value)}\n`;

/**
 * Answers one event. Nothing in the event or the environment can approve a command: only the classification of the
 * command text counts. Input that cannot be read, and a classifier that fails, block (fail closed) with the reason.
 */
export async function answerHook(hook: AgentHook, stdin: string, options: { cwd: string; classify: Classify }): Promise<HookAnswer> {
  let call: ShellCall | undefined;
  try {
    call = hook.read(parseEvent(stdin, hook));
  } catch (error) {
    return failClosed(hook, `dbguard could not read the ${hook.title} hook event (${messageOf(error)}), so the command is not allowed to run.`);
  }
  if (!call) return hook.answer('allow', '');
  let classification: Classification;
  try {
    classification = await options.classify(call.command, call.cwd ?? options.cwd);
  } catch (error) {
    return failClosed(hook, `dbguard could not check this command (${messageOf(error)}), so it is not allowed to run. Ask the user to run it themselves.`);
  }
  return hook.answer(classification.verdict, explain(call.command, classification));
}

/** The explanation for the agent: what was found, why, and the safe way to go on. */
export function explain(command: string, { verdict, reasons }: Classification): string {
  const listed = reasons.map((r) => `- ${r.command}: ${r.message} [${r.rule}]`).join('\n');
  if (verdict === 'block') {
    return [
      'dbguard blocked this command because it can destroy database data:',
      listed,
      'Do not retry it in another form. Safe alternative: take a backup with `npx dbguard backup`, then ask the user to run',
      `\`npx dbguard run -- ${command}\` in their own terminal; it backs up first and needs their approval there.`,
      'Setting an environment variable or passing --approve yourself is not approval.',
    ].join('\n');
  }
  if (verdict === 'backup') {
    return ['dbguard: this command changes the database schema:', listed, `Run it as \`npx dbguard run -- ${command}\` so a backup is taken first.`].join('\n');
  }
  return '';
}

function failClosed(hook: AgentHook, reason: string): HookAnswer {
  return { ...hook.answer('block', reason), exitCode: 2, stderr: `${reason}\n` };
}

function parseEvent(stdin: string, hook: AgentHook): Record<string, unknown> {
  let event: unknown;
  try {
    event = JSON.parse(stdin);
  } catch {
    throw new HookInputError(`the input is not JSON; \`dbguard guard hook ${hook.agent}\` reads ${hook.title}'s hook event on stdin`);
  }
  if (!isRecord(event)) throw new HookInputError('the input is not a JSON object');
  return event;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A string field, or undefined when absent; anything else is malformed. */
export function optionalString(object: Record<string, unknown>, field: string): string | undefined {
  const value = object[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HookInputError(`${field} is not a string`);
  return value;
}

export function requiredString(object: Record<string, unknown>, field: string): string {
  const value = optionalString(object, field);
  if (value === undefined) throw new HookInputError(`${field} is missing`);
  return value;
}

/** `tool_input`-like fields: an object, or (Copilot) the same object as a JSON string. */
export function objectField(object: Record<string, unknown>, field: string): Record<string, unknown> {
  let value = object[field];
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new HookInputError(`${field} is a string but not JSON`);
    }
  }
  if (!isRecord(value)) throw new HookInputError(`${field} is missing or not an object`);
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
